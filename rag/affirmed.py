"""A "yes" the article states, and one it does not.

A small model answers "yes" to most yes/no questions whose words it finds nearby: "Did the health
secretary mediate the talks?" gets "Yes, the health secretary mediated the talks." where the
article says she *offered* to mediate and the sides agreed without her; "Were the emergency
departments closed?" gets "Yes, emergency departments stayed open." The grounding's usual test,
that what a sentence *adds* to the question is in its paragraph, cannot see this: a "yes" adds
nothing, the question's own words are its claim. So for a "yes":

* every word of the question's statement must stand in the paragraphs the "yes" cites, or a word
  of the same meaning (two words alone at cosine :data:`SAME_MEANING`, never a word's opposite:
  "open" is not "closed"), or, for an acronym, its long form (:func:`unheld_words`, switch
  ``yes_read``); a "yes" failing it is removed, and the reader gets the article's "no" if it says
  one (:mod:`rag.polar`) or the decline with the closest sentence. Only a name or the subject's
  nouns may stand in another paragraph (switch ``yes_objects``): "Did the army send boats?" is
  not answered "yes" by a paragraph sending helicopters because another has a boat capsize;
* a reply that states the question's statement without saying "yes" ("The study showed that
  walking prevented dementia." for "Did the study prove that walking prevents dementia?") is a
  "yes" too, and read the same way (:func:`implied_yes`, switch ``implied_yes``);
* a "yes" that only repeats the question ("Yes, the union accepted the contract.") stands when a
  sentence of those paragraphs states it: the claim's words, in the claim's order, each within
  :data:`STATED_GAP` words of the one before, none of them negated or said the other way
  (:func:`stated_in`, switch ``yes_stated``). Without it such a "yes" was removed as saying nothing
  and the reader got "The article does not say" about the article's own sentence.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from .negation import negated_words
from .numbers import written_numbers
from .opposites import OPPOSITES, SAME_CHANGE
from .text import (
    TOKEN,
    content_stems,
    content_words,
    forms_of,
    main_question,
    plain_text,
    same_stem,
    split_sentences,
)

AUXILIARIES = frozenset(
    "did does do is are was were has have had will would can could should may might must shall".split()
)
_OPENERS = frozenset("and so but then also".split())
IMPLIED_MATCH = 0.8  # share of the question's content words a reply states to be an unsaid "yes"
SAME_MEANING = 0.7  # two words encoded alone: "currency" and "dollar" 0.77, and "inflation" 0.57
STATED_GAP = 2  # content words allowed between two of the claim's ("their union quickly accepted")
MAX_WORDS = 300  # of the cited paragraphs, compared for a word of the same meaning
_NOUNS = frozenset({"NOUN", "PROPN", "NUM", "PRON"})
_SUBJECTS = frozenset({"nsubj", "nsubjpass", "csubj", "expl"})
# Determiners that ask only whether there is one: "Will another team observe it?" is answered by
# "a second team would observe it", "Did any regulator act?" by the regulator that did.
_SOME = frozenset({"another", "any", "some"})
# Verbs whose "to …" did not happen by their saying so: "offered to mediate", "plans to close".
_INTENT = frozenset(
    "offer plan hope want wish threaten promise propose try seek aim intend attempt vow pledge "
    "consider".split()
)


def proposition(question: str) -> str | None:
    """The statement a yes/no question asks about ("Did the union strike?" → "the union strike"),
    or ``None`` for any other question and for a negated one."""
    words = question.strip().split()
    if words and words[0].casefold().strip(",") in _OPENERS:  # "And did they ...?" (a follow-up)
        words = words[1:]
    if len(words) < 3 or words[0].casefold() not in AUXILIARIES or negated_words(question):
        return None
    return " ".join(words[1:]).rstrip(" ?")


@functools.lru_cache(maxsize=512)
def _lemmas(text: str) -> tuple[tuple[str, str, bool, bool], ...]:
    """Each word of ``text`` with its lemma ("sank" → "sink", "found" → "find"), whether it is
    a noun, a name or a number, and whether it is a name or a noun of the subject ("the ship" of
    "Did the ship sink?", not "boats" of "Did the army send boats?"), by the packaged spaCy
    pipeline the attribution step loads; each word its own lemma, none a noun, without it.
    Adverbs are left out: "immediately" is said as "the same day"; so are "another", "any" and
    "some" (:data:`_SOME`), and what someone only meant to do: "mediate" in "offered to mediate"
    (:data:`_INTENT`), which says no "yes" to "Did she mediate?"."""
    from .attribution import parse

    doc = parse(plain_text(text))
    if doc is None:
        return tuple((w, w, False, False) for w in TOKEN.findall(plain_text(text)))
    # With no subject found (a statement misread: "the ship sink"), every noun may stand around.
    subject = {x.i for t in doc if t.dep_ in _SUBJECTS for x in t.subtree} or {t.i for t in doc}
    return tuple(
        (t.text, t.lemma_, t.pos_ in _NOUNS, t.pos_ == "PROPN" or (t.pos_ in _NOUNS and t.i in subject))
        for t in doc
        if TOKEN.match(t.text) and t.pos_ != "ADV" and not (t.pos_ == "DET" and t.lower_ in _SOME)
        and not (t.dep_ == "xcomp" and t.head.lemma_ in _INTENT)
    )


def unheld_words(
    statement: str,
    texts: Sequence[str],
    encode: Callable[[list[str]], np.ndarray] | None = None,
    spelled: Callable[[str], bool] | None = None,
    context: Sequence[str] = (),
    objects: bool = True,
    only_nouns: bool = False,
) -> list[str]:
    """The words of ``statement`` (a yes/no question's, "the health secretary mediate the
    talks") that ``texts`` hold neither as written or by lemma ("sank" holds "sink"), nor as a
    word of the same meaning (with an ``encode``r), nor, for an acronym, by its long form
    (``spelled``). A name or a noun of the subject may stand in ``context`` instead (the
    paragraphs around): the cited one may call "the ship" "the vessel"; what is said of it must
    be cited, the things it names too ("boats" of "Did the army send boats?", where the cited
    paragraph sends helicopters and another has a boat capsize). Without ``objects`` any noun
    may stand around. With ``only_nouns``, only the nouns are looked for (what is counted, not
    what it did: "absences" for "absences drop", which "fell" says too)."""
    pairs = [pair for text in texts for pair in _lemmas(text)]
    held = _held(pairs)
    around = held | _held([pair for text in context for pair in _lemmas(text)])
    missing: list[str] = []
    numbers = set().union(*map(written_numbers, texts))  # "Eleven of the schools" holds "11"
    for token, lemma, noun, subject in _lemmas(statement):
        if only_nouns and not noun:
            continue
        stems = content_words(token)
        pool = around if (subject if objects else noun) else held
        forms = (stems, content_words(lemma))
        if not stems or any(one and forms_of(one, pool) == one for one in forms):
            continue
        if any(SAME_CHANGE.get(w, frozenset()) & pool for w in stems) or written_numbers(token) & numbers:
            continue  # "drop" where "fell" is written
        if spelled is not None and token.isupper() and spelled(token):
            continue
        missing.append(token)
    if not missing or encode is None:
        return missing
    found = list(dict.fromkeys(word for word, *_ in pairs if len(word) > 2))[:MAX_WORDS]
    if not found:
        return missing
    vectors = encode([t.lower() for t in [*missing, *found]])
    sims = vectors[: len(missing)] @ vectors[len(missing) :].T
    out = []
    for i, token in enumerate(missing):
        opposite = OPPOSITES.get(next(iter(content_words(token)), ""), frozenset())
        same = (sims[i, j] >= SAME_MEANING and not content_words(t) & opposite for j, t in enumerate(found))
        if not any(same):
            out.append(token)
    return out


def held_by_lemma(words: set[str], question: str, text: str) -> set[str]:
    """Of ``words`` (stems of ``question``'s words), those ``text`` holds as written or by lemma:
    "paid" holds "pay" ("How much did it pay?"), "found" holds "find"."""
    pool = content_words(text) | _held(_lemmas(text))
    lemma = {w: content_words(lem) for token, lem, *_ in _lemmas(question) for w in content_words(token)}
    return {w for w in words if w in pool or lemma.get(w, set()) & pool}


def _held(pairs: Sequence[tuple[str, str, bool, bool]]) -> set[str]:
    """The stems of the words and of their lemmas."""
    return {w for word, lemma, *_ in pairs for w in content_words(word) | content_words(lemma)}


def stated_in(claim: str, texts: Sequence[str], gap: int = STATED_GAP) -> str:
    """The sentence of ``texts`` that states ``claim`` ("the union accepted the contract": "… after
    their union accepted a contract that …"): its content words in order, each at most ``gap``
    content words after the one before, none negated there nor said the other way; ``""`` if
    none does."""
    want = content_stems(claim)
    if len(want) < 2:
        return ""
    for text in texts:
        for sentence in split_sentences(text):
            seq = content_stems(sentence)
            if _in_order(want, seq, gap) and not _reversed(want, sentence, seq):
                return sentence
    return ""


def _in_order(want: list[str], seq: list[str], gap: int) -> bool:
    """Whether ``want`` is a subsequence of ``seq`` with at most ``gap`` items between neighbours."""
    for start, word in enumerate(seq):
        if not same_stem(word, want[0]):
            continue
        at, ok = start, True
        for nxt in want[1:]:
            window = [i for i in range(at + 1, min(len(seq), at + 2 + gap)) if same_stem(seq[i], nxt)]
            if not window:
                ok = False
                break
            at = window[0]
        if ok:
            return True
    return False


def _reversed(want: list[str], sentence: str, seq: list[str]) -> bool:
    """Whether ``sentence`` negates a word of the claim or holds an opposite of one."""
    if negated_words(sentence, 2, prefixed=True) & set(want):
        return True
    return any(OPPOSITES.get(w, frozenset()) & set(seq) for w in want)


def implied_yes(sentence: str, question: str) -> bool:
    """Whether ``sentence`` answers the yes/no ``question`` "yes" without saying it: nothing in it
    negated, and it states :data:`IMPLIED_MATCH` of the question's content words (in any of their
    forms). A negated question ("Didn't they …?") has no plain "yes" (:func:`proposition`)."""
    claim = proposition(main_question(question))
    if claim is None or negated_words(sentence, implicit=True):
        return False
    words = content_words(claim)
    return bool(words) and len(forms_of(words, content_words(sentence))) >= IMPLIED_MATCH * len(words)


def states_answer(reply: str, question: str, texts: Sequence[str]) -> bool:
    """Whether a sentence of ``reply`` holds every content word of ``question`` and is stated in
    ``texts`` (:func:`stated_in`): "Paulo Esteves testified against Camargo …" for "Who testified
    against Camargo?", where the article writes "… Paulo Esteves, who testified against Camargo …"."""
    asked = content_words(main_question(question))
    return bool(asked) and any(
        forms_of(asked, content_words(sentence)) == asked and stated_in(sentence, texts)
        for sentence in split_sentences(plain_text(reply))
    )
