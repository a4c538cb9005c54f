"""Sentence-level evidence: which sentences of the retrieved passages answer the question.

Each sentence gets a score from three signals: cosine similarity between question and
sentence (the sentence vectors saved with the index), IDF-weighted overlap of the question's
content words, and whether the sentence holds the kind of thing asked for (a number for
"how many", a day or date for "when", a name for "who"). Used to pick the paragraphs a
prompt shows and by the extractive backend to pick the answer sentences.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .retriever import Retriever
from .safety import detect_injection
from .text import NAME, NUMBER, STARTERS, TIME, content_words, plain_text, split_sentences
from .types import Paragraph, Passage

if TYPE_CHECKING:
    from .speech import Statement


@dataclass(frozen=True)
class EvidenceConfig:
    """Weights of the sentence score (tuned on the dev set; see README)."""

    lexical_weight: float = 0.5
    type_weight: float = 0.3


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a retrieved paragraph and how well it answers the question."""

    paragraph: Paragraph
    text: str
    score: float
    cosine: float
    lexical: float
    type_match: bool | None
    passage_rank: int


_KINDS = (
    (
        "number",
        re.compile(
            r"\bhow\s+(?:many|much|far|long|big|large)\b"
            r"|\bwhat\s+(?:number|percentage|share|amount|range|distance)\b"
        ),
    ),
    (
        "time",
        re.compile(r"\bwhen\b|\bwhat\s+(?:exact\s+)?(?:day|date|month|year|time)\b|\bwhich\s+(?:day|date|month|year)\b"),
    ),
    (
        "person",
        re.compile(
            r"(?:^|[,;:]\s*)who\b|\bwhich\s+(?:expert|analyst|official|person|fellow|scholar|researcher)s?\b"
        ),
    ),
)


def expected_type(question: str) -> str | None:
    """``"number"``, ``"time"``, ``"person"`` or ``None``, from the question's wording.

    The first interrogative decides: "Who argued that … signals how much a country values …?"
    asks for a person, not a number.
    """
    q = question.lower().strip()
    if re.match(r"\s*who\s+(?:is|was|are|were)\s+[a-z]+(?:\s+[a-z-]+)?\s*\??$", q):
        return None  # "who is Hong Min?" asks for a description
    hits = [(m.start(), kind) for kind, pattern in _KINDS if (m := pattern.search(q))]
    return min(hits)[1] if hits else None


def answers_type(kind: str | None, sentence: str, question: str, people: Sequence[str] = ()) -> bool | None:
    """Whether ``sentence`` holds something of ``kind`` that the question does not already say.

    "In which month did Putin go?" is answered by "in June"; "On what date in June?" is not.
    ``None`` when the question asks for no particular kind of thing.
    """
    if kind is None:
        return None
    asked = question.lower()
    if kind == "number":
        found = [m.group(0).lower() for m in NUMBER.finditer(sentence)]
    elif kind == "time":
        # Month names written small are words ("may be implemented", "march on").
        found = [m.group(0).lower() for m in TIME.finditer(sentence)
                 if not m.group(0).islower() or m.group(0) == "yesterday"]  # fmt: skip
    else:
        # A person of the corpus (its speakers) whom the question does not name. Organisations
        # and countries answer "who" too ("NATO and the United States confirmed"), so a
        # sentence without a person is not ruled out: no penalty, only no bonus.
        named = [p for p in people if re.search(rf"\b{re.escape(p)}\b", sentence)]
        return True if any(p.lower() not in asked for p in named) else None
    return any(f not in asked for f in found)


def unknown_names(
    question: str,
    vocabulary: set[str],
    *,
    all_names: bool = False,
    spelled: Callable[[str], bool] | None = None,
) -> list[str]:
    """Capitalised names in ``question`` that the corpus never mentions (fuzzy, for typos).

    The article cannot say what someone it never names said or did. ``spelled(word)`` tells
    whether the corpus has a word in another form (an acronym spelled out, see
    :meth:`rag.acronyms.AcronymMap.knows`). ``all_names``: every name checked, known or not.
    """
    missing, checked = [], []
    for match in NAME.finditer(question):
        words = re.split(r"[\s-]+", match.group(0))
        before = question[: match.start()].rstrip()
        if not before or before[-1] in '.?!:;"“(':
            words = words[1:]  # a sentence's first word is capitalised anyway
        words = [w for w in words if plain_text(w).lower().strip("'s") not in STARTERS]
        for word in words:
            token = plain_text(re.sub(r"[’']s$", "", word).lower())
            if len(token) < 3:
                continue
            checked.append(word)
            if not (known_word(token, vocabulary) or (spelled is not None and spelled(word))):
                missing.append(word)
    return checked if all_names else missing


def known_word(word: str, vocabulary: set[str]) -> bool:
    """Whether the corpus has ``word`` (lower-cased), or a word close to it (a typo, a plural),
    or another form of it: a word whose first letters it shares, at least four and 0.8 of the
    shorter word's ("Japanese" for "Japan", "Chinese" for "China", "German" for "Germany")."""
    import difflib

    if word in vocabulary or difflib.get_close_matches(word, vocabulary, n=1, cutoff=0.8):
        return True
    return any(_same_opening(word, other) for other in vocabulary if other[:4] == word[:4])


def _same_opening(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` open with the same letters, at least four and 0.8 of the shorter
    ("chinese" and "china"; :func:`rag.text.same_stem` asks more: one a prefix of the other)."""
    shared = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return shared >= 4 and shared >= 0.8 * min(len(a), len(b))


# A question about what someone says, thinks or warns (general English wording).
_ASKS_WHAT_SAID = re.compile(
    r"\b(?:say|says|said|saying|tell|tells|told|warn\w*|argu\w*|note|noted|notes|claim\w*|think|thinks|thinking|"
    r"thought|believ\w*|describ\w*|call|called|calls|add|added|adds|suggest\w*|predict\w*|expect\w*|"
    r"worr\w*|fear\w*|stress\w*|emphasi[sz]\w*|point\w*\s+out|accord\w*|quot\w*|views?|opinions?|"
    r"comment\w*|explain\w*|recall\w*|insist\w*|admit\w*|urg\w*|ask\w*|repl\w*|respond\w*)\b",
    re.IGNORECASE,
)


class EvidenceScorer:
    """Scores the sentences of retrieved passages against a question, for one retriever."""

    def __init__(
        self,
        retriever: Retriever,
        config: EvidenceConfig | None = None,
        people: Sequence[str] = (),
        statements: Iterable[Statement] = (),
    ) -> None:
        """``statements``: who says what (:mod:`rag.attribution`); a sentence that leaves its
        speaker to a pronoun or an earlier paragraph ("He warned that …") matches a question
        naming them ("What did Tom Reyes warn about?") as if it named them too."""
        self.retriever = retriever
        self.people = list(people)
        self._spoken: dict[tuple[str, int], list[tuple[int, int, tuple[str, ...]]]] = {}
        self._voiced: dict[str, np.ndarray] = {}  # "Tom Reyes: He warned …" → its vector
        for st in statements:
            names = st.speakers or ((st.speaker,) if st.speaker else ())
            if names:
                self._spoken.setdefault((st.doc, st.paragraph), []).append((st.start, st.end, names))
        self.config = config or EvidenceConfig()
        docs = [content_words(p.text) for d in retriever.corpus.documents for p in d.paragraphs]
        df = Counter(w for words in docs for w in words)
        n = max(len(docs), 1)
        self._idf = {w: math.log(1 + n / c) for w, c in df.items()}
        self._default_idf = math.log(1 + n)
        documents = retriever.corpus.documents
        texts = [p.text for d in documents for p in d.paragraphs]
        texts += [d.title for d in documents] + [d.caption or "" for d in documents]
        # The byline and the header name people and outlets too ("Who is Amara Osei?": the author).
        texts += [" ".join(filter(None, (d.subtitle, d.author, d.publisher))) for d in documents]
        self.vocabulary = {w for t in texts for w in re.findall(r"[a-z0-9]+", plain_text(t.lower()))}
        self._vectors: dict[tuple[str, int], list[tuple[str, np.ndarray]]] = {}
        index = retriever.indexes.get("sentences")
        for i, sentence in enumerate(retriever.sentences):
            vector = index.reconstruct(i) if index is not None else None
            if vector is not None:
                self._vectors.setdefault((sentence.doc, sentence.paragraph), []).append(
                    (sentence.text, vector)
                )

    def sentence_vectors(self) -> Iterator[tuple[str, np.ndarray]]:
        """Every indexed sentence's text and vector."""
        for stored in self._vectors.values():
            yield from stored

    def paragraphs(self, passages: Sequence[Passage]) -> list[tuple[Paragraph, int]]:
        """The paragraphs of ``passages`` in rank order, each with its passage rank."""
        seen: dict[tuple[str, int], int] = {}
        for rank, passage in enumerate(passages):
            for number in passage.paragraphs:
                seen.setdefault((passage.doc, number), rank)
        return [(self.retriever.paragraph(doc, n), rank) for (doc, n), rank in seen.items()]

    def score(self, question: str, passages: Sequence[Passage]) -> list[ScoredSentence]:
        """Every sentence of the passages' paragraphs, best first."""
        paragraphs = self.paragraphs(passages)
        if not paragraphs:
            return []
        units: list[tuple[Paragraph, str, np.ndarray | None, int]] = []
        for paragraph, rank in paragraphs:
            stored = self._vectors.get((paragraph.doc, paragraph.number))
            if stored:
                units.extend((paragraph, text, vec, rank) for text, vec in stored)
            else:
                units.extend((paragraph, text, None, rank) for text in split_sentences(paragraph.text))
        missing = [i for i, u in enumerate(units) if u[2] is None]
        if missing:
            fresh = self.retriever.embedder.encode([units[i][1] for i in missing])
            for j, i in enumerate(missing):
                units[i] = (units[i][0], units[i][1], fresh[j], units[i][3])
        # Asked what someone says, a sentence that leaves its speaker unnamed is also matched
        # with the speaker written in. (Asked who someone is, their own words are no answer.)
        asks_what_said = bool(_ASKS_WHAT_SAID.search(question))
        voiced = {i: f"{', '.join(names)}: {u[1]}" for i, u in enumerate(units)
                  if asks_what_said and (names := self.speakers_of(u[0], u[1]))}  # fmt: skip
        fresh_voiced = [t for t in dict.fromkeys(voiced.values()) if t not in self._voiced]
        if fresh_voiced:
            self._voiced.update(zip(fresh_voiced, self.retriever.embedder.encode(fresh_voiced), strict=True))
        qvec = self.retriever.embedder.encode_query(question)
        qwords = content_words(question)
        qweight = sum(self._idf.get(w, self._default_idf) for w in qwords) or 1.0
        kind = expected_type(question)
        scored = []
        for i, (paragraph, text, vec, rank) in enumerate(units):
            if detect_injection(text):
                continue  # instructions planted in an article are never evidence
            cosine = float(np.dot(qvec, vec))
            if i in voiced:
                cosine = max(cosine, float(np.dot(qvec, self._voiced[voiced[i]])))
            overlap = qwords & content_words(voiced.get(i, text))
            lexical = sum(self._idf.get(w, self._default_idf) for w in overlap) / qweight
            match = answers_type(kind, text, question, self.people)
            bonus = 0.0 if match is None else (self.config.type_weight if match else -self.config.type_weight)
            score = cosine + self.config.lexical_weight * lexical + bonus
            scored.append(ScoredSentence(paragraph, text, score, cosine, lexical, match, rank))
        scored.sort(key=lambda s: -s.score)
        return scored

    def speakers_of(self, paragraph: Paragraph, sentence: str) -> list[str]:
        """Who speaks in ``sentence`` of ``paragraph`` by the attribution data, when it does not
        name them itself."""
        spans = self._spoken.get((paragraph.doc, paragraph.number))
        start = paragraph.text.find(sentence) if spans else -1
        if start < 0:
            return []
        end = start + len(sentence)
        names = (n for a, b, found in spans if a < end and b > start for n in found)
        return [n for n in dict.fromkeys(names) if n not in sentence]

    def snippets(self, scored: Sequence[ScoredSentence], max_sentences: int) -> list[tuple[Paragraph, str]]:
        """The best ``max_sentences`` sentences, grouped by paragraph (best paragraph first),
        in reading order within each paragraph: a short, focused context for a small model."""
        top = list(scored[:max_sentences])
        groups: dict[tuple[str, int], list[ScoredSentence]] = {}
        for s in top:
            groups.setdefault((s.paragraph.doc, s.paragraph.number), []).append(s)
        out = []
        for members in groups.values():
            paragraph = members[0].paragraph
            members.sort(key=lambda s: paragraph.text.find(s.text))
            out.append((paragraph, " … ".join(s.text for s in members)))
        return out

    def rank_paragraphs(self, scored: Sequence[ScoredSentence]) -> list[Paragraph]:
        """Paragraphs ordered by their best sentence."""
        order: dict[tuple[str, int], Paragraph] = {}
        for s in scored:
            order.setdefault((s.paragraph.doc, s.paragraph.number), s.paragraph)
        return list(order.values())
