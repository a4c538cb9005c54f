"""Lists from the whole article: the people quoted (who is who), "Which of them …", and every
item of a kind the question names.

**People** come from the attribution data (:mod:`rag.attribution`): everyone the article
quotes or reports a claim from, in the order they first speak, each with the role and
affiliation the article gives them, verbatim, cited where it gives them. "Which experts are
quoted?" keeps those whose description reads like an expert's (a fellow, an adviser, a chair at
an institute, …); when the article describes none so, everyone quoted is listed and the reply
says so.

**"Which of them …"** right after such a list is answered from that list and the attribution
data alone: "is a woman" by the pronoun the article uses for each (never guessed from a name),
"works for X" by their descriptions, "talked about Y" by what each says; when nothing in the
article settles it, the reply says the article does not say.

**Items of a kind** ("List the missiles mentioned"): the model lists them from the whole
article it has read; the names the article tags as that kind (spaCy's entities: places,
organisations, dates, …) are added. Every item must occur in the article, written as the article
writes it, and is cited where it first occurs; the rest are removed and listed. Without a model,
only kinds that have an entity type can be listed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .prompt import _plain
from .router import route as route_of
from .text import NOT_IN_ARTICLE, content_words, plain_text, split_sentences
from .types import Paragraph, StreamEvent

if TYPE_CHECKING:
    from .whole import Request

MAX_ITEMS = 30
NO_ONE = f"{NOT_IN_ARTICLE} It quotes no one by name."
# Descriptions that make someone an expert, an official, … (general news wording).
KINDS = {
    "expert": r"fellow|advis[eo]r|analyst|professor|researcher|scholar|expert|chair\b|director|economist|"
    r"scientist|lecturer|specialist|institute|university|cent(?:er|re)|think[\s-]tank|foundation|academy",
    "official": r"minister|official|president|secretary|spokes(?:man|woman|person)|ambassador|governor|mayor|"
    r"senator|\bmp\b|lawmaker|leader|chief|head\b|commander|general|director|administrator|agency|ministry",
}
KIND_WORDS = {
    "expert": "experts analysts scholars researchers academics specialists commentators observers scientists",
    "official": "officials ministers politicians leaders spokesmen spokeswomen spokespeople authorities "
    "representatives lawmakers",
}
# Kinds of thing with a spaCy entity type.
ENTITY_KINDS = {
    "GPE LOC FAC": "place location city cities country countries region nation state capital town village "
    "area",
    "GPE": "country countries nation state",
    "ORG": "organisation organization institution agency think tank group company media outlet body "
    "ministry university newspaper",
    "ORG GPE": "team club side",
    "DATE TIME": "date day time month year",
    "CARDINAL MONEY PERCENT QUANTITY": "number figure amount statistic sum",
    "EVENT": "event",
    "LAW": "law treaty agreement act",
    "NORP": "nationality",
    "PERSON": "person name",
}
_NUMBER_WORDS = "no one two three four five six seven eight nine ten eleven twelve".split()
_SHE = re.compile(r"\b(?:woman|women|female|lady|ladies|girl|she|her)\b", re.IGNORECASE)
_HE = re.compile(r"\b(?:man|men|male|gentleman|boy|he|him)\b", re.IGNORECASE)
_DASH = re.compile(r"\s*[–—-]")
_ITEM = re.compile(r"^\s*(?:[-*•‣–]|\d{1,2}[.)])\s+")
_RELATIVE = re.compile(
    r"^(?P<noun>[\w\s-]+?)\s+(?:who|that|which)\s+(?:(?:were|was|are|is|got|get|have|has|had)\s+)?(?P<verb>[a-z]+)\b"
)
_SUBJECTS = ("nsubj", "nsubjpass")
_INHERITS = ("advcl", "conj", "xcomp")  # clauses whose subject is their head's
_APPOSITION = re.compile(r",\s+((?:[^,.;“”\"]|\.(?=\w)){3,80}?)(?:,|\s+who\b|\.\s|\.$)")
# A relative clause that describes the person, not one that reports their words.
_WHO_CLAUSE = re.compile(
    r",\s+(who\s+(?!(?:said|says|say|told|tells|added|adds|noted|notes|argued|argues|warned|warns|"
    r"stated|states|explained|explains|asked|asks|wrote|writes|spoke|speaks)\b)[^,.;“”\"]{3,80}?)(?:,|\.\s|\.$)"
)
_AFTER_QUOTE = re.compile(r"[”\"]\s*(?:(?:said|says|added|adds|told|tells|noted|notes|wrote|writes)\b)?")
_NOT_APPOSITION = {"said", "says", "who", "which", "that", "and", "but", "or", "then", "he", "she", "they"}
_FOLLOWUP = re.compile(r"^(?:and\s+|so\s+|but\s+)?(?:which|who|what)\s+(?:one\s+|ones\s+)?(?:of|among)\s+"
                       r"(?:them|those|these)\s*", re.IGNORECASE)
_GENERIC = content_words(
    "which who whom of them those these among one ones is are was were the article say said quoted people "
    "experts person works work talk talked talks speak spoke speaks mention mentioned discuss discussed "
    "comment commented warn warned argue argued about"
)


@dataclass(frozen=True)
class Entry:
    """One person of the list: name, descriptions and where each is written."""

    name: str
    descriptions: tuple[tuple[str, Paragraph], ...]
    first: Paragraph


# -- people --------------------------------------------------------------------------------------
def people(request: Request, attributions: Any) -> Iterator[StreamEvent]:
    """Who is quoted, with role and affiliation; or "Which of them …" about that list."""
    if attributions is None:
        yield from _people_without_data(request)
        return
    subject = request.route.subject
    if request.route.followup:
        previous = next((m.content for m in reversed(request.conversation) if m.role == "user"), "")
        subject = route_of(previous).subject
    entries, all_quoted = quoted(request, attributions, subject)
    if request.route.followup:
        yield _which_of_them(request, attributions, entries)
        return
    if not entries:
        yield request.answer(NO_ONE, (), refused=True, reason="no people")
        return
    kind = _kind(subject)
    names = [f"{e.name} [¶{e.first.number}]" for e in entries]
    if kind and all_quoted:
        head = f"The article describes none of the people it quotes as {kind[0]}; it quotes {_join(names)}."
    else:
        plural = kind[0] if kind else "people"
        noun = plural if len(entries) > 1 else _noun(kind[0] if kind else "person", 1)
        head = f"The article quotes {_count(len(entries))} {noun}: {_join(names)}."
    lines = [head]
    citations = [request.citation(e.first) for e in entries]
    for e in entries:
        if e.descriptions:
            described = "; ".join(f"{d} [¶{p.number}]" for d, p in e.descriptions)
            lines.append(f"- {e.name}: {described}")
            citations += [request.citation(p) for _, p in e.descriptions]
        else:
            lines.append(f"- {e.name}: the article gives no role [¶{e.first.number}]")
    yield request.answer("\n".join(lines), citations)


def quoted(request: Request, attributions: Any, subject: str = "") -> tuple[list[Entry], bool]:
    """The people the article quotes, in the order they first speak, kept to the ``subject`` kind
    ("experts") when any is described so; and whether the kind matched no one (all are listed)."""
    speaking: dict[str, int] = {}
    for statement in attributions.statements:
        for name in getattr(statement, "speakers", ()) or ([statement.speaker] if statement.speaker else []):
            speaking.setdefault(name, statement.paragraph)  # each of a joint statement's speakers
    paragraphs = {p.number: p for p in request.paragraphs}
    entries = []
    seen: set[str] = set()
    for name, first in sorted(speaking.items(), key=lambda kv: kv[1]):
        person = attributions.person(name)
        if person is None or person.name in seen:  # an organisation or a newspaper, not a person
            continue
        seen.add(person.name)
        mine = [paragraphs[n] for n in sorted(person.paragraphs) if n in paragraphs]
        described = []
        for d in person.descriptions:
            where = next((p for p in [*mine, *request.paragraphs] if d in p.text), None)
            if where is not None:
                described.append((d, where))
        if all(len(d.split()) < 2 for d, _ in described):  # none, or a bare title ("President")
            intro = introduced(person, mine)
            said = content_words(" ".join([person.name, *(d for d, _ in described)]))
            if intro and described and not content_words(intro[0]) - said:
                intro = None  # "“…Mayor Martin Horn”" says no more than the title "Mayor"
            if intro and not intro[0].startswith("“") and described:
                described = [*described, intro]  # "Mayor; who proposed the plan in February"
            else:
                described = [intro] if intro else described
        entries.append(Entry(person.name, tuple(described), paragraphs.get(first) or request.paragraphs[0]))
    kind = _kind(subject)
    if not kind:
        return entries, False
    kept = [e for e in entries if any(kind[1].search(d) for d, _ in e.descriptions)]
    return (kept, False) if kept else (entries, True)


def introduced(person: Any, paragraphs: Sequence[Paragraph]) -> tuple[str, Paragraph] | None:
    """How the article introduces a person it gives no role to, quoted: the apposition after
    their full name (", Kim Jong-un’s sister,") or else the words before it in its sentence
    ("… JAXA (Japan Aerospace Exploration Agency) President Hiroshi Yamakawa")."""
    for paragraph in paragraphs:
        at = paragraph.text.find(person.name)
        if at < 0:
            continue
        rest = paragraph.text[at + len(person.name) :]
        after = _APPOSITION.match(rest)
        if after and not _not_apposition(after.group(1).split()[0]):
            return after.group(1).strip(), paragraph
        if clause := _WHO_CLAUSE.match(rest):  # ", who runs a bakery near the bridge,"
            return clause.group(1).strip(), paragraph
        sentences = split_sentences(paragraph.text[:at] + "X")  # the sentence the name stands in
        # Not a quote before the name ("“…,” said Mayor Deborah Keane"): the words after it.
        before = _AFTER_QUOTE.split(sentences[-1][:-1])[-1].split()[-12:] if sentences else []
        if before:
            return f"“…{' '.join(before)} {person.name}”", paragraph
    return None


def _not_apposition(first: str) -> bool:
    """Whether a phrase after a name opening with ``first`` says something else than who they
    are: "said", "who", or a participle that belongs to the noun before the name ("a penalty
    by captain Leo Marsh, awarded after Ruiz handled the ball"; ", saying it was …")."""
    word = first.lower()
    return word in _NOT_APPOSITION or (first.islower() and word.endswith(("ed", "ing")))


def _which_of_them(request: Request, attributions: Any, entries: Sequence[Entry]) -> StreamEvent:
    """"Which of them …" answered from the list and the attribution data, never guessed."""
    question = request.question
    asked = _plain(question)
    if not entries:
        return request.answer(NO_ONE, (), refused=True, reason="no people")
    pronoun = "she" if _SHE.search(question) else "he" if _HE.search(question) else None
    if pronoun:
        found = []
        for e in entries:
            person = attributions.person(e.name)
            if person is not None and person.pronoun == pronoun:
                found.append((e, _pronoun_paragraph(request, attributions, person, pronoun) or e.first))
        if not found:
            names = _join([e.name for e in entries])
            text = f"{NOT_IN_ARTICLE} It refers to none of {names} as “{pronoun}”."
            return request.answer(text, (), refused=True, reason="not stated")
        them = "her" if pronoun == "she" else "him"
        parts = [f"{e.name} (the article refers to {them} as “{pronoun}” [¶{p.number}])" for e, p in found]
        others = [e.name for e in entries if e not in {f for f, _ in found}]
        text = f"{_join(parts)}."
        if others:
            text += f" The article does not say it of {_join(others)}."
        return request.answer(text, [request.citation(p) for _, p in found])
    names = _names_in(request, question)
    words = content_words(question) - _GENERIC
    if names:  # "works for CSIS": the name (or its long form) must be in the description
        described = [(e, d, p) for e in entries for d, p in e.descriptions
                     if any(n.lower() in d.lower() for n in names)]  # fmt: skip
    else:
        described = [(e, d, p) for e in entries for d, p in e.descriptions if words & content_words(d)]
    if described:
        parts = [f"{e.name}, {d} [¶{p.number}]" for e, d, p in described]
        return request.answer(f"{_join(parts)}.", [request.citation(p) for _, _, p in described])
    paragraphs = {p.number: p for p in request.paragraphs}
    said: list[tuple[Entry, list[int]]] = []
    for e in entries:
        where = [s.paragraph for s in attributions.statements
                 if e.name in (s.speakers or (s.speaker,)) and _about(s.text, names, words)]  # fmt: skip
        if where:
            said.append((e, list(dict.fromkeys(where))[:3]))
    if said:
        parts = [f"{e.name} {' '.join(f'[¶{n}]' for n in ns)}" for e, ns in said]
        cites = [request.citation(paragraphs[n]) for _, ns in said for n in ns if n in paragraphs]
        return request.answer(f"{_join(parts)}.", cites)
    rest = _FOLLOWUP.sub("", asked).strip().rstrip("?.! ")
    listed = _join([e.name for e in entries])
    text = f"{NOT_IN_ARTICLE} It does not say which of {listed} {rest}." if rest else f"{NOT_IN_ARTICLE}"
    return request.answer(text, (), refused=True, reason="not stated")


def _about(text: str, names: Sequence[str], words: set[str]) -> bool:
    """Whether a statement is about what the question names (its names, else most of its words)."""
    if names:
        return any(n.lower() in text.lower() for n in names)
    return bool(words) and len(words & content_words(text)) >= max(1, (len(words) + 1) // 2)


def _names_in(request: Request, question: str) -> list[str]:
    """The names in a "Which of them …" question, each with its other form ("CSIS" and "Center
    for Strategic and International Studies")."""
    from .conversation import names

    found = [n for n in names(question) if n.lower() not in ("which", "who", "them")]
    acronyms = request.assistant.retriever.acronyms
    out = list(found)
    for name in found:
        if acronyms is not None:
            out += [acronyms.long_forms[name]] if name in acronyms.long_forms else []
            out += [a for a, long in acronyms.long_forms.items() if long.lower() == name.lower()]
    return list(dict.fromkeys(out))


def _pronoun_paragraph(request: Request, attributions: Any, person, pronoun: str) -> Paragraph | None:
    """The paragraph where the article refers to ``person`` by ``pronoun``: a statement it gives
    them through the pronoun, else a paragraph naming them that holds the pronoun."""
    pattern = re.compile(rf"\b{pronoun}\b", re.IGNORECASE)
    numbers = [s.paragraph for s in attributions.statements
               if s.speaker == person.name and s.how == "pronoun"]  # fmt: skip
    numbers += list(person.paragraphs)
    by_number = {p.number: p for p in request.paragraphs}
    for n in numbers:
        if n in by_number and pattern.search(by_number[n].text):
            return by_number[n]
    return None


def _people_without_data(request: Request) -> Iterator[StreamEvent]:
    """Without spaCy: the names the article has speak ("Cha said"), cited where they first do."""
    found: list[tuple[str, Paragraph]] = []
    names = request.assistant.people
    for name in names:  # a surname alone ("Cha said") counts under the full name
        if any(name != other and name in other.split() for other in names):
            continue
        where = next((p for p in request.paragraphs if name in p.text), None)
        if where is not None and where.doc == request.doc:
            found.append((name, where))
    if not found:
        yield request.answer(NO_ONE, (), refused=True, reason="no people")
        return
    names = [f"{n} [¶{p.number}]" for n, p in found]
    yield request.answer(f"The article quotes {_count(len(found))} people: {_join(names)}.",
                         [request.citation(p) for _, p in found])  # fmt: skip


def _kind(subject: str) -> tuple[str, re.Pattern] | None:
    """The kind of person asked for, as the reader wrote it ("analysts"), and what a description
    of one reads like: an expert's or an official's wording, else the word itself ("coach")."""
    words = re.findall(r"[a-z]+", subject.lower())
    if not words:
        return None
    noun = words[-1]
    for kind, nouns in KIND_WORDS.items():
        if noun in nouns.split() or noun == kind:
            return noun, re.compile(KINDS[kind], re.IGNORECASE)
    if noun in ("people", "persons", "person", "individuals", "names", "figures", "sources", "voices"):
        return None
    single = _noun(noun, 1)
    single = single[:-1] if single.endswith("e") and single[:-1].endswith(("ch", "sh", "ss", "x")) else single
    return noun, re.compile(rf"\b{re.escape(single)}", re.IGNORECASE)


# -- items of a kind ---------------------------------------------------------------------------
def items(request: Request, attributions: Callable[[], Any], *, model: bool = True) -> Iterator[StreamEvent]:
    """Every item of the kind the question names, each verified in the article and cited."""
    kind = request.route.subject or "items"
    labels = entity_labels(kind)
    found: list[tuple[str, Paragraph]] = []
    removed: list[str] = []
    first = None
    reply = ""
    writes = model and request.backend is not None and request.shown is not None and not request.reading
    if writes:
        tail = f"Question: {_plain(request.question)} One '- ' line per item, as the article writes it."
        pieces: list[str] = []
        for piece in request.stream_model(request.messages(tail), 200):
            first = first if first is not None else time.perf_counter() - request.start
            pieces.append(piece)
            yield StreamEvent("delta", piece)
            done = [line.strip() for line in "".join(pieces).splitlines()[:-1] if line.strip()]
            if len(done) != len(set(done)):  # a small model repeating itself: the list is over
                break
        reply = "".join(pieces)
        for line in _lines(reply):
            match = locate(line, request.paragraphs)
            if match is None:
                removed.append(line)
            else:
                found.append(match)
    relative = _RELATIVE.match(kind)
    if relative:  # "players who scored": whoever the article says scored
        found += doers(request, attributions(), relative.group("verb"))
    tied = anchored(request, attributions(), kind) if request.assistant.checks.anchored else []
    if tied:  # the article says which are villages: "three coastal villages, Aldby, Brekke and Colnes"
        found += tied
    elif labels:
        found += named_entities(request, attributions(), labels)
    if not labels and not tied and not writes and not relative:
        text = (
            f"{NOT_IN_ARTICLE} Without a language model I can list the people, places, organisations, dates "
            f"and numbers the article names, not {kind}: choose the local model to list them."
        )
        yield request.answer(text, (), refused=True, reason="needs a model")
        return
    found = _unique(found)[:MAX_ITEMS]
    if not found:
        yield request.answer(f"{NOT_IN_ARTICLE} It names no {kind}.", (), first_token_s=first, refused=True,
                             removed=removed, draft=reply, reason="none found")  # fmt: skip
        return
    listed = [f"{name} [¶{p.number}]" for name, p in found]
    if len(found) <= 4:
        text = f"The article mentions {_count(len(found))} {_noun(kind, len(found))}: {_join(listed)}."
    else:
        text = f"The article mentions {_count(len(found))} {_noun(kind, len(found))}:\n" + "\n".join(
            f"- {x}" for x in listed
        )
    yield request.answer(text, [request.citation(p) for _, p in found], first_token_s=first, removed=removed,
                         draft=reply)  # fmt: skip


def entity_labels(kind: str) -> tuple[str, ...]:
    """spaCy entity types for a kind of thing ("places" -> GPE, LOC, FAC), or none."""
    words = set(re.findall(r"[a-z]+", kind.lower()))
    words |= {w[:-1] for w in words if w.endswith("s")} | {w[:-3] + "y" for w in words if w.endswith("ies")}
    best: tuple[str, ...] = ()
    for labels, nouns in ENTITY_KINDS.items():
        vocabulary = set(nouns.split())
        if words & vocabulary and (not best or len(labels.split()) < len(best)):
            best = tuple(labels.split())
    return best


def named_entities(request: Request, attributions: Any, labels: Sequence[str]) -> list[tuple[str, Paragraph]]:
    """The article's named entities of ``labels``, each with the paragraph it first occurs in;
    people's names tagged as something else, possessives, a leading "the" and a spelled-out
    acronym's short form left out."""
    nlp = _nlp(request, attributions)
    if nlp is None:
        return []
    person_words = set()
    if attributions is not None and "PERSON" not in labels:
        names = [n for p in attributions.people for n in (p.name, *p.aliases)]
        person_words = {w for n in names for w in plain_text(n).split()}
    out = []
    for paragraph in request.paragraphs:
        for ent in nlp(paragraph.text).ents:
            if ent.label_ not in labels:
                continue
            name = re.sub(r"^(?:the|The)\s+|[’']s$|[-–—]$|\s+\d+$", "", ent.text.strip(" .,;:")).strip()
            if len(name) < 2 or set(plain_text(name).split()) & person_words:
                continue
            # "SEOUL –" opening the story is a dateline: written as a name
            dateline = ent.start_char == 0 and name.isupper() and _DASH.match(paragraph.text[ent.end_char :])
            out.append((name.title() if dateline else name, paragraph))
    acronyms = request.assistant.retriever.acronyms
    if acronyms is not None:  # "DPRK" beside "Democratic People’s Republic of Korea": once
        present = {plain_text(n).lower() for n, _ in out}
        out = [(n, p) for n, p in out
               if plain_text(acronyms.long_forms.get(n, "")).lower() not in present]  # fmt: skip
    return out


def anchored(request: Request, attributions: Any, kind: str) -> list[tuple[str, Paragraph]]:
    """The names the article ties to the ``kind`` word itself ("villages"): listed with it ("three
    coastal villages, Aldby, Brekke and Colnes"), after "of" ("the village of Aldby") or before it
    ("Brekke village"), each with the paragraph it first occurs in. Broad entity types would also
    give the countries of "crews from Norway, Sweden and Finland" as villages."""
    nlp = _nlp(request, attributions)
    words = kind.lower().split()
    if nlp is None or len(words) != 1:
        return []
    out = []
    for paragraph, doc, token in _uses(request, nlp, words[0], ("NOUN", "PROPN")):
        before = _name_before(doc, token.i)  # "the Nuclear Non-Proliferation Treaty", "the X treaty"
        if token.pos_ == "PROPN":
            if before is not None:
                out.append((doc[before : token.i + 1].text, paragraph))
            continue
        if before is not None:
            out.append((doc[before : token.i].text, paragraph))
        ties = [*token.conjuncts, *(c for c in token.children if c.dep_ == "appos")]
        ties += [g for c in token.children if c.dep_ == "prep" and c.lower_ == "of" for g in c.children]
        for tie in ties:
            for item in (tie, *tie.conjuncts):
                if item.pos_ == "PROPN" and item.i != token.i:  # "New Aldby": the name before it too
                    start = _name_before(doc, item.i)
                    out.append((doc[item.i if start is None else start : item.i + 1].text, paragraph))
    return _unique(out)


def _name_before(doc, i: int) -> int | None:
    """Where the run of proper nouns just before token ``i`` starts ("Non-Proliferation" whole),
    or ``None`` when the word before it is none."""
    def named(k: int) -> bool:  # a proper noun, or a hyphen inside one
        return doc[k].pos_ == "PROPN" or (doc[k].text in "-‐–" and k > 0 and doc[k - 1].pos_ == "PROPN")

    j = i - 1
    while j >= 0 and named(j):
        j -= 1
    return j + 1 if j + 1 < i else None


def doers(request: Request, attributions: Any, verb: str) -> list[tuple[str, Paragraph]]:
    """Who or what the article says did ``verb`` ("scored"): the named subject of each use of the
    verb (a verb with no subject of its own, "…, scoring a header", takes the clause's), each
    with the paragraph saying so."""
    nlp = _nlp(request, attributions)
    if nlp is None:
        return []
    out = []
    for paragraph, parsed, token in _uses(request, nlp, verb, ("VERB", "AUX")):
        head = token
        while head.dep_ in _INHERITS and not any(c.dep_ in _SUBJECTS for c in head.children):
            head = head.head
        for subject in (c for c in head.children if c.dep_ in _SUBJECTS):
            entity = next((e for e in parsed.ents if e.start <= subject.i < e.end), None)
            if entity is not None and entity.label_ in ("PERSON", "ORG", "GPE", "NORP"):
                out.append((entity.text, paragraph))
            elif subject.pos_ == "PROPN":
                words = [t for t in subject.subtree if t.pos_ == "PROPN" or t.dep_ == "compound"]
                out.append((" ".join(t.text for t in words) or subject.text, paragraph))
    return out


def _uses(request: Request, nlp, word: str, pos: tuple[str, ...]) -> Iterator[tuple[Paragraph, Any, Any]]:
    """Each use of ``word`` in the article as one of the parts of speech ``pos``, by lemma
    ("villages" for "village", "scoring" for "scored"): its paragraph, the paragraph's parse and
    the token."""
    lemma = nlp(word)[0].lemma_.lower()
    for paragraph in request.paragraphs:
        doc = nlp(paragraph.text)
        for token in doc:
            if token.lemma_.lower() == lemma and token.pos_ in pos:
                yield paragraph, doc, token


def _nlp(request: Request, attributions: Any):
    """The spaCy pipeline the attribution data was made with (``None`` without spaCy)."""
    if attributions is None:
        return None
    from .attribution import load_nlp  # cached once per process

    try:
        return load_nlp()
    except (OSError, ImportError):
        return None


def locate(item: str, paragraphs: Sequence[Paragraph]) -> tuple[str, Paragraph] | None:
    """``item`` as the article writes it, and the first paragraph holding it: the longest start
    of the item (cut at a word) found in a paragraph, if it names something (a capital or digit)."""
    words = item.split()
    texts = [(p, plain_text(p.text).lower()) for p in paragraphs]
    for n in range(len(words), 0, -1):
        candidate = " ".join(words[:n]).strip(" .,;:()\"'“”‘’")
        if len(candidate) < 3 or (n == 1 and not re.search(r"[A-Z0-9]", candidate)):
            continue
        needle = plain_text(candidate).lower()
        pattern = re.compile(rf"(?<![\w-]){re.escape(needle)}(?![\w-])")
        for p, text in texts:
            m = pattern.search(text)
            if m:
                return p.text[m.start() : m.end()] if len(p.text) == len(text) else candidate, p
    return None


def _lines(reply: str) -> list[str]:
    """The items of a model's list: its '- ' lines without descriptions after a dash or colon, or
    the sentences of a reply written as prose."""
    lines = [line for line in reply.splitlines() if line.strip()]
    if len(lines) == 1 and not _ITEM.match(lines[0]):
        lines = split_sentences(lines[0])
    out = []
    for line in lines:
        line = _ITEM.sub("", line).strip()
        line = re.split(r"\s+[–—-]\s+|:\s|\s\(", line)[0].strip(" .,;")
        if line and not line.endswith(":"):
            out.append(line)
    return list(dict.fromkeys(out))


def _unique(found: Sequence[tuple[str, Paragraph]]) -> list[tuple[str, Paragraph]]:
    """One entry per item: a name inside a longer one listed counts once (the longer kept)."""
    out: list[tuple[str, Paragraph]] = []
    for name, p in found:
        key = plain_text(name).lower()
        clash = next((i for i, (n, _) in enumerate(out) if key in plain_text(n).lower()
                      or plain_text(n).lower() in key), None)  # fmt: skip
        if clash is None:
            out.append((name, p))
        elif len(name) > len(out[clash][0]):
            out[clash] = (name, out[clash][1] if out[clash][1].number <= p.number else p)
    return out


def _count(n: int) -> str:
    return _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)


def _noun(kind: str, n: int) -> str:
    kind = kind.strip()
    if n == 1 and kind.endswith("ies"):
        return kind[:-3] + "y"
    if n == 1 and kind.endswith("s"):
        return kind[:-1]
    return kind


def _join(parts: Sequence[str]) -> str:
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]

