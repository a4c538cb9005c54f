"""Where a reply's sentence is cited: the paragraph that states its claim, not only one that
matches the question (:class:`rag.grounding.Grounder`, step 4).

A short answer ("Seiler.") goes where the question's matter is (:func:`in_context`) and must
stand there (:func:`stands_together`, :func:`described_in`); a date or number where it is
written (:func:`fact_sources`); a claim about the person or thing the question names where they
are named (:func:`with_subject`); a sentence joining two facts to the few paragraphs that hold
them together (:func:`cover`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from .acronyms import spelled_out_in
from .numbers import NUMBER_WORDS
from .text import DIGITS, NAME, STARTERS, STOP, content_words, strip_markers, written_times
from .types import Paragraph

# A short answer's citation moves to a paragraph holding at least this much more of question +
# answer than the cited one.
CONTEXT_MARGIN = 0.2


NAME_WEIGHT = 0.5  # a paragraph writing all of a sentence's new names whole: added to its score
JOINT_MAX = 3  # a sentence is backed by at most this many paragraphs together
# A question asking for a place ("Where …?", "In which city …?"), and the place a sentence gives
# after a locative preposition ("based in Washington", "at the Kennedy Space Center").
_PLACE_ASKED = re.compile(
    r"^\W*(?:(?:and|so|but)\s+)?where\b"
    r"|\b(?:which|what)\s+(?:city|country|countries|town|state|nation|region|province|capital|village|county"
    r"|island)\b",
    re.IGNORECASE,
)
_PLACE = re.compile(r"\b(?:in|at|near|from|across)\s+(?:the\s+)?((?:[A-Z][\w’'-]*)(?:\s+[A-Z][\w’'-]*)*)")


def best_backing(sentence, question_words, backing, scores, texts, labels, weight: float = NAME_WEIGHT
                 ) -> str:
    """The backing paragraph with the best score (word share plus cosine), plus up to ``weight``
    for writing whole the multi-word names the sentence gives and the question does not ("the
    European Parliament" counts for more than "the Parliament can …")."""
    whole = written_whole(sentence, question_words, texts, weight)
    return max((s for s in scores if s[2] in backing), key=lambda s: s[1] + whole[labels.index(s[2])])[2]


def written_whole(sentence, question_words, texts, weight: float = NAME_WEIGHT) -> list[float]:
    """Per paragraph, ``weight`` times the share of the sentence's multi-word names (those the
    question does not give) that it writes whole."""
    names = [n.lower() for n in names_in(sentence) if " " in n]
    names = [n for n in names if not content_words(n) <= question_words]
    return [weight * sum(n in text.lower() for n in names) / (len(names) or 1) for text in texts]


def cover(new_words: set[str], para_words: Sequence[set[str]], share: float) -> list[int]:
    """The fewest paragraphs (at most JOINT_MAX, each adding at least two of the sentence's words
    the others lack) that together hold ``share`` of ``new_words``; ``[]`` if there are none."""
    chosen: list[int] = []
    covered: set[str] = set()
    while len(chosen) < JOINT_MAX and new_words:
        gain, best = max(((len((new_words & pw) - covered), i) for i, pw in enumerate(para_words)
                          if i not in chosen), default=(0, -1))  # fmt: skip
        if gain < 2:
            return []
        chosen.append(best)
        covered |= new_words & para_words[best]
        if len(chosen) > 1 and len(covered) / len(new_words) >= share:
            return sorted(chosen)
    return []


def in_context(chosen, backing, context, labels, para_words, asked=None, margin=CONTEXT_MARGIN, whole=None
               ) -> list[str]:
    """For a short answer ("Seiler said."), cite where the question's matter is: a name alone is
    "supported" by every paragraph naming the person; the reader needs the one that also holds
    what the question is about (its words, and the question's best cosine to one of its
    sentences, ``asked``). A marker the model wrote is moved only for a paragraph ``margin``
    better; a citation the checks chose goes to the best one. ``whole``: per paragraph, what
    writing the answer's names whole adds (:func:`written_whole`)."""
    asked = asked or [0.0] * len(labels)
    whole = whole or [0.0] * len(labels)
    share = {lab: len(context & para_words[labels.index(lab)]) / len(context) + asked[labels.index(lab)]
             + whole[labels.index(lab)] for lab in backing}  # fmt: skip
    best = max(backing, key=lambda lab: (share[lab], -labels.index(lab)))
    if max((share[lab] for lab in chosen), default=0.0) + margin < share[best] or not margin:
        return [best]
    return chosen


def stands_together(holders, question_words, paragraphs, para_words) -> bool:
    """Whether a short answer ("Kim Du-yeon.") stands where the question's matter is: a paragraph
    holding the answer, or one beside it (a quote runs on from the paragraph naming its speaker),
    holds nearly as much of the question as the paragraph that holds most of it. A name is
    "supported" by every paragraph naming it; that alone does not make it the answer."""
    share = {(p.doc, p.number): len(question_words & words) / len(question_words)
             for p, words in zip(paragraphs, para_words, strict=True)}  # fmt: skip
    near = max(share.get((p.doc, p.number + step), 0.0) for p in holders for step in (-1, 0, 1))
    return near + CONTEXT_MARGIN > max(share.values())


def described_in(sentence, holders, paragraphs, question_words, para_words) -> Paragraph | None:
    """The paragraph holding most of the question, when it calls a short answer's name by a
    description the paragraphs naming it give: "The plant … is the town's largest private
    employer", where ¶1 names "the Halvorsen Chemicals plant" (the answer "Halvorsen
    Chemicals"); "the group" for "Clean Mill River, a group of residents". Else ``None``."""
    share = [len(question_words & words) / len(question_words) for words in para_words]
    best = paragraphs[max(range(len(paragraphs)), key=lambda i: (share[i], -i))]
    if best in holders:
        return None
    nouns: set[str] = set()
    for match in NAME.finditer(sentence):
        name = " ".join(w for w in match.group(0).split() if w.lower() not in STARTERS)
        if not name:
            continue
        for paragraph in holders:
            after = re.finditer(rf"\b{re.escape(name)}(?:[’']s)?\s+([a-z]+)", paragraph.text)
            apposed = re.finditer(rf"\b{re.escape(name)},\s+(?:a|an|the)\s+([a-z-]+)(?:\s+([a-z-]+))?",
                                  paragraph.text)  # fmt: skip
            nouns.update(w for m in (*after, *apposed) for w in m.groups() if w)
    nouns -= STOP
    if any(re.search(rf"\b(?:the|this|that)\s+{re.escape(noun)}\b", best.text, re.I) for noun in nouns):
        return best
    return None


def with_subject(
    sentence, question, chosen, new_words, texts, labels, para_words, scores,
    implied: Callable[[str], str] | None = None,
) -> list[str]:
    """``chosen`` with, first, the paragraph that says the sentence's claim of the person or thing
    the question names, when no cited paragraph names them: "Anna Berg is the director of the
    Swedish Maritime Museum" cites where "the museum's director, Anna Berg" is written, not only
    the paragraph that names the museum. The paragraph names them (by its words or its resolved
    speakers) and holds the most of what the sentence adds. ``implied(label)``: the names a cited
    paragraph's sentence stands for without writing them ("The company …": the article's subject,
    :func:`rag.polar.implied_subject`)."""
    asked = question.lower()
    given = [n for n in names_in(sentence) if n.lower() in asked]
    subjects = [w for w in map(content_words, given) if w]
    if not subjects:
        return list(chosen)
    # Named in words, or as an acronym by its long form ("CSIS": "Center for Strategic and …").
    names = [any(w <= words for w in subjects) or any(map(spelled_out_in(text), given))
             for text, words in zip(texts, para_words, strict=True)]  # fmt: skip
    if any(names[labels.index(lab)] for lab in chosen):
        return list(chosen)
    if implied is not None and any(any(w <= content_words(implied(lab)) for w in subjects) for lab in chosen):
        return list(chosen)
    found = [s for i, s in enumerate(scores) if names[i] and new_words & para_words[i]]
    if not found:
        return list(chosen)
    # A paragraph that writes the name comes before one that only has them speak ("Holm said …").
    written = {lab for lab, text in zip(labels, texts, strict=True)
               if any(w <= content_words(text) for w in subjects) or any(map(spelled_out_in(text), given))}
    best = max(found, key=lambda s: (s[2] in written, s[1]))[2]
    return [best, *(lab for lab in chosen if lab != best)]


def fact_sources(
    sentence, question, chosen, backing, scores, paragraphs: Mapping[str, Paragraph]
) -> list[str]:
    """``chosen`` made to cite the dates and numbers ``sentence`` states where they are written:
    a backing paragraph that holds them all instead, else also the best one holding each; then
    the place a "where" question asks for (:func:`place_source`)."""
    text = {lab: p.text.lower() for lab, p in paragraphs.items()}
    return place_source(sentence, question, _dated_sources(sentence, question, chosen, backing, scores, text),
                        scores, text)  # fmt: skip


def _dated_sources(sentence, question, chosen, backing, scores, text: Mapping[str, str]) -> list[str]:
    """The dates and numbers of :func:`fact_sources` (``text``: each paragraph lower-cased)."""
    asked = question.lower()
    # Written dates and digits only: "may", "march" and "two" are too often other words.
    dates = [m.group(0) for m in written_times(sentence)]
    facts = [f.lower() for f in (*dates, *re.findall(DIGITS, sentence))]
    facts = [f.rstrip(".,") for f in dict.fromkeys(facts) if f.rstrip(".,") not in asked]
    # "4" is written "four" too.
    patterns = [rf"(?<![\w-])(?:{re.escape(fact)}{_spelled(fact)})(?![\w-])" for fact in facts]

    def holds(lab: str, wanted: list[str]) -> bool:
        return all(re.search(pattern, text[lab]) for pattern in wanted)

    if not patterns or any(holds(lab, patterns) for lab in chosen):
        return list(chosen)
    whole = [s for s in scores if s[2] in backing and holds(s[2], patterns)]
    if whole:
        return [max(whole, key=lambda s: s[1])[2]]
    # A paragraph added for one fact must also hold another word the sentence adds: "September"
    # alone is as often another month's matter ("a cut from September's output").
    rest = content_words(sentence) - content_words(question) - content_words(" ".join(facts))
    added = list(chosen)
    for pattern in patterns:
        if any(holds(lab, [pattern]) for lab in added):
            continue
        holders = [s for s in scores if re.search(pattern, text[s[2]]) and rest & content_words(text[s[2]])]
        if holders:
            added.append(max(holders, key=lambda s: s[1])[2])
    return added


def place_source(sentence, question, chosen, scores, text: Mapping[str, str]) -> list[str]:
    """For a question asking where, ``chosen`` made to cite the place the sentence gives where it
    is written: "… the Center for Strategic and International Studies, which is based in
    Washington" goes where "a discussion hosted by the Washington-based CSIS" is, not only where
    the think tank is named. The paragraph writing the place beside at least two of the
    question's words replaces the cited ones when it holds as much of the question as each of
    them (the place is the answer, and the reader checks it there), else joins them."""
    if not _PLACE_ASKED.search(question):
        return list(chosen)
    asked, wanted = question.lower(), content_words(question)
    places = [m.group(1).lower() for m in _PLACE.finditer(strip_markers(sentence))]
    share = {lab: len(wanted & content_words(body)) for lab, body in text.items()}
    cited = list(chosen)
    for place in dict.fromkeys(p for p in places if p not in asked and p.split()[0] not in STARTERS):
        pattern = rf"(?<!\w){re.escape(place)}(?!\w)"
        if any(re.search(pattern, text[lab]) for lab in cited):
            continue
        holders = [s for s in scores if re.search(pattern, text[s[2]]) and share[s[2]] >= 2]
        if not holders:
            continue
        best = max(holders, key=lambda s: (share[s[2]], s[1]))[2]
        cited = [best] if all(share[best] >= share[lab] for lab in cited) else [*cited, best]
    return cited


def _spelled(fact: str) -> str:
    """``"|four"`` for ``"4"``: the number's word as an alternative pattern ("" if it has none)."""
    word = NUMBER_WORDS.get(fact)
    return f"|{word}" if word else ""


def names_in(sentence: str) -> list[str]:
    """The names ``sentence`` gives: runs of capitalised words, less a sentence's opening word
    ("However") and a possessive's ending."""
    found = []
    for match in NAME.finditer(strip_markers(sentence)):
        words = match.group(0).split()
        while words and words[0].lower() in STARTERS:
            words = words[1:]
        name = re.sub(r"[’']s$", "", " ".join(words))
        if name:
            found.append(name)
    return found
