"""Quotations, reported claims and their speakers, read off one spaCy parse of an article.

The paragraphs are joined by blank lines and parsed as one document (in pieces for a very long
article), with a sentence break forced at each paragraph break. Quotations are the spans between
quotation marks (a quote left open runs to its paragraph's end); a cue is a speech verb outside
quotes, "according to X" or "in the words of X"; a quote takes the cue its words hang under in the
parse, else the nearest cue in its sentence, else the subject of a clause ending in a colon before
it; with no cue it continues the speaker before it. The speaker is the cue's subject, resolved to
a full name by :mod:`rag.people`. A claim is a cue's content clause. A story's opening dateline
is blanked for the parse ("STUTTGART, March 3 —" files the story; it says nothing). Details and
measurements: docs/attribution.md.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass
from typing import Any

from .people import HONORIFICS, PRONOUN_GENDER, PeopleIndex, Person, clean_name, is_role, name_spans
from .people import role_descriptions as _roles
from .text import blank_dateline
from .types import Document, Paragraph

log = logging.getLogger(__name__)

PART_CHARS = 50_000  # paragraphs are parsed in pieces of at most this many characters
MAX_CHARS = 400_000  # an article longer than this is attributed up to this point only
SEPARATOR = "\n\n"

SPEECH_VERBS = frozenset("""
    say tell state note add argue claim explain highlight suggest stress emphasize emphasise warn
    insist announce confirm report reply respond answer ask deny admit acknowledge agree concur write
    predict estimate maintain contend observe remark recall urge comment conclude declare indicate
    mention reveal testify allege assert cite condemn criticize criticise complain caution recommend
    propose promise vow pledge threaten demand boast concede counter reiterate repeat quip joke
    whisper shout exclaim tweet believe point call plead beg
    """.split())  # fmt: skip
PARTICLES = {"point": ("out",), "call": ("on", "for")}  # only as "pointed out", "called on/for"
OBJECT_CONTENT = frozenset("confirm deny report announce reveal acknowledge admit claim allege".split())
QUESTION_VERBS = frozenset({"ask", "wonder", "inquire", "enquire"})
REQUEST_VERBS = frozenset({"urge", "plead", "beg", "implore"})  # content: "urged X to do …"
OPENERS = {"“": '”"', "„": '“”"', "«": "»", '"': '"', "‘": "’", "'": "'"}
MIN_CLAIM_WORDS = 4  # words outside quotes a claim needs; fewer and it is only a quote's cue


@dataclass(frozen=True)
class Statement:
    """A quotation or a reported claim, where it is, and who the article says it comes from."""

    doc: str
    paragraph: int
    text: str  # quoted words or reported claim, verbatim from the paragraph
    start: int  # char offsets of text in the paragraph text
    end: int
    speaker: str | None  # Person.name (or the source's name), None if unknown
    cue: str  # "said", "noted", "according to", "" for a cue-less continuation
    kind: str  # "quote" | "claim"
    how: str  # named, alias, title, pronoun, description, continued, none
    speakers: tuple[str, ...] = ()  # each speaker of a joint statement ("Biden", "Kishida")
    speaker_start: int = -1  # where this paragraph names the speaker (the cue's subject), if it does
    speaker_end: int = -1


@dataclass
class _Quote:
    paragraph: int
    start: int  # global offsets of the marks
    end: int
    content: tuple[int, int]  # global offsets of the quoted words


@dataclass
class _Cue:
    part: int
    token: Any  # spaCy Token: the verb, "according" or "words"
    text: str
    subject: Any  # spaCy Token or None


def find_quotes(text: str) -> list[tuple[int, int, int, int]]:
    """``(mark_start, content_start, content_end, mark_end)`` of each top-level quotation.

    Curly, low-9, guillemet and straight double quotes; single quotes only where they open at a
    word start and close at a word end (so apostrophes and "Thomas' sister" are not quotes). A
    quote left open runs to the end of the text."""
    out: list[tuple[int, int, int, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        closers = OPENERS.get(c)
        before = text[i - 1] if i else " "
        if closers is None or (c in "'\"‘" and not (before.isspace() or before in "([{—–-:;,")):
            i += 1
            continue
        if c in "'‘" and not (i + 1 < n and text[i + 1].isalpha()):
            i += 1
            continue
        j = i + 1
        while j < n:
            if text[j] in closers and (c not in "'‘\"" or j + 1 == n or not text[j + 1].isalnum()):
                if c in "'‘" and (text[j - 1].isspace() or len(text[i + 1 : j].split()) < 2):
                    j += 1
                    continue
                break
            j += 1
        if j >= n and c in "'‘":
            i += 1  # an unclosed single quote is an apostrophe
            continue
        end = min(j + 1, n)
        content_end = j if j < n else n
        inner = text[i + 1 : content_end]
        stripped = inner.rstrip().rstrip(",").rstrip()
        lead = len(inner) - len(inner.lstrip())
        if any(ch.isalpha() for ch in stripped):
            out.append((i, i + 1 + lead, i + 1 + len(stripped), end))
        i = end
    return out


class SpeechReader:
    """One pass over one article's parse: its people, quotations and claims (``run()``)."""

    def __init__(self, document: Document, nlp, max_chars: int = MAX_CHARS) -> None:
        self.document = document
        self.nlp = nlp
        paragraphs, total = [], 0
        for p in document.paragraphs:
            if total + len(p.text) > max_chars and paragraphs:
                n, total_n = len(paragraphs), len(document.paragraphs)
                log.warning("%s: attributing the first %d of %d paragraphs", document.id, n, total_n)
                break
            paragraphs.append(p)
            total += len(p.text) + len(SEPARATOR)
        self.paragraphs: list[Paragraph] = paragraphs
        self.starts: list[int] = []
        pos = 0
        for p in paragraphs:
            self.starts.append(pos)
            pos += len(p.text) + len(SEPARATOR)
        self.quotes: list[_Quote] = []
        for p, start in zip(paragraphs, self.starts, strict=True):
            for a, cs, ce, b in find_quotes(p.text):
                self.quotes.append(_Quote(p.number, start + a, start + b, (start + cs, start + ce)))
        self.quote_starts = [q.start for q in self.quotes]
        self.people = PeopleIndex(document.id)
        self.person_at: dict[tuple[int, int], tuple[int, str, int, int]] = {}  # token -> key, how, span
        self.spans: dict[tuple[int, int], Any] = {}  # token -> name span holding it
        self.parts: list[tuple[Any, int]] = []
        self.token_starts: list[list[int]] = []  # per part, each token's global offset
        self.sentence: dict[tuple[int, int], int] = {}  # (part, sentence start) -> sentence number
        self.orgs: list[tuple[int, str, str]] = []  # organisations named: position, name, last word

    # --- positions -----------------------------------------------------------------------------
    def par_index(self, pos: int) -> int:
        return max(bisect.bisect_right(self.starts, pos) - 1, 0)

    def quote_at(self, pos: int) -> _Quote | None:
        k = bisect.bisect_right(self.quote_starts, pos) - 1
        if k >= 0 and self.quotes[k].start <= pos < self.quotes[k].end:
            return self.quotes[k]
        return None

    def pos(self, part: int, token) -> int:
        return self.parts[part][1] + token.idx

    # --- the pass ------------------------------------------------------------------------------
    def run(self) -> tuple[tuple[Person, ...], tuple[Statement, ...]]:
        """Parse the article and return its people and statements, in reading order."""
        if not self.paragraphs:
            return (), ()
        self._parse()
        cues: list[_Cue] = []
        for part, (doc, _) in enumerate(self.parts):
            self._read_names(part, doc)
            cues.extend(self._cues(part, doc))
        claims = self._claims(cues)
        statements = self._quote_statements(cues, claims) + claims
        statements.sort(key=lambda s: (s.paragraph, s.start, s.kind))
        speakers = frozenset(n for s in statements for n in s.speakers)
        return self.people.people(speakers), tuple(statements)

    def _parse(self) -> None:
        groups, size = [[]], 0
        for k, p in enumerate(self.paragraphs):
            if groups[-1] and size + len(p.text) > PART_CHARS:
                groups.append([])
                size = 0
            groups[-1].append(k)
            size += len(p.text) + len(SEPARATOR)
        texts = [SEPARATOR.join(blank_dateline(self.paragraphs[k].text) if k < 3 else self.paragraphs[k].text
                                for k in g) for g in groups]  # fmt: skip
        for g, text in zip(groups, texts, strict=True):
            doc = self.nlp.make_doc(text)
            for token in doc[1:]:  # no sentence runs across a paragraph break
                if token.i > 0 and "\n\n" in doc[token.i - 1].text_with_ws:
                    token.is_sent_start = True
            for _, component in self.nlp.pipeline:
                doc = component(doc)
            self.parts.append((doc, self.starts[g[0]]))
            self.token_starts.append([self.starts[g[0]] + t.idx for t in doc])
        n = 0
        for part, (doc, _) in enumerate(self.parts):
            for sent in doc.sents:
                self.sentence[(part, sent.start)] = n
                n += 1

    def _read_names(self, part: int, doc) -> None:
        """People and pronouns, in reading order."""
        starts = {}
        for span in name_spans(doc):
            starts.setdefault(span.start, span)
            for t in range(span.start, span.end):
                self.spans[(part, t)] = span
        for token in doc:
            pos = self.pos(part, token)
            par = self.paragraphs[self.par_index(pos)].number
            in_quote = self.quote_at(pos) is not None
            sentence = self.sentence[(part, token.sent.start)]
            span = starts.get(token.i)
            if span is not None:
                if span.label_ == "ORG" and not self._is_person(part, span, pos):
                    self.orgs.append((pos, clean_name(span.text)[0], span[-1].lower_))
                elif self._is_person(part, span, pos):
                    key, how = self.people.add(self._title(span) + span.text, pos, par, in_quote, sentence)
                    title = clean_name(span.text)[1]
                    if title and title.rstrip(".").casefold() not in HONORIFICS:
                        self.people.describe(key, title, title.split()[-1])
                    for t in range(span.start, span.end):
                        self.person_at[(part, t)] = (key, how, pos, self.pos(part, span[-1]) + len(span[-1]))
                    for text, head in _roles(span):
                        self.people.describe(key, text, head.lemma_)
            elif token.lower_ in PRONOUN_GENDER and not in_quote and token.pos_ == "PRON":
                key = self.people.pronoun(token.lower_, pos, par, sentence, token.tag_ == "PRP$")
                if key is not None:
                    self.person_at[(part, token.i)] = (key, "pronoun", pos, pos + len(token))

    @staticmethod
    def _title(span) -> str:
        prev = span.doc[span.start - 1] if span.start else None
        if prev is not None and prev.lower_.rstrip(".") in HONORIFICS:
            return prev.text + " "
        return ""

    def _is_person(self, part: int, span, pos: int) -> bool:
        label = span.label_
        title = clean_name(span.text)[1].split(" ")[0].rstrip(".").casefold()  # "Dr. Anders Holm"
        if self._title(span) or title in HONORIFICS:
            return True
        prev = span.doc[span.start - 1] if span.start else None
        if (prev is not None and prev.lower_ in ("the", "a", "an", "at")) or (
            len(span) == 1 and span.text.isupper()
        ):
            return False  # "the Moon", "JAXA", "an analyst at Peel Hunt": a person is rarely any
        if label == "PERSON":
            return True
        name = clean_name(span.text)[0]
        speaks = span.root.dep_ in ("nsubj", "nsubjpass") and self._is_cue_verb(span.root.head)
        if self.people.find(name, pos)[0] is not None and (label == "" or speaks):
            return True
        if any(is_role(head) for _, head in _roles(span)) and label in ("", "GPE", "ORG", "NORP"):
            return True
        return label == "" and speaks and span.root.pos_ == "PROPN"

    # --- cues ----------------------------------------------------------------------------------
    @staticmethod
    def _is_cue_verb(token, strict: bool = False) -> bool:
        """A speech verb; ``strict``: "point" and "call" only as "pointed out", "called on/for"
        (a quote hanging under "called the plan “…”" needs no particle)."""
        if token.lemma_ not in SPEECH_VERBS or token.pos_ not in ("VERB", "AUX"):
            return False
        need = PARTICLES.get(token.lemma_) if strict else None
        return need is None or any(c.lower_ in need for c in token.children if c.dep_ in ("prt", "prep"))

    def _cues(self, part: int, doc) -> list[_Cue]:
        out = []
        for token in doc:
            if self.quote_at(self.pos(part, token)) is not None:
                continue
            if self._is_cue_verb(token):
                prt = [c.text for c in token.children if c.dep_ == "prt"]
                out.append(
                    _Cue(part, token, " ".join([token.text, *prt]).lower(), self._subject(part, token))
                )
            elif token.lower_ == "according":
                to = [c for c in token.children if c.lower_ == "to"]
                obj = [c for c in to[0].children if c.dep_ == "pobj"] if to else []
                if obj:
                    out.append(_Cue(part, token, "according to", obj[0]))
            elif token.lower_ == "words" and token.dep_ == "pobj" and token.head.lower_ == "in":
                of = [c for c in token.children if c.lower_ == "of"]
                obj = [c for c in of[0].children if c.dep_ == "pobj"] if of else []
                if obj:
                    out.append(_Cue(part, token, "in the words of", obj[0]))
        return out

    def _subject(self, part: int, verb):
        found = self._grammatical_subject(verb)  # none inside quotes: "“Our residents paid …,” Ortega said"
        if found is not None and self.quote_at(self.pos(part, found)) is None:
            return found
        doc, k = verb.doc, verb.i - 1  # "Tom Molomby, SC, said" parsed without a subject
        while k >= verb.sent.start and doc[k].is_punct:
            k -= 1
        if k < verb.sent.start:
            return None
        t = doc[k]
        while t.dep_ == "appos" and t.head.i < t.i:
            t = t.head
        return t if (part, t.i) in self.person_at else None

    @staticmethod
    def _grammatical_subject(verb):
        v = verb
        for _ in range(6):
            for c in v.children:
                if c.dep_ == "nsubj" or (c.dep_ == "nsubjpass" and v.lemma_ == "quote"):
                    return c
                if c.dep_ == "agent":
                    obj = [g for g in c.children if g.dep_ == "pobj"]
                    if obj:
                        return obj[0]
            if v.dep_ in ("advcl", "xcomp", "conj", "pcomp", "prep") and v.head.i != v.i:
                v = v.head
            elif v.dep_ == "acl" and v.head.pos_ in ("NOUN", "PROPN", "PRON"):
                return v.head
            else:
                return None
        return None

    # --- speakers ------------------------------------------------------------------------------
    def _speaker(self, cue: _Cue) -> tuple[tuple[str, ...], str, tuple[int, int] | None]:
        head = cue.subject
        if head is None:
            return (), "none", None
        heads = [head] + [c for c in head.conjuncts if c.i > head.i] if head.dep_ != "conj" else [head]
        found = [r for r in (self._resolve(cue.part, h, 0) for h in heads) if r is not None]
        if not found:
            return (), "none", None
        names = tuple(dict.fromkeys(name for name, _, _ in found))
        return names, found[0][1], found[0][2]

    def _resolve(self, part: int, token, depth: int) -> tuple[str, str, tuple[int, int]] | None:
        hit = self.person_at.get((part, token.i))
        if hit is not None:
            key, how, a, b = hit
            return self.people.name(key), how, (a, b)
        if depth > 3:
            return None
        if token.lower_ in ("who", "that") and token.head.dep_ in ("relcl", "acl"):
            return self._resolve(part, token.head.head, depth + 1)
        if token.pos_ == "PRON":
            return None
        pos = self.pos(part, token)
        span = self.spans.get((part, token.i))
        if span is not None:
            name = clean_name(span.text)[0]
            return (name, "named", (self.pos(part, span[0]), self.pos(part, span[-1]) + len(span[-1])))
        if token.pos_ != "NOUN":
            return None
        for child in token.children:  # "the prosecutor, Mark Tedeschi"
            if child.dep_ == "appos" and (part, child.i) in self.person_at:
                return self._resolve(part, child, depth + 1)
        k = token.left_edge.i - 1  # "Kim Yo-jong, Kim Jong-un's sister, who ...": the name before
        doc = token.doc
        if k > 0 and doc[k].text == "," and (part, k - 1) in self.person_at and not doc[k - 1].is_punct:
            return self._resolve(part, doc[k - 1], depth + 1)
        if token.tag_ == "NN" and any(c.dep_ in ("det", "poss") for c in token.children):
            key = self.people.by_description(token.lemma_, pos)  # "the prosecutor said"
            if key is not None:
                return self.people.name(key), "description", (pos, pos + len(token))
            for at, name, last in reversed(self.orgs):  # "the association" for "… Fishermen's Association"
                if at < pos and last == token.lower_:
                    return name, "description", (pos, pos + len(token))
        if any(c.dep_ == "poss" and c.pos_ in ("PROPN", "NOUN") for c in token.children):
            a = self.pos(part, token.left_edge)  # "Thomas' sister said": whose, named by the article
            return self._text(a, pos + len(token)), "description", (a, pos + len(token))
        return None

    # --- statements ----------------------------------------------------------------------------
    def _tokens(self, start: int, end: int) -> tuple[int, list]:
        """Part and tokens between global offsets ``start`` and ``end``."""
        for part in range(len(self.parts) - 1, -1, -1):
            doc, base = self.parts[part]
            if base <= start:
                offsets = self.token_starts[part]
                return part, list(doc[bisect.bisect_left(offsets, start) : bisect.bisect_left(offsets, end)])
        return 0, []

    def _cue_for_quote(self, q: _Quote, by_token: dict, by_sentence: dict) -> _Cue | None:
        part, tokens = self._tokens(q.start, q.end)
        if not tokens:
            return None
        inside = {t.i for t in tokens}
        best: tuple[int, _Cue] | None = None
        for t in tokens:  # a cue the quoted words hang under
            if t.head.i in inside:
                continue
            node, steps = t.head, 1
            while steps < 40:
                cue = by_token.get((part, node.i))
                if cue is not None:
                    if best is None or steps < best[0]:
                        best = (steps, cue)
                    break
                if node.head.i == node.i:
                    break
                node, steps = node.head, steps + 1
        if best is not None:
            return best[1]
        sents = {tokens[0].sent.start, tokens[-1].sent.start}
        doc = self.parts[part][0]
        after = tokens[-1].i + 1
        if after < len(doc) and doc[after].sent.start != tokens[-1].sent.start:
            nxt = doc[after].sent
            if self.pos(part, nxt[0]) - q.end <= 3:
                sents.add(nxt.start)
        near: list[tuple[int, int, _Cue]] = []
        for cue in (c for start in sents for c in by_sentence.get((part, start), ())):
            if cue.token.sent.start not in (tokens[0].sent.start, tokens[-1].sent.start) and (
                cue.token.i - after > 6
            ):
                continue
            at = self.pos(part, cue.token)
            distance = at - q.end if at >= q.end else q.start - at
            near.append((distance, 0 if at >= q.end else 1, cue))
        if near:
            return min(near, key=lambda x: (x[0], x[1]))[2]
        return self._colon_cue(part, q, tokens[0])

    def _colon_cue(self, part: int, q: _Quote, first) -> _Cue | None:
        """ "The minister was blunt: “…”": the subject of the clause the colon ends."""
        doc = self.parts[part][0]
        k = first.i - 1 if first.is_quote else first.i - 2
        if k <= 0 or doc[k].text != ":":
            return None
        node = doc[k - 1]
        while node.pos_ not in ("VERB", "AUX") and node.head.i != node.i:
            node = node.head
        if self.quote_at(self.pos(part, node)) is not None:
            return None
        subject = self._grammatical_subject(node)
        if subject is None or self._resolve(part, subject, 0) is None:
            return None
        return _Cue(part, doc[k], ":", subject)

    def _quote_statements(self, cues: list[_Cue], claims: list[Statement]) -> list[Statement]:
        by_token = {(c.part, c.token.i): c for c in cues}
        by_sentence: dict[tuple[int, int], list[_Cue]] = {}
        for c in cues:
            by_sentence.setdefault((c.part, c.token.sent.start), []).append(c)
        found: list[tuple[_Quote, tuple[str, ...], str, str, tuple[int, int] | None]] = []
        for q in self.quotes:
            cue = self._cue_for_quote(q, by_token, by_sentence)
            if cue is None:
                found.append((q, (), "", "", None))
            else:
                names, how, mention = self._speaker(cue)
                found.append((q, names, cue.text, how, mention))
        out: list[Statement] = []
        last_by_par: dict[int, tuple[int, tuple[str, ...]]] = {}  # paragraph -> (start, speakers)
        for c in claims:
            if c.speakers and c.start >= last_by_par.get(c.paragraph, (-1, ()))[0]:
                last_by_par[c.paragraph] = (c.start, c.speakers)
        by_paragraph: dict[int, list] = {}
        for f in found:
            if f[1]:
                by_paragraph.setdefault(f[0].paragraph, []).append(f)
        for q, names, cue_text, how, mention in found:
            if not cue_text:  # no cue: the quote continues a speaker
                same = by_paragraph.get(q.paragraph, [])
                before = [f for f in same if f[0].start < q.start]
                after = [f for f in same if f[0].start > q.start and f[2]]
                if before:
                    names = before[-1][1]
                elif after:
                    names = after[0][1]
                elif self._opens_paragraph(q):
                    names = last_by_par.get(q.paragraph - 1, (0, ()))[1]
                how = "continued" if names else "none"
            statement = self._statement(q.paragraph, q.content, names, cue_text, "quote", how, mention)
            out.append(statement)
            if names and statement.start >= last_by_par.get(q.paragraph, (-1, ()))[0]:
                last_by_par[q.paragraph] = (statement.start, names)
        return out

    def _opens_paragraph(self, q: _Quote) -> bool:
        return q.start == self.starts[self.par_index(q.start)]

    def _claims(self, cues: list[_Cue]) -> list[Statement]:
        out = []
        for cue in cues:
            if cue.token.lemma_ in QUESTION_VERBS or not (
                cue.text in ("according to", "in the words of") or self._is_cue_verb(cue.token, strict=True)
            ):
                continue
            span = self._content(cue)
            if span is None:
                continue
            a, b, weak = span
            words = [w for w in self._text(a, b).split() if any(ch.isalpha() for ch in w)]
            outside = [w for w in self._outside_quotes(a, b).split() if any(ch.isalpha() for ch in w)]
            if len(outside) < MIN_CLAIM_WORDS or not words:
                continue
            names, how, mention = self._speaker(cue)
            if weak and not names:
                continue
            par = self.paragraphs[self.par_index(a)].number
            out.append(self._statement(par, (a, b), names, cue.text, "claim", how, mention))
        return out

    def _content(self, cue: _Cue) -> tuple[int, int, bool] | None:
        """The claim's span, and whether it was guessed past a parse that gave no content clause."""
        token, doc = cue.token, self.parts[cue.part][0]
        sent = token.sent
        weak = False
        if cue.text in ("according to", "in the words of"):
            phrase = token if cue.text == "according to" else token.head
            lo, hi = phrase.left_edge.i, phrase.right_edge.i
            left, right = (sent.start, lo - 1), (hi + 1, sent.end - 1)
            first, last = max((left, right), key=lambda r: r[1] - r[0])
        else:
            kids = [c for c in token.children if c.dep_ == "ccomp"]
            if not kids and token.lemma_ in OBJECT_CONTENT:
                kids = [c for c in token.children if c.dep_ in ("dobj", "xcomp") and c.i > token.i]
            elif not kids and token.lemma_ in REQUEST_VERBS:  # not whom they urged, what they urged
                kids = [c for c in token.children if c.dep_ == "xcomp" and c.i > token.i]
            if kids:
                kid = kids[0]
                first, last = max(kid.left_edge.i, sent.start), min(kid.right_edge.i, sent.end - 1)
                if kid.i > token.i:
                    first = max(first, token.i + 1)
            elif (
                token.lemma_ in OBJECT_CONTENT and token.tag_ in ("VBD", "VBZ", "VBP")
                and any(c.dep_ == "nsubj" for c in token.children)
                and any(c.i > token.i and c.dep_ == "prep" for c in token.children)
            ):
                right = [c for c in token.children if c.i > token.i and c.dep_ not in ("cc", "conj", "punct")]
                first, last = right[0].left_edge.i, max(c.right_edge.i for c in right)  # misparsed object
                weak = True
            else:
                span = self._trailing_content(cue)
                if span is None:
                    return None
                first, last = span
        while first <= last and (
            doc[first].is_punct or (doc[first].dep_ == "mark" and doc[first].lower_ == "that")
        ):
            if self.quote_at(self.pos(cue.part, doc[first])) is not None and doc[first].is_quote:
                break
            first += 1
        while last >= first and doc[last].is_punct and not doc[last].is_quote:
            last -= 1
        if last < first:
            return None
        if first == sent.start and first + 1 <= last and doc[first].text.isupper() and len(doc[first]) > 1:
            dash = next((k for k in range(first + 1, min(first + 5, last)) if doc[k].text in "–—-"), None)
            if dash is not None and all(doc[k].text.isupper() or doc[k].is_punct for k in range(first, dash)):
                first = dash + 1  # a dateline ("SEOUL –") is not part of the claim
        a = self.pos(cue.part, doc[first])
        b = self.pos(cue.part, doc[last]) + len(doc[last])
        if self.par_index(a) != self.par_index(b - 1):
            return None
        return a, b, weak

    def _trailing_content(self, cue: _Cue) -> tuple[int, int] | None:
        """ "<claim>, <source> said/reported." when the parse hung the cue on the claim."""
        token, doc = cue.token, self.parts[cue.part][0]
        sent = token.sent
        if cue.subject is None or any(
            not (t.is_punct or t.dep_ in ("npadvmod", "advmod") or t.ent_type_ in ("DATE", "TIME"))
            for t in doc[token.i + 1 : sent.end]
        ):
            return None
        k = cue.subject.left_edge.i - 1
        if k <= sent.start or doc[k].text not in ",—–":
            return None
        return sent.start, k - 1

    def _text(self, a: int, b: int) -> str:
        k = self.par_index(a)
        return self.paragraphs[k].text[a - self.starts[k] : b - self.starts[k]]

    def _outside_quotes(self, a: int, b: int) -> str:
        chars = [c for i, c in enumerate(self._text(a, b), start=a) if self.quote_at(i) is None]
        return "".join(chars)

    def _statement(self, par, span, names, cue_text, kind, how, mention) -> Statement:
        k = self.par_index(span[0])
        base = self.starts[k]
        text = self.paragraphs[k].text[span[0] - base : span[1] - base]
        m_start = m_end = -1
        if mention is not None and self.par_index(mention[0]) == k and how != "continued":
            m_start, m_end = mention[0] - base, mention[1] - base
        speaker = " and ".join(names) if names else None
        return Statement(
            self.document.id, par, text, span[0] - base, span[1] - base, speaker, cue_text, kind,
            how if names else "none", names, m_start, m_end,
        )  # fmt: skip
