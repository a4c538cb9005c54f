"""The people an article names: their fullest name, the shorter forms and pronouns that stand for
them, and their roles as the article words them.

Nothing here knows any article's names. A person is found from spaCy's parse: a PERSON entity,
or a proper name with a role beside it ("Hong Min, a senior research fellow at ..."). A shorter
form ("Cha", "Hong", "Mr. Tedeschi") is matched to a fuller name the article gave, whichever end
of the name it is (family name first or last); when several fit ("Kim"), the one mentioned most
recently wins. A pronoun takes the most recent person it can stand for; a person's pronoun is
learnt from the article's own words, never guessed from the name: the pronouns it uses for them,
and the gendered words it calls them by ("Ms.", "a spokeswoman", "his son").
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # spaCy is imported only when an article is parsed
    from spacy.tokens import Span, Token

# Words before a name that are not part of it ("Mr. Tedeschi", "President Biden").
HONORIFICS = frozenset("mr mrs ms miss mx dr prof sir dame lord lady rev fr".split())
TITLES = frozenset(
    """
    president vice prime premier chancellor minister senator sen rep representative gov governor mayor
    judge justice general gen col capt captain lt sgt adm admiral ambassador secretary chairman
    chairwoman king queen prince princess pope cardinal bishop rabbi imam sheikh coach commissioner
    inspector detective officer director administrator chief deputy councillor councilman speaker
    """.split()
)
# Head nouns of a role that only a person has: a proper name described by one is a person even
# when the entity recogniser calls it a place or an organisation.
ROLE_NOUNS = frozenset(
    """
    fellow adviser advisor analyst spokesperson spokesman spokeswoman minister president director
    chair chairman chairwoman professor researcher scholar expert official officer coach captain
    manager prosecutor lawyer attorney judge senator lawmaker mp legislator ambassador secretary chief
    executive ceo founder head leader commander general economist scientist author editor reporter
    correspondent administrator governor mayor premier chancellor envoy diplomat negotiator deputy
    candidate player striker defender goalkeeper midfielder substitute winger forward doctor nurse
    physician surgeon teacher
    student witness father mother sister brother son daughter wife husband widow colleague counsel
    barrister solicitor qc sc king queen prince princess bishop priest activist campaigner worker
    owner historian commentator strategist consultant engineer astronaut pilot soldier citizen
    resident homeopath partner associate lecturer inspector detective agent child baby girl boy man
    woman
    """.split()
)
PRONOUN_GENDER = {
    "he": "he", "him": "he", "his": "he", "himself": "he",
    "she": "she", "her": "she", "hers": "she", "herself": "she",
}  # fmt: skip
# English words that say which pronoun a person takes: honorifics and gendered role nouns. The
# article calling someone "a spokeswoman for ..." or "Mr. ..." says "she" or "he" as surely as a
# later pronoun does, and in news the next sentence is often "She added ...".
GENDERED_WORDS = {
    **dict.fromkeys(
        """mrs ms miss dame lady spokeswoman chairwoman businesswoman congresswoman councilwoman
        policewoman sportswoman stateswoman mother sister daughter wife widow queen princess girl
        woman actress grandmother granddaughter aunt niece mum mom""".split(),
        "she",
    ),
    **dict.fromkeys(
        """mr sir lord spokesman chairman businessman congressman councilman policeman sportsman
        statesman father brother son husband widower king prince boy man actor grandfather
        grandson uncle nephew dad""".split(),
        "he",
    ),
}
NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "FAC", "LOC", "PRODUCT", "WORK_OF_ART", "EVENT"})
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")
_FOLD = str.maketrans({"’": "'", "‘": "'", "`": "'", "‐": "-", "‑": "-", "–": "-"})


@dataclass(frozen=True)
class Person:
    """One person the article names, with every form it uses for them."""

    doc: str
    name: str  # fullest form the article gives ("Sydney Seiler")
    aliases: tuple[str, ...]  # other forms the article uses ("Seiler",)
    descriptions: tuple[str, ...]  # role/affiliation as worded ("a senior adviser to the Korea Chair")
    pronoun: str | None  # "she"/"he" only if the article refers to them so
    paragraphs: tuple[int, ...]  # paragraphs naming them (any form)


def fold(text: str) -> str:
    """Case, accents, curly quotes and dashes folded, spaces collapsed: for comparing names."""
    text = unicodedata.normalize("NFKD", text.translate(_FOLD))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.casefold().split())


# A profession by its ending ("meteorologist", "physician"), as the first of three capitalised
# words opening a sentence: "Meteorologist Ane Dahl said …". No first name ends so.
_PROFESSION = re.compile(r"(?:ist|ician)s?$")


def clean_name(text: str) -> tuple[str, str]:
    """``(name, title)``: a name without a possessive ending or the titles before it."""
    words = _POSSESSIVE.sub("", " ".join(text.split()).strip(" ,;:")).split()
    title: list[str] = []
    while len(words) > 1:
        word = words[0].rstrip(".").casefold()
        if word == "the":
            words.pop(0)
        elif word in HONORIFICS | TITLES | ROLE_NOUNS or (len(words) > 2 and _PROFESSION.search(word)):
            title.append(words.pop(0))  # "Engineer Chidi Okafor" when the recogniser took the role in
        else:
            break
    return " ".join(words), " ".join(title)


def _words(name: str) -> tuple[str, ...]:
    return tuple(fold(name).replace(".", "").split())


def _contains(full: tuple[str, ...], part: tuple[str, ...]) -> bool:
    n = len(part)
    return 0 < n < len(full) and any(full[i : i + n] == part for i in range(len(full) - n + 1))


@dataclass
class _Entry:
    key: int
    name: str
    words: tuple[str, ...]
    aliases: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    heads: set[str] = field(default_factory=set)  # lemmas of description heads ("prosecutor")
    pronoun: str | None = None
    paragraphs: list[int] = field(default_factory=list)


class PeopleIndex:
    """The people of one article, filled in reading order (mentions must come in text order)."""

    def __init__(self, doc: str, window: int = 3) -> None:
        self.doc = doc
        self.window = window  # paragraphs back that a pronoun may reach
        self.entries: list[_Entry] = []
        # (position, paragraph, key, inside a quote, sentence number), in reading order
        self.mentions: list[tuple[int, int, int, bool, int]] = []
        self.positions: dict[int, list[int]] = {}  # key -> positions of its mentions, ascending
        self.owners: set[int] = set()  # positions of possessive pronouns ("His lawyer, …")

    def find(self, name: str, position: int) -> tuple[int | None, str]:
        """``(key, how)`` of the person ``name`` stands for ("named" or "alias"), or ``(None, "")``."""
        words = _words(name)
        if not words:
            return None, ""
        for entry in self.entries:
            if entry.words == words:
                return entry.key, "named"
        fits = [e for e in self.entries if _contains(e.words, words)]
        if not fits:
            return None, ""
        return self._most_recent(fits, position).key, "alias"

    def add(
        self, surface: str, position: int, paragraph: int, in_quote: bool, sentence: int = 0
    ) -> tuple[int, str]:
        """Record a mention of a person by name; return ``(key, how)``, creating the person if new."""
        name, title = clean_name(surface)
        key, how = self.find(name, position)
        if key is None:  # a fuller name after a shorter one is someone new ("Hansen" … his son "Erik Hansen")
            key, how = len(self.entries), "named"
            self.entries.append(_Entry(key, name, _words(name)))
        entry = self.entries[key]
        self._learn_pronoun(entry, title.split()[0] if title else "")
        form = f"{title} {name}" if title and title.rstrip(".").casefold() in HONORIFICS else name
        if fold(form) != fold(entry.name) and form not in entry.aliases:
            entry.aliases.append(form)
        if how == "alias" and title and title.rstrip(".").casefold() in HONORIFICS:
            how = "title"
        self._mention(position, paragraph, key, in_quote, sentence)
        return key, how

    def pronoun(
        self, word: str, position: int, paragraph: int, sentence: int = 0, possessive: bool = False
    ) -> int | None:
        """The person a he/she-type pronoun outside quotes stands for.

        In its own or the previous sentence, a person the article already calls by this pronoun
        comes first; otherwise the most recent person not called by the other one, up to
        ``window`` paragraphs back. Whoever it resolves to is then known by this pronoun. A
        ``possessive`` ("His lawyer, Sam Brandt, said …") names whose someone is, not who acts:
        the next sentence's "he told reporters" is the lawyer, so it does not put its person first."""
        gender = PRONOUN_GENDER.get(word.casefold())
        if gender is None:
            return None
        known = fits = None
        for pos, par, key, in_quote, sent in reversed(self.mentions):
            if par < paragraph - self.window:
                break
            if pos >= position or in_quote:
                continue
            other = self.entries[key].pronoun
            if known is None and sent >= sentence - 1 and other == gender and pos not in self.owners:
                known = key
            if fits is None and other in (None, gender):
                fits = key
        key = known if known is not None else fits
        if key is None:
            return None
        self.entries[key].pronoun = gender
        self._mention(position, paragraph, key, False, sentence, named=False)
        if possessive:
            self.owners.add(position)
        return key

    def describe(self, key: int, text: str, head: str) -> None:
        """Add a role or affiliation worded by the article."""
        entry = self.entries[key]
        text = text.strip(" ,;:–—-")
        if (
            any(c.isalpha() for c in text)
            and fold(text) != fold(entry.name)
            and text not in entry.descriptions
        ):
            # "District Attorney" replaces the "Attorney" read before it off the name's span.
            words = fold(text).split()
            entry.descriptions[:] = [d for d in entry.descriptions if not _ends(words, fold(d).split())]
            entry.descriptions.append(text)
            entry.heads.add(head.casefold())
            self._learn_pronoun(entry, head)

    @staticmethod
    def _learn_pronoun(entry: _Entry, word: str) -> None:
        """Note the pronoun a gendered honorific or role noun gives ("Ms.", "spokeswoman")."""
        gender = GENDERED_WORDS.get(word.rstrip(".").casefold())
        if gender is not None and entry.pronoun is None:
            entry.pronoun = gender

    def by_description(self, head: str, position: int) -> int | None:
        """The person most recently mentioned whose role has head noun ``head`` ("the prosecutor")."""
        fits = [e for e in self.entries if head.casefold() in e.heads and self._last(e, position) >= 0]
        return self._most_recent(fits, position).key if fits else None

    def name(self, key: int) -> str:
        return self.entries[key].name

    def people(self, speakers: frozenset[str] = frozenset()) -> tuple[Person, ...]:
        """The people in order of first mention: those named outside quotes with a full name, a
        role, a pronoun, a title or a statement (a lone capitalised word is often not a person)."""
        shown = [
            e
            for e in self.entries
            if any(k == e.key and not q for _, _, k, q, _ in self.mentions)
            and (len(e.words) > 1 or e.descriptions or e.pronoun or e.name in speakers
                 or any(a != e.name and a.endswith(e.name) for a in e.aliases))
        ]  # fmt: skip
        return tuple(
            Person(
                self.doc,
                e.name,
                tuple(a for a in dict.fromkeys(e.aliases) if fold(a) != fold(e.name)),
                tuple(e.descriptions),
                e.pronoun,
                tuple(sorted(set(e.paragraphs))),
            )
            for e in shown
        )

    def _mention(
        self, position: int, paragraph: int, key: int, in_quote: bool, sentence: int, named: bool = True
    ) -> None:
        self.mentions.append((position, paragraph, key, in_quote, sentence))
        self.positions.setdefault(key, []).append(position)
        if named:  # Person.paragraphs: where a form of the name occurs
            self.entries[key].paragraphs.append(paragraph)

    def _last(self, entry: _Entry, position: int) -> int:
        seen = self.positions.get(entry.key, [])
        k = bisect.bisect_left(seen, position)
        return seen[k - 1] if k else -1

    def _most_recent(self, entries: list[_Entry], position: int) -> _Entry:
        return max(entries, key=lambda e: (self._last(e, position), -e.key))


_PRONOUN_SUBJECT = re.compile(r"^(?:He|She|They)\b")


def named_subjects(sentences: list[str], speakers: tuple[str, ...] | list[str]) -> list[str]:
    """The ``sentences`` that open with "He", "She" or "They", that pronoun replaced by the one
    speaker resolved in their paragraph ("She called for a trial." → "Leila Haddad called for a
    trial."); none when several speak there."""
    if len(set(speakers)) != 1:
        return []
    return [_PRONOUN_SUBJECT.sub(speakers[0], s) for s in sentences if _PRONOUN_SUBJECT.match(s)]


# --- reading names and roles off a spaCy parse -------------------------------------------------


def name_spans(doc) -> list[Span]:
    """Proper names: every named entity of a name-like label, and runs of proper nouns it missed
    ("Du-yeon" pieces joined), without a trailing possessive."""
    spans: list[Span] = []
    covered: set[int] = set()
    for ent in doc.ents:
        if ent.label_ not in NAME_LABELS:
            continue
        start = ent.start
        root = doc[ent.start : ent.end].root
        while start > 0 and (_first_name(doc[start - 1], root) or _stray_preposition(doc[start - 1])
                             or (ent.label_ != "PERSON" and _name_word(doc[start - 1], root))):  # fmt: skip
            start -= 1  # "Dries Mertens" when the recogniser took only "Mertens"; "Swedish Maritime Museum"
        span = _trim(doc[start : ent.end], ent.label_ == "PERSON")
        if span is not None:
            while spans and spans[-1].start >= span.start:
                spans.pop()  # "Swedish" alone, now inside "Swedish Maritime Museum"
            spans.append(doc.char_span(span.start_char, span.end_char, label=ent.label_) or span)
            covered.update(range(start, ent.end))
    i = 0
    while i < len(doc):
        if doc[i].pos_ == "PROPN" and i not in covered and doc[i].text[:1].isupper():
            j = i + 1
            while (
                j < len(doc)
                and j not in covered
                and (doc[j].pos_ == "PROPN" or (doc[j].text == "-" and not doc[j - 1].whitespace_))
            ):
                j += 1
            span = _trim(doc[i:j])
            if span is not None:
                spans.append(span)
            i = j
        else:
            i += 1
    return sorted(spans, key=lambda s: s.start)


def _first_name(token: Token, root: Token) -> bool:
    return (
        token.pos_ == "PROPN"
        and token.head.i == root.i
        and token.dep_ == "compound"
        and not token.ent_type_
        and token.text[:1].isupper()
        and not token.text.isupper()
        and token.lower_.rstrip(".") not in TITLES | HONORIFICS
    )


def _stray_preposition(token: Token) -> bool:
    """A capitalised "preposition" with no object, right before a name: a first name the tagger
    read as a word ("Per Lindqvist, a historian, said"; "In Lindqvist's view" has its object)."""
    return (
        token.pos_ == "ADP"
        and token.text[:1].isupper()
        and not any(True for _ in token.children)
        and bool(token.whitespace_)
        and token.i + 1 < len(token.doc)
        and token.doc[token.i + 1].text[:1].isupper()
    )


def _name_word(token: Token, root: Token) -> bool:
    """A capitalised word of an institution's name the recogniser left out as a nationality or
    place: "Swedish" of "the Swedish Maritime Museum" (a compound of the same head)."""
    compound = token.dep_ == "compound" and token.head.i == root.i
    return compound and token.pos_ == "PROPN" and token.text[:1].isupper()


def _trim(span: Span, person: bool = True) -> Span | None:
    start, end = span.start, span.end
    doc = span.doc
    for k in range(start, end - 1):  # "Korea's Kim Shin-Wook": the name is after the possessive
        if person and doc[k].tag_ == "POS":
            start = k + 1
    while end > start and (doc[end - 1].tag_ == "POS" or doc[end - 1].is_punct):
        end -= 1
    while start < end and (doc[start].is_punct or doc[start].lower_ == "the"):
        start += 1
    return doc[start:end] if end > start else None


def is_role(token: Token) -> bool:
    """A noun naming a role only a person has ("fellow", "spokesperson", "coach")."""
    return token.lemma_.casefold() in ROLE_NOUNS or token.lower_ in ROLE_NOUNS


def name_root(span: Span) -> Token:
    """The word a name's roles and verbs attach to: the span's root, or its last proper noun when
    the parse made a first name its root ("Per" read as a preposition in "Per Lindqvist")."""
    root = span.root
    if root.pos_ in ("PROPN", "NOUN") or not any(t.pos_ == "PROPN" for t in span):
        return root
    return [t for t in span if t.pos_ == "PROPN"][-1]


def _ends(words: list[str], tail: list[str]) -> bool:
    """Whether ``tail`` is a shorter run of words that ``words`` ends with."""
    return 0 < len(tail) < len(words) and words[-len(tail) :] == tail


def role_descriptions(span: Span) -> list[tuple[str, Token]]:
    """Roles the parse attaches to a name: appositives ("Victor Cha, Korea chair at CSIS,"), the
    phrase the name is appositive to ("the Crown prosecutor, Mark Tedeschi") and titles before the
    name ("Environment Canada spokesperson Julie Hahn"). Each with its head token."""
    doc, root = span.doc, name_root(span)
    out: list[tuple[str, Token]] = []
    for child in root.children:
        if child.dep_ == "appos" and not (span.start <= child.i < span.end):
            if child.pos_ == "PROPN" and child.ent_type_ == "PERSON":
                continue
            if child.i > span.start and (span.end >= len(doc) or doc[span.end].text not in ",(–—"):
                continue
            tokens = [t for t in child.subtree if not _in_clause(t, child)]
            out.append((_text(doc, tokens), child))
    after = bool(out)
    if (
        root.dep_ == "appos"
        and root.head.pos_ == "NOUN"
        and span.start
        and (doc[span.start - 1].text in ",(–—" or root.head.i == span.start - 1)
    ):
        head = root.head
        cut = max((k for k in range(head.left_edge.i, head.i) if doc[k].text in ",;:(—–"), default=-1)
        tokens = [t for t in head.subtree if cut < t.i < span.start and not _in_clause(t, head)]
        if tokens and tokens[-1].i >= head.i:
            out.append((_text(doc, tokens), head))
    before = []
    k = span.start - 1
    while k >= 0 and root.is_ancestor(doc[k]) and not _in_clause(doc[k], root):
        before.append(doc[k])
        k -= 1
    before.reverse()
    # A title the name's span took in ("District Attorney Maria Okafor" parsed as "Attorney Maria
    # Okafor") continues the words before it.
    named = [t.i for t in span if t.ent_type_ == "PERSON"]
    title = [t for t in span if named and t.i < named[0]]
    before += title if before and title and is_role(title[-1]) else []
    while before and (
        before[0].pos_ in ("DET", "CCONJ", "ADP", "PUNCT") or before[0].lower_.rstrip(".") in HONORIFICS
    ):
        before.pop(0)
    while before and before[-1].lower_.rstrip(".") in HONORIFICS:  # "Climate scientist Dr. Hanna Berg"
        before.pop()
    if before and any(t.pos_ in ("NOUN", "PROPN") for t in before):
        head = next((t for t in reversed(before) if t.pos_ in ("NOUN", "PROPN")), before[-1])
        out.append((_text(doc, before), head))
    if not after:
        out.extend(_set_off_role(span))
    out.extend(_affiliation(span, root))
    return out


def _affiliation(span: Span, root: Token) -> list[tuple[str, Token]]:
    """ "Name of <a name>" right after the name, up to a comma, a clause or a verb: "Professor
    Daniel Wu of the California Institute of Technology, who …" → "of the California Institute
    of Technology" (its head the preposition, so "the institute" never stands for the person)."""
    doc = span.doc
    after = doc[span.end] if span.end < len(doc) else None
    if after is None or after.lower_ not in ("of", "at", "from") or after.head.i != root.i:
        return []
    tokens: list[Token] = []
    for t in doc[span.end : span.end + 12]:
        if tokens and (t.is_punct or t.pos_ in ("VERB", "AUX") or t.lower_ in ("who", "which", "that")):
            break
        tokens.append(t)
    if tokens[-1].pos_ != "PROPN":
        return []
    return [(_text(doc, tokens), tokens[0])]


def _set_off_role(span: Span) -> list[tuple[str, Token]]:
    """ "Name, <noun phrase ending in a role>," that the parse did not make an appositive
    ("Kim Yo-jong, Kim Jong-un's sister, who …")."""
    doc, k = span.doc, span.end + 1
    if span.end >= len(doc) or doc[span.end].text != ",":
        return []
    tokens: list[Token] = []
    while k < len(doc) and len(tokens) < 12:
        t = doc[k]
        if t.text in {",", ";", ".", "(", ")", "—", "–", ":"} or t.lower_ in ("who", "which", "that"):
            break
        if t.pos_ in ("VERB", "AUX"):
            return []
        tokens.append(t)
        k += 1
    if not tokens or k >= len(doc) or tokens[-1].pos_ != "NOUN" or not is_role(tokens[-1]):
        return []
    return [(_text(doc, tokens), tokens[-1])]


def _in_clause(token: Token, top: Token) -> bool:
    """Whether ``token`` is inside a relative clause or a quote hanging under ``top``."""
    t = token
    while t.i != top.i:
        if t.dep_ in ("relcl", "acl", "advcl", "ccomp") and t.i != top.i:
            return True
        t = t.head
    return False


def _text(doc, tokens: list[Token]) -> str:
    if not tokens:
        return ""
    first, last = min(t.i for t in tokens), max(t.i for t in tokens)
    while last > first and doc[last].is_punct and doc[last].text not in ")”":
        last -= 1
    while first < last and doc[first].is_punct:
        first += 1
    return doc[first : last + 1].text


_AFTER_ROLE = re.compile(r"\s+(?:at|to|for|of|with|in|on|from|who|and)\b.*$", re.IGNORECASE)


def role_head(description: str) -> str:
    """The word a description names its role by, lower-cased: "an automotive analyst at Bergmann
    Bank" → "analyst", "a senior adviser to the Korea Chair" → "adviser", "Environment Minister" →
    "minister"; "" for none."""
    words = _AFTER_ROLE.sub("", description.strip()).split()
    return words[-1].casefold() if words and words[-1].isalpha() else ""
