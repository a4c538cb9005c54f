"""Yes/no questions the article answers with "no".

A small model asked "Did the government offer subsidies for retraining?" of an article that says
"the government would not offer subsidies for retraining" tends to decline (no sentence says yes)
or to answer "Yes, ..." with the article's negated sentence after it. That sentence is the answer.
A polar question (one that opens with an auxiliary verb: "Did", "Is", "Has" ...) is read as the
statement it asks about; when one of the article's best sentences states nearly all of it
(:data:`POLAR_MATCH` of its content words, every name and number of the question among them) and
negates one of the question's words ("did not find", "showed no significant increase"), the answer
is "No", with that sentence cited: in place of a decline, and of a reply that says "yes". A
sentence that says the opposite word (:data:`rag.opposites.OPPOSITES`: "cuts the defence budget" for "Did the
budget raise the defence budget?", "rejected" for "approve") answers "no" the same way.

A sentence that names nobody ("The company lowered its forecast …", "It kept its dividend
unchanged") is read as about the article's subject, the names its headline gives ("Lumora cuts
1,200 jobs …"; switch ``article_subject``): "Did Lumora raise its profit forecast?" is answered
"No" by it. A sentence naming anyone or anything else is not.

Only "no": a sentence that states the proposition as asked is not read as "yes", since a near-miss
question (another year, another place) matches most of its words too. Nor a question that is itself
negated ("Didn't they ...?"), whose "no" is ambiguous in English.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .acronyms import initials, spelled_out_in
from .affirmed import proposition
from .evidence import ScoredSentence
from .negation import negated_words
from .novelty import novel_facts
from .numbers import swapped_amount
from .opposites import opposed_words
from .text import NAME, NUMBER, TIME, content_words, forms_of, split_sentences
from .types import Paragraph

# Share of the question's content words the sentence must hold: all of four, four of five. "Did the
# government offer loans for retraining?" is not answered by "would not offer subsidies for
# retraining" (three of four).
POLAR_MATCH = 0.8
NEGATION_SCOPE = 2  # content words after "not"/"no" that it negates ("no significant increase")
POLAR_NOTE = "A yes/no question: the article's sentence that says the opposite, quoted."


def names_nobody(sentence: str, question: str = "") -> bool:
    """Whether ``sentence`` names no one and nothing ("It kept its dividend unchanged."), besides
    what ``question`` names too ("In 2023 it paid $45 million … in the United States." for "How
    much did Nexora pay in the US case?": "United States" by its initials)."""
    asked = content_words(question)
    acronyms = set(re.findall(r"\b[A-Z]{2,}\b", question))
    for match in NAME.finditer(sentence.strip()):
        words = match.group(0).split()[0 if match.start() else 1:]  # not the sentence's first word
        name = " ".join(w for w in words if w != "I" and not TIME.fullmatch(w))
        if name and not (content_words(name) <= asked or initials(name) in acronyms):
            return False
    return True


def implied_subject(paragraph: Paragraph, claim: str, question: str, subject: str) -> str:
    """``subject`` (the names an article's headline gives) when the sentence of ``paragraph``
    that holds most of ``claim`` names nobody the question does not: "The company lowered its
    forecast …" says "Lumora lowered its forecast"; ``""`` otherwise."""
    words = content_words(claim)
    best = max(split_sentences(paragraph.text), key=lambda s: len(content_words(s) & words), default="")
    return subject if best and names_nobody(best, question) else ""


def with_subject(
    sentence: ScoredSentence, question: str, subject: Callable[[ScoredSentence], str] | None
) -> str:
    """``sentence``'s text, read with whom ``subject(sentence)`` says it is about (its article's
    subject, the names its headline gives; or its speaker's side) when it names nobody the
    question does not: "It kept its dividend unchanged." is about Lumora."""
    about = subject(sentence) if subject and names_nobody(sentence.text, question) else ""
    return f"{sentence.text} {about}".strip()


def answer_no(
    question: str, sentences: Sequence[ScoredSentence], limit: int = 5, *, opposites: bool = True,
    prefixed: bool = True, subject: Callable[[ScoredSentence], str] | None = None, amounts: bool = True,
) -> ScoredSentence | None:
    """The best of the first ``limit`` ``sentences`` that says the opposite of the yes/no
    ``question``, or ``None``; with ``prefixed``, a word negated by its prefix counts
    ("unaffordable" for "Did he call the demand affordable?"). ``subject(sentence)``: the names a
    sentence that names nobody is about (:func:`rag.article_facts.subject_names`, :func:`with_subject`).
    With ``amounts``, a sentence stating the claim with another amount of the question's unit
    says "no" too ("promised to hire 60 additional officers" for "… hire 80 officers?")."""
    claim = proposition(question)
    if claim is None:
        return None
    words = content_words(claim)
    if not words:
        return None
    for sentence in sentences[:limit]:
        # Negated at the question's own words: "did not find a rise" (find), "showed no
        # significant increase" (increase), "was not involved" (involved); or said the other way
        # ("cuts the defence budget" for "Did the budget raise the defence budget?", ``opposites``).
        # A word counts in its other forms ("injuries" for "injured": stems "injuri", "injur").
        negated = forms_of(words, negated_words(sentence.text, NEGATION_SCOPE, prefixed=prefixed))
        opposed = opposed_words(sentence.text, words) if opposites and not negated else set()
        swapped = amounts and not (negated or opposed) and swapped_amount(claim, sentence.text)
        numbers = content_words(" ".join(NUMBER.findall(claim))) if swapped else set()
        read = with_subject(sentence, question, subject)  # "It kept its dividend unchanged." (Lumora)
        stated = forms_of(words, content_words(read))
        held = len(stated | opposed | negated | numbers) >= POLAR_MATCH * len(words)
        if not (negated or opposed or swapped) or not held:
            continue
        # Every name and number of the question stands in the sentence (the grounding's own test),
        # but the amount the sentence gives otherwise.
        asked = NUMBER.sub(" ", question) if swapped else question
        if not novel_facts(asked, read, spelled_out_in(read)):
            return sentence
    return None
