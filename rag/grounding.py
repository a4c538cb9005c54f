"""Citations and support: every sentence of a reply must be backed by a retrieved paragraph.

Steps, applied to whatever the model wrote:

1. parse the paragraph markers (``[¶7]``, ``[¶3, ¶4]``, ``[A¶2]``; also sloppy forms such as
   ``[7]`` or ``(¶7)``) and drop markers for paragraphs that were not retrieved;
2. score each sentence against each retrieved paragraph: the share of its content words found
   in the paragraph, and the best cosine similarity to the paragraph's sentences;
3. a sentence that names a number or a name that appears in no retrieved paragraph (nor in the
   question) is unsupported, whatever else it shares; so is one below both thresholds;
4. a supported sentence keeps the markers of paragraphs that support it, and gets one (the
   best-supporting paragraph) when it has none; unsupported sentences are removed and listed.

A sentence saying the article does not cover something is kept as a refusal, not a claim.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import Stemmer

from .people import named_people, quote_speaker, speaker
from .text import split_sentences
from .types import Citation, Paragraph

_STEM = Stemmer.Stemmer("english")
_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as into about over after before than then so
    is are was were be been being am do does did doing have has had having will would shall should can
    could may might must it its it's this that these those there here what which who whom whose when where
    why how i you he she we they me him her us them my your his our their not no nor also just only very
    more most such both each other any all some said says say according article text paragraph paragraphs
    one two""".split()
)
# Second halves of compounds whose parts read as separate words ("Seoul-based", "US-led").
_COMPOUND_TAILS = frozenset(
    """based led backed run owned made funded sponsored controlled affiliated linked born bound
    armed style related""".split()
)
_NUMBER_WORDS = (
    "hundred|thousand|million|billion|dozen|dozens|hundreds|thousands|millions|percent|"
    "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|sixty|"
    "seventy|eighty|ninety"
)
# Days, months and years: with numbers, the facts a reply must cite where they are written.
TIME = re.compile(
    r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|May|June|"
    r"July|August|September|October|November|December|yesterday|(?:19|20)\d\d)\b",
    re.I,
)
# A number standing alone ("16 kilometers"), not one inside a name ("Hwasong-16Na").
_DIGITS = r"(?<![\w-])\d[\d,.]*(?![\w-])"
_NUMBER = re.compile(rf"{_DIGITS}|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*")
# Capitalised words that open sentences without naming anything.
_STARTERS = frozenset(
    """yes no however also additionally furthermore overall according sure okay well therefore thus
    meanwhile moreover although while because since based both either neither in on at for as
    yet still instead rather specifically notably""".split()
)
_REFUSAL = re.compile(
    r"\b(?:does\s+not|doesn'?t|did\s+not|didn'?t|do\s+not|don'?t)\s+(?:say|mention|state|specify|provide|"
    r"include|cover|contain|report|give|discuss|address|answer|tell|identify|name|disclose)\b"
    r"|\bnot\s+(?:mentioned|stated|specified|provided|covered|given|reported|included|disclosed|addressed)\b"
    r"|\bno\s+(?:information|mention|details?|data)\b|\bcannot\s+(?:find|answer|determine)\b"
    r"|\bcan'?t\s+(?:find|answer|determine)\b|\bnot\s+(?:in|from)\s+the\s+(?:article|text|paragraphs)\b"
    r"|\b(?:is|are|remains?)\s+(?:unknown|unclear)\b",
    re.IGNORECASE,
)
_MARKER_GROUP = re.compile(r"[\[(]\s*((?:[A-Z]?\s*¶\s*\d+|(?:para(?:graph)?s?\.?|p\.)\s*\d+|\d+)"
                           r"(?:\s*(?:[,;&–-]|and)\s*(?:[A-Z]?\s*¶?\s*\d+))*)\s*[\])]")  # fmt: skip
_BARE_MARKER = re.compile(r"(?<![\[\w])([A-Z]?)¶\s*(\d+)")
_ONE = re.compile(r"([A-Z]?)\s*¶?\s*(\d+)")
# A sentence adding at most this many content words to the question is a short answer (a name,
# a date); its citation goes to the backing paragraph that also holds the question's matter
# when that one shares at least CONTEXT_MARGIN more of question + answer than the cited one.
SHORT_ANSWER_WORDS = 3
CONTEXT_MARGIN = 0.2
# "Who said X?": X is located in the paragraphs sharing at least MATTER_SHARE of the question's
# words (and within MATTER_SLACK of the best one); the person named must be named there.
MATTER_SHARE = 0.5
MATTER_SLACK = 0.1
# A list sentence may be backed jointly by up to JOINT_MAX paragraphs, each adding at least
# JOINT_MIN_GAIN of its words ("Cha, Kim Du-yeon, Seiler and Hong are quoted").
JOINT_MAX = 4
JOINT_MIN_GAIN = 1
# A supported sentence this much less relevant to the question than the best one (share of the
# question's words + cosine similarity) is left out as not addressing it (calibrated on dev).
OFF_QUESTION_MARGIN = 0.5
# A claim sharing at least this much of its content words with one source sentence must not
# reverse that sentence's polarity ("is recognized" against "is not recognized").
POLARITY_MATCH = 0.7


@dataclass(frozen=True)
class Thresholds:
    """When a sentence counts as supported by a paragraph (calibrated on the dev set, README)."""

    lexical: float = 0.5
    semantic: float = 0.62
    lexical_floor: float = 0.25


@dataclass(frozen=True)
class GroundingChecks:
    """Switches of the checks a reply's sentences go through (each has an ablation row).

    ``facts``: numbers and names must occur in the retrieved text. ``people``: a person named
    must be named where the claim is backed (and, for "who said", where the question's matter
    is; the speaker the article gives must not differ). ``polarity``: a claim must not reverse
    the sentence it copies. ``restates``: a sentence that only repeats the question is no answer.
    ``joint``: a sentence may be backed by two, or (a list) up to four paragraphs together.
    ``off_question``: a supported sentence far less relevant than the best one is left out.
    ``placement``: a short answer is cited where the question's matter is, a date or number
    where it is written.
    """

    facts: bool = True
    people: bool = True
    polarity: bool = True
    restates: bool = True
    joint: bool = True
    off_question: bool = True
    placement: bool = True


@dataclass
class SourceMap:
    """The paragraphs a reply may cite, by the label the prompt gave them (``¶7`` or ``A¶7``)."""

    paragraphs: dict[str, Paragraph] = field(default_factory=dict)

    @classmethod
    def build(cls, paragraphs: Sequence[Paragraph]) -> SourceMap:
        docs = list(dict.fromkeys(p.doc for p in paragraphs))
        prefix = (
            {d: "" for d in docs} if len(docs) == 1 else {d: chr(ord("A") + i) for i, d in enumerate(docs)}
        )
        return cls({f"{prefix[p.doc]}¶{p.number}": p for p in paragraphs})

    def label(self, paragraph: Paragraph) -> str:
        for label, p in self.paragraphs.items():
            if p.doc == paragraph.doc and p.number == paragraph.number:
                return label
        raise KeyError(paragraph)

    def resolve(self, letter: str, number: int) -> str | None:
        """The label for a marker as written, or ``None`` if it names no retrieved paragraph."""
        label = f"{letter}¶{number}"
        if label in self.paragraphs:
            return label
        if not letter:  # "[¶3]" in a multi-article answer: accept when only one article has ¶3
            matches = [lab for lab in self.paragraphs if lab.endswith(f"¶{number}")]
            return matches[0] if len(matches) == 1 else None
        return None


def find_markers(text: str) -> list[tuple[int, int, list[tuple[str, int]]]]:
    """Every citation marker in ``text``: ``(start, end, [(letter, number), ...])``."""
    found = []
    for match in _MARKER_GROUP.finditer(text):
        inner = match.group(1)
        if "¶" not in inner and not re.search(r"para|p\.", inner, re.I) and match.group(0)[0] == "(":
            continue  # "(2024)" is not a marker
        refs = [(m.group(1), int(m.group(2))) for m in _ONE.finditer(inner)]
        found.append((match.start(), match.end(), refs))
    taken = [(s, e) for s, e, _ in found]
    for match in _BARE_MARKER.finditer(text):
        if not any(s <= match.start() < e for s, e in taken):
            found.append((match.start(), match.end(), [(match.group(1), int(match.group(2)))]))
    return sorted(found)


def strip_markers(text: str) -> str:
    """``text`` without citation markers."""
    while found := find_markers(text):  # removing "[¶3]" from "¶ [¶3] 12" leaves a new "¶ 12"
        out, last = [], 0
        for start, end, _ in found:
            out.append(text[last:start])
            last = end
        out.append(text[last:])
        text = re.sub(r"\s{2,}", " ", "".join(out))
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()


def is_refusal(sentence: str) -> bool:
    """True for a sentence saying the article does not give the answer."""
    return bool(_REFUSAL.search(sentence))


def content_words(text: str) -> set[str]:
    """Stemmed content words (stop words and markers removed).

    A compound such as "Washington-based" or "nuclear-weapon" counts whole and by its parts, so
    it backs "based in Washington"; names ("Kim Jong-un") stay whole (see :func:`_splits`).
    """
    found = re.findall(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*", strip_markers(text).replace("’", "'"))
    tokens = [t.lower() for t in found]
    tokens += [part.lower() for t in found if _splits(t) for part in t.split("-")]
    return {_STEM.stemWord(t) for t in tokens if t not in _STOP and len(t) > 1}


def _splits(token: str) -> bool:
    """Whether a hyphenated word also counts by its parts: a common compound ("nuclear-weapon",
    "Washington-based", "Korea-Russia"), not a name ("Jong-un", "Du-yeon") or a model
    ("Hwasong-18")."""
    parts = token.split("-")
    if len(parts) < 2 or any(not p.isalpha() for p in parts):
        return False
    if parts[-1].lower() in _COMPOUND_TAILS:
        return True
    return all(p.islower() for p in parts) or all(p[0].isupper() and p[1:].islower() for p in parts)


def restates(words: set[str], question_words: set[str]) -> bool:
    """Whether a sentence's content ``words`` add nothing to the question's.

    Stems that are prefixes of each other count as the same word ("Russia" and "Russian",
    "Korea" and "Korean"): "The troops are being trained in Russia" does not answer "In which
    Russian region are the troops being trained?".
    """
    def same(w: str, q: str) -> bool:
        return w == q or (min(len(w), len(q)) >= 4 and (w.startswith(q) or q.startswith(w)))

    return all(any(same(w, q) for q in question_words) for w in words)


def novel_facts(sentence: str, sources: str) -> list[str]:
    """Numbers and names in ``sentence`` that ``sources`` (passages + question) never mention."""
    plain = strip_markers(sentence)
    haystack = sources.lower().replace("’", "'")
    known = set(re.findall(r"[a-z0-9]+", haystack))
    digits_in_sources = {re.sub(r"[,.]", "", m).rstrip(".,") for m in re.findall(_DIGITS, sources)}
    novel = []
    for match in _NUMBER.finditer(plain):
        token = match.group(0).rstrip(".,")
        if token[:1].isdigit():
            if re.sub(r"[,.]", "", token) not in digits_in_sources:
                novel.append(token)
        elif token.lower() not in known:
            novel.append(token)
    for match in _NAME.finditer(plain):
        name = re.sub(r"[’']s\b", "", match.group(0).replace("’", "'"))
        words = [w for w in re.split(r"\s+", name.lower()) if w not in _STOP | _STARTERS]
        # Initials ("D.C.", "U.S.") name nothing on their own.
        parts = [p for w in words for p in re.findall(r"[a-z0-9]+", w) if len(p) > 1]
        if parts and not all(p in known for p in parts):
            novel.append(match.group(0))
    return novel


def matter(scores: Sequence[float], minimum: float, slack: float) -> list[int]:
    """Indexes of the paragraphs whose score is within ``slack`` of the best (best first).

    ``[]`` when the best is below ``minimum``: what the question asks about is not clearly in
    one place.
    """
    best = max(scores, default=0.0)
    if best < minimum:
        return []
    where = [i for i, score in enumerate(scores) if score >= best - slack]
    return sorted(where, key=lambda i: -scores[i])


def misattributed(sentence: str, backing: str, people: dict[str, set[str]]) -> list[str]:
    """People named in ``sentence`` whom ``backing`` (the supporting paragraphs) never names.

    ``people`` maps a person's name (lower case) to the other forms the corpus uses for them
    ("victor cha" -> {"cha"}); any of the forms counts. Places and organisations are not
    checked here (only against all retrieved text, by :func:`novel_facts`): what matters most
    is who said or did what.
    """
    named = set(named_people(backing, people))
    return [name for name in named_people(strip_markers(sentence), people) if name not in named]


@dataclass(frozen=True)
class CheckedAnswer:
    """A reply after the checks: text with valid markers, its citations, and what was removed."""

    text: str
    citations: tuple[Citation, ...]
    removed: tuple[str, ...]
    refusal: bool
    supported: int
    off_question: tuple[str, ...] = ()  # supported sentences left out as not addressing the question
    support: float = 0.0  # mean share of what the kept sentences add that their citations hold
    similarity: float = 0.0  # mean best cosine of the kept sentences to a cited paragraph's sentence
    claims: int = 0  # sentences of the reply that make a claim (refusals aside)


class Grounder:
    """Checks a reply against the retrieved paragraphs (see the module docstring)."""

    def __init__(
        self,
        encode: Callable[[list[str]], np.ndarray] | None = None,
        thresholds: Thresholds | None = None,
        previous: Callable[[Paragraph], str] | None = None,
        clean: Callable[[str], str] | None = None,
        people: dict[str, set[str]] | None = None,
        checks: GroundingChecks | None = None,
    ) -> None:
        self.encode = encode
        self.checks = checks or GroundingChecks()
        self.thresholds = thresholds or Thresholds()
        self.previous = previous
        self.clean = clean or (lambda text: text)
        self.people = people or {}

    def _with_context(self, paragraph: Paragraph) -> str:
        before = self.previous(paragraph) if self.previous else ""
        return self.clean(f"{before} {paragraph.text}")

    def check(
        self, reply: str, sources: SourceMap, question: str = "", *, attribution: bool = False
    ) -> CheckedAnswer:
        """Check ``reply`` against ``sources``; ``attribution``: the question asks who said or did it."""
        sentences = [s for s in split_sentences(_flatten(reply)) if _has_words(strip_markers(s))]
        labels = list(sources.paragraphs)
        # Support is judged on the paragraphs minus any planted instructions (see safety.py).
        paragraphs = [
            replace(sources.paragraphs[lab], text=self.clean(sources.paragraphs[lab].text)) for lab in labels
        ]
        haystack = " ".join(self._with_context(p) for p in paragraphs) + " " + question
        para_words = [content_words(p.text) for p in paragraphs]
        para_sents = [split_sentences(p.text) for p in paragraphs]
        claims = [s for s in sentences if not is_refusal(s)]
        semantic, claim_vectors = self._semantic(claims, para_sents)
        question_words = content_words(question)

        kept: list[str] = []
        claims_kept: list[tuple[int, str, list[str], np.ndarray | None]] = []  # position, text, cites, vector
        removed: list[str] = []
        cited: dict[str, None] = {}
        refusal = False
        support: list[float] = []
        similarity: list[float] = []
        for sentence in sentences:
            plain = strip_markers(sentence)
            invented = novel_facts(sentence, haystack) if self.checks.facts else []
            if is_refusal(sentence) and not invented:
                refusal = True
                kept.append(plain)
                continue
            if is_refusal(sentence):  # "does not say, but 50,000 died": an invented fact in disguise
                removed.append(plain)
                continue
            words = content_words(sentence)
            marked = [
                sources.resolve(letter, n) for _, _, refs in find_markers(sentence) for letter, n in refs
            ]
            marked = [m for m in marked if m]
            if not words or invented:
                removed.append(plain)
                continue
            sims = semantic.get(sentence, [0.0] * len(paragraphs))
            # Words the question already gave prove nothing: what the sentence adds must be in
            # the paragraphs that back it.
            new_words = words - question_words or words
            scores = []
            for i, pw in enumerate(para_words):
                lexical = len(new_words & pw) / len(new_words)
                supported = lexical >= self.thresholds.lexical or (
                    sims[i] >= self.thresholds.semantic and lexical >= self.thresholds.lexical_floor
                )
                scores.append((supported, lexical + sims[i], labels[i], lexical))
            backing, joint = self._backing(sentence, new_words, scores, labels, para_words, sources)
            people = self.checks.people
            if (
                backing
                and attribution
                and people
                and not self._named_where_asked(sentence, question_words, labels, para_words, sources)
            ):
                backing = []
            if (
                backing
                and self.checks.polarity
                and _flips_polarity(plain, [sources.paragraphs[lab].text for lab in backing])
            ):
                backing = []
            if backing and people and self._wrong_speaker(plain, [sources.paragraphs[b] for b in backing]):
                backing = []
            # A sentence that only restates the question answers nothing.
            if not backing or (self.checks.restates and restates(words, question_words)):
                removed.append(plain)
                continue
            chosen = [m for m in dict.fromkeys(marked) if m in backing]
            if joint:
                chosen = list(backing)
            elif not chosen:
                chosen = [max((s for s in scores if s[2] in backing), key=lambda s: s[1])[2]]
            if self.checks.placement:
                if not joint and question_words and len(new_words) <= SHORT_ANSWER_WORDS:
                    chosen = self._in_context(chosen, backing, words | question_words, labels, para_words)
                alone_backing = [] if joint else backing
                chosen = self._fact_sources(plain, question, chosen, alone_backing, scores, sources)
            backed = [s for s in scores if s[2] in chosen]
            support.append(len(new_words & set().union(*(para_words[labels.index(s[2])] for s in backed)))
                           / len(new_words))  # fmt: skip
            similarity.append(max((sims[labels.index(s[2])] for s in backed), default=0.0))
            claims_kept.append((len(kept), plain, chosen, claim_vectors.get(sentence)))
            kept.append(f"{_end_punct(plain)} {' '.join(f'[{lab}]' for lab in chosen)}")
        off = self._off_question(claims_kept, question, question_words) if self.checks.off_question else set()
        kept = [k for i, k in enumerate(kept) if i not in off]
        for i, _, chosen, _ in claims_kept:
            if i not in off:
                for lab in chosen:
                    cited.setdefault(lab, None)
        citations = tuple(
            Citation(
                sources.paragraphs[lab].doc, sources.paragraphs[lab].number, sources.paragraphs[lab].text
            )
            for lab in cited
        )
        supported = len(kept) - sum(is_refusal(k) for k in kept)
        return CheckedAnswer(
            " ".join(kept).strip(),
            citations,
            tuple(removed),
            refusal and supported == 0,
            supported,
            off_question=tuple(plain for i, plain, _, _ in claims_kept if i in off),
            support=sum(support) / len(support) if support else 0.0,
            similarity=sum(similarity) / len(similarity) if similarity else 0.0,
            claims=len(claims),
        )

    def _off_question(self, claims, question: str, question_words: set[str]) -> set[int]:
        """Positions of supported sentences that do not address the question.

        A sentence is off the question when its relevance (the share of the question's content
        words it holds plus its cosine similarity to the question) is more than
        OFF_QUESTION_MARGIN below the most relevant sentence's, and it cites none of that
        sentence's paragraphs: "Cha called it symbolic [¶4]. Kim knows Putin needs munitions,
        missiles and troops [¶12]" asked what Putin needs keeps only the second. A sentence
        from the same paragraph as the best one ("These are munitions…") is never dropped.

        ``claims`` are ``(position, text, citations, vector)`` of the supported sentences, the
        vector the one :meth:`_semantic` made.
        """
        if len(claims) < 2 or not question_words or not self.encode or any(c[3] is None for c in claims):
            return set()
        asked = self.encode([question])[0]
        relevance = [
            len(question_words & content_words(plain)) / len(question_words) + float(vector @ asked)
            for _, plain, _, vector in claims
        ]
        top = max(range(len(claims)), key=relevance.__getitem__)
        best_sources = set(claims[top][2])
        return {
            i
            for j, (i, _, chosen, _) in enumerate(claims)
            if relevance[j] < relevance[top] - OFF_QUESTION_MARGIN and not best_sources & set(chosen)
        }

    def _backing(self, sentence, new_words, scores, labels, para_words, sources: SourceMap):
        """The paragraphs that support ``sentence`` (``[]`` if none) and whether only jointly.

        First every paragraph that supports it alone; failing that (or if those do not name the
        people it names), the two paragraphs sharing most with it, when together they hold what
        it adds ("Cha and Seiler are quoted" joins two paragraphs). People must be named in the
        backing paragraphs (or the paragraph before each, where a quote's speaker often is):
        "Kim Yo-jong is aware of Putin's needs" is not backed by a paragraph about Cha.
        """
        options: list[tuple[list[str], bool]] = []
        alone = [lab for ok, _, lab, _ in scores if ok]
        if alone:
            options.append((alone, False))
        pair = sorted(range(len(labels)), key=lambda i: -scores[i][3])[:2] if self.checks.joint else []
        if len(pair) == 2 and min(scores[i][3] for i in pair) >= self.thresholds.lexical_floor:
            union = para_words[pair[0]] | para_words[pair[1]]
            if len(new_words & union) / len(new_words) >= self.thresholds.lexical:
                options.append(([labels[i] for i in pair], True))
        for cover in self._covers(sentence, new_words, scores, para_words) if self.checks.joint else []:
            if len(cover) > 2:
                options.append(([labels[i] for i in sorted(cover)], True))
        for backing, joint in options:
            text = " ".join(self._with_context(sources.paragraphs[lab]) for lab in backing)
            if not self.checks.people or not misattributed(sentence, text, self.people):
                return backing, joint
        return [], False

    def _covers(self, sentence: str, new_words: set[str], scores, para_words) -> list[list[int]]:
        """Sets of paragraphs that together hold what a list sentence adds ("A, B, C and D").

        Paragraphs are added greedily, each adding the most words the others lack (at least
        JOINT_MIN_GAIN), up to JOINT_MAX; every set so far holding the lexical threshold's share
        of the sentence's words is returned, smallest first (the caller takes the first that
        names everyone the sentence names). The words besides people's names must reach that
        share too: a list of true names does not carry an invented claim about them.
        """
        claim = new_words - self._name_words(named_people(sentence, self.people))
        chosen: list[int] = []
        covered: set[str] = set()
        found: list[list[int]] = []
        while len(chosen) < JOINT_MAX:
            gains = [
                (len((new_words & pw) - covered), scores[i][1], i)
                for i, pw in enumerate(para_words)
                if i not in chosen
            ]
            gain, _, best = max(gains, default=(0, 0.0, -1))
            if gain < JOINT_MIN_GAIN:
                break
            chosen.append(best)
            covered |= new_words & para_words[best]
            share = len(covered) / len(new_words)
            claim_share = len(claim & covered) / len(claim) if claim else 1.0
            if min(share, claim_share) >= self.thresholds.lexical:
                found.append(list(chosen))
        return found

    def _name_words(self, people: Sequence[str]) -> set[str]:
        """The content words of every form of the names of ``people`` (keys of the people map)."""
        return content_words(" ".join(form for person in people for form in {person, *self.people[person]}))

    def _named_where_asked(self, sentence, question_words, labels, para_words, sources) -> bool:
        """For "who said X?": the people the answer names must be named where X is.

        The paragraphs holding most of the question's words (X) are found; the answer passes
        when every person it names appears in one of them or in the paragraph before it (a
        quote's speaker is often named there). "Seiler said the soldiers dying would leave
        Putin owing them" fails: the article says that of Cha.
        """
        if not question_words or not self.people:
            return True
        shares = [len(question_words & pw) / len(question_words) for pw in para_words]
        where = [labels[i] for i in matter(shares, MATTER_SHARE, MATTER_SLACK)]
        if not where:
            return True  # the question's matter is not clearly in one place: nothing to check
        return any(
            not misattributed(sentence, self._with_context(sources.paragraphs[lab]), self.people)
            for lab in where
        )

    @staticmethod
    def _fact_sources(sentence, question, chosen, backing, scores, sources: SourceMap) -> list[str]:
        """``chosen`` made to cite the dates and numbers ``sentence`` states where they are written.

        When a paragraph in ``backing`` (those supporting the sentence alone) holds them all and
        no chosen one does, it is cited instead: "He spoke at the CSIS discussion on Tuesday"
        is cited to ¶5, which says both, not to ¶4 (the discussion) and ¶5 (the day).
        Otherwise the best-scoring paragraph holding each missing fact is cited too.
        """
        asked = question.lower()
        # Written dates and digits only: "may", "march" and "two" are too often other words.
        dates = [m.group(0) for m in TIME.finditer(sentence) if not m.group(0).islower()]
        facts = [f.lower() for f in (*dates, *re.findall(_DIGITS, sentence)) if f != "May"]
        facts = [f.rstrip(".,") for f in dict.fromkeys(facts) if f.rstrip(".,") not in asked]
        text = {lab: p.text.lower() for lab, p in sources.paragraphs.items()}
        patterns = [rf"(?<![\w-]){re.escape(fact)}(?![\w-])" for fact in facts]

        def holds(lab: str, wanted: list[str]) -> bool:
            return all(re.search(pattern, text[lab]) for pattern in wanted)

        if not patterns or any(holds(lab, patterns) for lab in chosen):
            return list(chosen)
        whole = [s for s in scores if s[2] in backing and holds(s[2], patterns)]
        if whole:
            return [max(whole, key=lambda s: s[1])[2]]
        added = list(chosen)
        for pattern in patterns:
            if any(holds(lab, [pattern]) for lab in added):
                continue
            holders = [s for s in scores if re.search(pattern, text[s[2]])]
            if holders:
                added.append(max(holders, key=lambda s: s[1])[2])
        return added

    def _wrong_speaker(self, sentence: str, backing: Sequence[Paragraph]) -> bool:
        """"Seiler said X" where the paragraph that holds X gives someone else as its speaker.

        The paragraph holding X is the backing one sharing most of the sentence's words besides
        the name; one naming nobody ("…,” she said") takes its speaker from the paragraph
        before. Only a sentence that names its speaker, and a paragraph that gives one, are
        judged.
        """
        claimed = speaker(sentence, self.people) if self.people else None
        if claimed is None or not backing:
            return False
        words = content_words(sentence) - self._name_words([claimed])
        statement = max(backing, key=lambda p: len(words & content_words(p.text)))
        before = self.previous(statement) if self.previous else None
        who, _ = quote_speaker(statement.text, before, self.people)
        return who is not None and who != claimed

    @staticmethod
    def _in_context(chosen, backing, context, labels, para_words) -> list[str]:
        """For a short answer ("Seiler said."), cite where the question's matter is.

        A name alone is "supported" by every paragraph that names the person; the citation the
        reader needs is the paragraph that also holds what the question is about (the quote
        asked about, not another quote by the same speaker).
        """
        share = {lab: len(context & para_words[labels.index(lab)]) / len(context) for lab in backing}
        best = max(backing, key=lambda lab: (share[lab], -labels.index(lab)))
        if max((share[lab] for lab in chosen), default=0.0) + CONTEXT_MARGIN <= share[best]:
            return [best]
        return chosen

    def _semantic(
        self, claims: list[str], para_sents: list[list[str]]
    ) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
        """Per claim: its best cosine in each paragraph, and its vector (empty without an encoder)."""
        if not self.encode or not claims:
            return {}, {}
        flat = [s for sents in para_sents for s in sents]
        vectors = self.encode([strip_markers(c) for c in claims] + flat)
        claim_v, sent_v = vectors[: len(claims)], vectors[len(claims) :]
        sims = claim_v @ sent_v.T if len(flat) else np.zeros((len(claims), 0))
        out: dict[str, list[float]] = {}
        for ci, claim in enumerate(claims):
            row, start = [], 0
            for sents in para_sents:
                block = sims[ci, start : start + len(sents)]
                row.append(float(block.max()) if len(sents) else 0.0)
                start += len(sents)
            out[claim] = row
        return out, dict(zip(claims, claim_v, strict=True))


# "not only", "no longer" and "without delay" do not reverse a claim.
_NEGATION = re.compile(
    r"\b(?:not|never|none|cannot)\b(?!\s+(?:only|just|merely|least)\b)|\bno\b(?!\s+(?:longer|doubt)\b)"
    r"|n[’']t\b",
    re.IGNORECASE,
)


def _flips_polarity(sentence: str, backing: Sequence[str]) -> bool:
    """True when the source sentence closest to ``sentence`` says it with the opposite polarity.

    "Yes, North Korea is recognized as a nuclear-weapon state" against "North Korea is not
    recognized as a nuclear-weapon state": the same words, the meaning reversed. Only a close
    match (most of the sentence's content words) is compared.
    """
    words = content_words(sentence)
    if len(words) < 3:
        return False
    best, best_share = "", 0.0
    for text in backing:
        for candidate in split_sentences(text):
            share = len(words & content_words(candidate)) / len(words)
            if share > best_share:
                best, best_share = candidate, share
    if best_share < POLARITY_MATCH:
        return False
    return bool(_NEGATION.search(sentence)) != bool(_NEGATION.search(best))


def _has_words(text: str) -> bool:
    return any(c.isalnum() for c in text)


def _flatten(text: str) -> str:
    """Join lines and list bullets so the sentence splitter sees prose."""
    lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", line).strip() for line in text.splitlines()]
    return " ".join(
        _end_punct(line) if line and not line.endswith((":", ",")) else line for line in lines if line
    )


def _end_punct(text: str) -> str:
    text = text.rstrip()
    return text if not text or text[-1] in '.!?…"”’)' else text + "."
