"""Yes/no questions the article answers with "no".

A small model asked "Did the government offer subsidies for retraining?" of an article that says
"the government would not offer subsidies for retraining" tends to decline (no sentence says yes)
or to answer "Yes, ..." with the article's negated sentence after it. That sentence is the answer.
A polar question (one that opens with an auxiliary verb: "Did", "Is", "Has" ...) is read as the
statement it asks about; when one of the article's best sentences states nearly all of it
(:data:`POLAR_MATCH` of its content words, every name and number of the question among them) and
negates one of the question's words ("did not find", "showed no significant increase"), the answer
is "No", with that sentence cited: in place of a decline, and of a reply that says "yes".

Only "no": a sentence that states the proposition as asked is not read as "yes", since a near-miss
question (another year, another place) matches most of its words too. Nor a question that is itself
negated ("Didn't they ...?"), whose "no" is ambiguous in English.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .acronyms import initials
from .evidence import ScoredSentence
from .grounding import negated_words, novel_facts
from .text import content_words

AUXILIARIES = frozenset(
    "did does do is are was were has have had will would can could should may might must shall".split()
)
# Share of the question's content words the sentence must hold: all of four, four of five. "Did the
# government offer loans for retraining?" is not answered by "would not offer subsidies for
# retraining" (three of four).
POLAR_MATCH = 0.8
NEGATION_SCOPE = 2  # content words after "not"/"no" that it negates ("no significant increase")
POLAR_NOTE = "A yes/no question: the article's sentence that says the opposite, quoted."
_YES = re.compile(r"\s*yes\b", re.IGNORECASE)
_OPENERS = frozenset("and so but then also".split())
_WORD = re.compile(r"[A-Za-z0-9][\w’'-]*")


def says_yes(reply: str) -> bool:
    """Whether a reply opens with "yes" ("Yes, children under five showed no increase.")."""
    return bool(_YES.match(reply))


def proposition(question: str) -> str | None:
    """The statement a yes/no question asks about ("Did the union strike?" → "the union strike"),
    or ``None`` for any other question and for a negated one."""
    words = question.strip().split()
    if words and words[0].casefold().strip(",") in _OPENERS:  # "And did they ...?" (a follow-up)
        words = words[1:]
    if len(words) < 3 or words[0].casefold() not in AUXILIARIES or negated_words(question):
        return None
    return " ".join(words[1:]).rstrip(" ?")


def spelled_out_in(sentence: str) -> Callable[[str], bool]:
    """Whether an acronym stands in ``sentence`` by its long form ("NPT": "the Nuclear
    Non-Proliferation Treaty"), as :func:`~rag.grounding.novel_facts` asks."""
    found = initials(" ".join(w for w in _WORD.findall(sentence) if w[0].isupper()))
    return lambda name: len(name) >= 3 and name.isupper() and name in found


def answer_no(question: str, sentences: Sequence[ScoredSentence], limit: int = 5) -> ScoredSentence | None:
    """The best of the first ``limit`` ``sentences`` that says the opposite of the yes/no
    ``question``, or ``None``."""
    claim = proposition(question)
    if claim is None:
        return None
    words = content_words(claim)
    if not words:
        return None
    for sentence in sentences[:limit]:
        held = len(words & content_words(sentence.text)) >= POLAR_MATCH * len(words)
        # Negated at the question's own words: "did not find a rise" (find), "showed no
        # significant increase" (increase), "was not involved" (involved).
        negated = negated_words(sentence.text, NEGATION_SCOPE) & words
        # Every name and number of the question stands in the sentence (the grounding's own test).
        if held and negated and not novel_facts(question, sentence.text, spelled_out_in(sentence.text)):
            return sentence
    return None
