"""Who said it: the article's own speakers, in the answers.

News is made of statements: quotes and reported claims, each with a speaker that the article
names before or after the words, by a pronoun, or in an earlier paragraph
(:mod:`rag.attribution` resolves them when an article is indexed). A small model mixes the
experts up. So the pipeline uses the statements it has resolved:

* **who-said questions** ("Who argued that …?", "Which coach said …?") are answered with the
  speaker of the statement that matches the question best, when one statement stands out;
  the model's own choice of person is kept only when it agrees (:meth:`WhoSaid.speaker_for`);
* **the answer's text** names that speaker and quotes the statement, cited
  (:meth:`WhoSaid.speaker_text`), unless the model's answer already does (:meth:`WhoSaid.gives_speaker`);
* **every answer sentence** that gives words to a person is checked: when the statement it
  restates belongs to someone else, the sentence gives one person's words to another and is
  removed (:meth:`WhoSaid.misattributed`).

A statement matches a text by meaning (cosine of their sentence vectors) and by words (the share
of the text's content words that the statement, its paragraph and its speaker hold). Nothing here
knows any article's names: people, aliases and speakers all come from the attribution step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .attribution import Attributions, Person, Statement
from .evidence import expected_type, known_word
from .people import ROLE_NOUNS, role_head
from .text import (
    NESTED_QUOTES,
    QUOTE_WORDS,
    content_words,
    main_question,
    plain_text,
    split_sentences,
    strip_markers,
)
from .types import Citation, Paragraph

# Verbs of saying, as a question or an answer uses them ("Who argued …?", "Cha warned that …").
_SPEECH = (
    r"s(?:ay|ays|aid)|t(?:ell|ells|old)|stat(?:e|es|ed)|not(?:e|es|ed)|add(?:s|ed)?|explain(?:s|ed)?|"
    r"argu(?:e|es|ed)|warn(?:s|ed)?|claim(?:s|ed)?|stress(?:es|ed)?|suggest(?:s|ed)?|describ(?:e|es|ed)|"
    r"call(?:s|ed)?|accus(?:e|es|ed)|interpret(?:s|ed)?|predict(?:s|ed)?|insist(?:s|ed)?|admit(?:s|ted)?|"
    r"den(?:y|ies|ied)|announc(?:e|es|ed)|confirm(?:s|ed)?|wr(?:ite|ites|ote)|point(?:s|ed)?\s+out|"
    r"highlight(?:s|ed)?|emphasi[sz](?:e|es|ed)|caution(?:s|ed)?|conced(?:e|es|ed)|contend(?:s|ed)?|"
    r"maintain(?:s|ed)?|observ(?:e|es|ed)|remark(?:s|ed)?|repl(?:y|ies|ied)|respond(?:s|ed)?|urg(?:e|es|ed)|"
    r"beg(?:s|ged)?|plead(?:s|ed)?|complain(?:s|ed)?|critici[sz](?:e|es|ed)|condemn(?:s|ed)?|"
    r"acknowledg(?:e|es|ed)|believ(?:e|es|ed)|think(?:s)?|thought|characteri[sz](?:e|es|ed)|"
    r"dismiss(?:es|ed)?|reject(?:s|ed)?|question(?:s|ed)?|doubt(?:s|ed)?|express(?:es|ed)?|voic(?:e|es|ed)|"
    r"recall(?:s|ed)?|reveal(?:s|ed)?|assert(?:s|ed)?|frame(?:s|d)?|compar(?:e|es|ed)|quot(?:e|es|ed)|"
    r"concur(?:s|red)?|agree(?:s|d)?|disagree(?:s|d)?|assess(?:es|ed)?|estimat(?:e|es|ed)|forecast(?:s|ed)?|"
    r"propos(?:e|es|ed)|recommend(?:s|ed)?|advis(?:e|es|ed)|ask(?:s|ed)?|demand(?:s|ed)?|"
    r"refer(?:s|red)?\s+to|sp(?:eak|oke|eaks)|testif(?:y|ies|ied)"
)
SPEECH_VERB = re.compile(rf"\b(?:{_SPEECH})\b", re.IGNORECASE)
# A question about a source: its verb of saying or reporting, or the source itself.
_ASKS_SOURCE = re.compile(
    rf"\b(?:{_SPEECH})\b|\breport|\baccording\b|\bsource|\boutlet|\bnewspaper|\bagency|\bmedia\b", re.I
)
# "Who (also) said …", "Which expert said …", "Which Ottawa MP accused …", "What official warned …";
# not "Who is …" (a description) nor "Who ordered …" (the one who ordered is not the one quoted).
# The words between "which"/"what" and the verb name the speaker ("which Ottawa MP"), never an
# auxiliary: "What did he say …?" asks what was said, not who said it.
# "Who is the analyst?", "Who was …": asks who someone is, which the role does not answer for it.
_WHO_IS = re.compile(r"^\s*who(?:[’']s|\s+(?:is|was|are|were)\b)", re.IGNORECASE)
_WHO_IS_NAMED = re.compile(r"^\s*(?:and\s+)?who\s+(?:is|was)\s+(?P<name>.+?)[\s?.!]*$", re.IGNORECASE)
_AUX = r"(?:do|does|did|is|are|was|were|has|have|had|will|would|can|could|should|might|may|must)"
_ASKS = re.compile(
    rf"(?:^|[,;:]\s*|\b(?:and|so|then)\s+)(?:who|(?:which|what)(?:\s+(?!{_AUX}\b)[\w’'-]+){{1,3}}?)\s+"
    rf"(?:(?:also|first|further|publicly|later|then|once)\s+)?(?:{_SPEECH})\b",
    re.IGNORECASE,
)
# After a name: an appositive or a few words (no full stop), then a verb of saying ("Cha, Korea
# chair at CSIS, stated"); before a name: the verb or "according to" ("said Nelson").
_SUBJECT_OF = re.compile(rf"^(?:,[^.;]{{0,120}}?,)?(?:\s+[\w’'-]+){{0,3}}?\s+(?:{_SPEECH})\b", re.I)
_OF_SOMEONE = re.compile(r"\b(?:of|for)\s+(?:the\s+)?$", re.IGNORECASE)
_PASSIVE = re.compile(r"\b(?:was|were|is|are|been|be|being|get|got)\s+(?:\w+\s+)?\w+$", re.I)
# The verbs that come before their speaker ("said Nelson"); "told Becker" and "ask Becker" name
# whom one speaks to.
_INVERTED = (
    r"said|says|added|adds|explained|noted|wrote|continued|recalled|stated|remarked|argued|warned|insisted"
)
_VERB_BEFORE = re.compile(  # the words between are a title ("said Environment Minister John Baird")
    rf"\b(?i:{_INVERTED}|according\s+to|in\s+the\s+words\s+of)(?:\s+(?:the\s+)?[A-Z][\w’'.-]*){{0,3}},?\s*$"
)
# The words of a who-said question that name no content ("which expert said", "according to").
_ROLE_WORDS = frozenset(
    content_words("who which what expert analyst official person fellow scholar researcher adviser advisor "
                  "spokesperson spokeswoman spokesman coach minister lawyer prosecutor")
)  # fmt: skip
_PRONOUNS = frozenset({"he", "she", "they"})
# "What did Niek Stam say about machines?", "What does the mayor think of the plan?": what one
# person said on a matter. The words naming the person hold no verb of saying.
_SAID_ABOUT = re.compile(
    rf"^\s*(?:(?:and|so)\s+)?what\s+(?P<again>else\s+)?(?:did|does|do|has|have|had|would)\s+"
    rf"(?P<who>(?:(?!\b(?:{_SPEECH})\b).)+?)\s+(?:{_SPEECH})(?:\s+(?:about|of|regarding|concerning)\s+"
    rf"(?P<topic>.+?)|\s+(?:that\s+)?(?P<clause>[a-z].+?))?[\s?.!]*$",
    re.IGNORECASE,
)
# "What did X say matters?": X's statement must hold this share of the clause's content words
# ("What did Becker say he had been told about the port?" is not "… other ports grow").
CLAUSE_MATCH = 0.8

# A speaker note the reader's text carries ("she (Priya Raman) said"), read as the name.
_NOTE = re.compile(r"\b(?:[Hh]e|[Ss]he|[Tt]hey|[A-Z][\w’'-]+)\s+\(([A-Z][^()]{1,60})\)")


@dataclass(frozen=True)
class StatementMatch:
    """A statement of the article and how well it matches a text."""

    statement: Statement
    score: float  # cosine + lexical
    cosine: float
    lexical: float


@dataclass(frozen=True)
class SpeakerAnswer:
    """The article's speaker for a who-said question, and where it says so."""

    person: Person | None  # None for a source that is no person (a newspaper, an agency)
    name: str
    statement: Statement
    score: float
    margin: float  # over the best statement of another speaker
    sentence: str = ""  # the statement's sentence to quote ("" for its first)
    topic: frozenset[str] = frozenset()  # "What did X say about Y?": the words of Y that sentence holds


@dataclass(frozen=True)
class WhoSaidConfig:
    """When a statement is taken to be the one a text restates.

    ``min_score``: cosine + lexical share of the best statement; ``margin``: how far it must lead
    the best statement of another speaker. Chosen on the article's dev set and checked on
    news-open (docs/grounding.md)."""

    min_score: float = 0.9
    margin: float = 0.1


MIN_ASKED_WORDS = 2  # content words a who-said question needs besides its verb and role words


def asks_speaker(question: str) -> bool:
    """Whether ``question`` asks who said (argued, warned …) something."""
    return bool(_ASKS.search(plain_text(question)))


class WhoSaid:
    """The statements of a corpus, matched to questions and answer sentences."""

    def __init__(
        self,
        attributions: Mapping[str, Attributions],
        encode: Callable[[list[str]], np.ndarray] | None = None,
        config: WhoSaidConfig | None = None,
        texts: Mapping[tuple[str, int], str] | None = None,
    ) -> None:
        self.attributions = dict(attributions)
        self.texts = texts or {}
        self.encode = encode
        self.config = config or WhoSaidConfig()
        self._vectors: dict[str, np.ndarray] = {}

    def people(self, doc: str | None = None) -> list[Person]:
        """Everyone the articles (or article ``doc``) name."""
        docs = [doc] if doc is not None else list(self.attributions)
        return [p for d in docs if d in self.attributions for p in self.attributions[d].people]

    def statements(self, doc: str | None = None) -> list[Statement]:
        docs = [doc] if doc is not None else list(self.attributions)
        return [s for d in docs if d in self.attributions for s in self.attributions[d].statements]

    def match(self, text: str, doc: str | None = None, *, ignore: Iterable[str] = ()) -> list[StatementMatch]:
        """The statements with a speaker, best match for ``text`` first. ``ignore``: words that
        say nothing about the content (the question's "who said")."""
        statements = [s for s in self.statements(doc) if s.speaker]
        words = content_words(text) - set(ignore)
        if not statements or not words:
            return []
        cosines = self._cosines(strip_markers(text), statements)
        out = []
        for statement, cosine in zip(statements, cosines, strict=True):
            held = content_words(self._said(statement))
            out.append(StatementMatch(statement, cosine + len(words & held) / len(words), cosine,
                                      len(words & held) / len(words)))  # fmt: skip
        out.sort(key=lambda m: -m.score)
        return out

    def speaker_for(self, question: str, doc: str | None = None) -> SpeakerAnswer | None:
        """The speaker of what a who-said ``question`` quotes, when one statement stands out and
        its speaker is not someone the question names; else ``None``."""
        if not asks_speaker(question):
            return None
        # A statement is known by what it says: one word ("Who wrote the ruling?") names none.
        if len(content_words(SPEECH_VERB.sub(" ", plain_text(question))) - _ROLE_WORDS) < MIN_ASKED_WORDS:
            return None
        named = {p.name for p in self.named(question, doc)}
        matches = self.match(question, doc, ignore=_ROLE_WORDS)
        matches = [m for m in matches if m.statement.speaker not in named]
        if not matches or matches[0].score < self.config.min_score:
            return None
        best = matches[0]
        rival = next((m.score for m in matches if m.statement.speaker != best.statement.speaker), 0.0)
        if best.score - rival < self.config.margin:
            return None
        speaker = best.statement.speaker or ""
        person = self.person(speaker, best.statement.doc)
        return SpeakerAnswer(person, speaker, best.statement, best.score, best.score - rival)

    def said_about(self, question: str, doc: str | None = None) -> SpeakerAnswer | None:
        """For "What did X say about Y?": X's statement that holds most of Y (by words, then
        meaning), when the article names X (by name or by role) and one statement of X's holds
        any word of Y; else ``None``. A small model gives X's other statement (the vote, where
        the question asks about machines). "What did X say?" gets X's first statement (the
        analyst's words, not "Analysts were less sure."); "What else did X say?" none."""
        asked = _SAID_ABOUT.match(plain_text(main_question(question)))  # a follow-up's earlier question aside
        if asked is None or (asked["topic"] is None and asked["again"]):
            return None
        person = self._one_person(asked["who"], doc)
        if person is None:
            return None
        if asked["clause"]:  # "What did she say matters?": a statement holding nearly all of it
            return self._said_clause(person, asked["clause"], doc)
        if asked["topic"] is None:
            own = [s for s in self.statements(doc) if s.speaker == person.name]
            first = min(own, key=lambda s: (s.paragraph, s.start), default=None)
            return SpeakerAnswer(person, person.name, first, 1.0, 0.0) if first else None
        matches = [m for m in self.match(asked["topic"], doc) if m.statement.speaker == person.name]
        best = max(matches, key=lambda m: (m.lexical, m.cosine), default=None)
        if best is None or best.lexical == 0:
            return None
        return _quoting(person, best, content_words(asked["topic"]))

    def unknown_role(self, question: str, vocabulary: set[str], doc: str | None = None) -> str | None:
        """For "What did the Chinese ambassador say (about …)?", the role word (:data:`~rag.people.
        ROLE_NOUNS`) that the corpus never uses (not in ``vocabulary``, nor a word close to it) when
        the question names nobody and no one's description shares a word with the asked person;
        else ``None``. The
        article cannot say what a speaker it never has said; a small model gives the question's
        words to whoever spoke (the foreign minister's, to "the Chinese ambassador"). Acronyms
        ("CEO") are left alone: the article may spell them out ("chief executive")."""
        asked = _SAID_ABOUT.match(plain_text(main_question(question)))
        if asked is None or self.named(asked["who"], doc):
            return None
        words = re.findall(r"[\w’'-]+", asked["who"])
        missing = [w for w in words if w.casefold() in ROLE_NOUNS and not w.isupper()
                   and not known_word(w.casefold(), vocabulary)]
        # "the Australian diplomat" may be "Australia's foreign minister": a word's first five
        # letters, shared with anyone's description, leave the question to the model.
        wanted = {w[:5] for w in content_words(asked["who"])}
        if not missing or any(wanted & {w[:5] for w in content_words(" ".join(p.descriptions))}
                              for p in self.people(doc)):  # fmt: skip
            return None
        return f"{'an' if missing[0][0].lower() in 'aeiou' else 'a'} {missing[0]}"  # "an ambassador"

    def _said_clause(self, person: Person, clause: str, doc: str | None) -> SpeakerAnswer | None:
        """``person``'s statement holding :data:`CLAUSE_MATCH` of ``clause`` (what the question
        says they said), with its sentence that holds the most of it; else ``None``."""
        words = content_words(clause)
        own = [m for m in self.match(clause, doc) if m.statement.speaker == person.name]
        best = max(own, key=lambda m: (m.lexical, m.cosine), default=None)
        if not words or best is None or best.lexical < CLAUSE_MATCH:
            return None
        return _quoting(person, best, words)

    def _one_person(self, words: str, doc: str | None = None) -> Person | None:
        """The one person ``words`` name ("Niek Stam", "Stam") or describe ("the mayor"), if one."""
        named = self.named(words, doc)
        if named:
            return named[0] if len(named) == 1 else None
        wanted = content_words(words)
        scores = [(len(wanted & content_words(" ".join(p.descriptions))), p) for p in self.people(doc)]
        top = max((n for n, _ in scores), default=0)
        fits = [p for n, p in scores if n == top and n > 0]
        return fits[0] if len(fits) == 1 else None

    def describes(self, question: str, text: str, doc: str | None = None) -> bool:
        """Whether ``text`` answers "Who is X?" (X one person the article names) with X's name and
        every word of a description the article gives X ("Mark Odeh is a neurologist at University
        College Dublin …" for "Professor Mark Odeh, a neurologist at University College Dublin")."""
        asked = who_is_named(question)
        named = self.named(asked, doc) if asked else []
        if len(named) != 1 or named[0] not in self.named(text, doc):
            return False
        words = content_words(text)
        described = (content_words(d) for d in named[0].descriptions)
        return any(d and d <= words for d in described)

    def description(self, question: str, doc: str, paragraph: Callable[[int], str]) -> tuple[str, int] | None:
        """For "Who is X?" (X one person the article names and describes): "X: <description>" and
        the first paragraph naming X that words it (``paragraph(number)``: its text); ``None``
        otherwise."""
        asked = who_is_named(question)
        named = self.named(asked, doc) if asked else []
        if len(named) != 1:
            return None
        for number in dict.fromkeys(named[0].paragraphs):
            text = _fold(paragraph(number))
            if held := [d for d in named[0].descriptions if _fold(d) in text]:
                return f"{named[0].name}: {'; '.join(held)}", number
        return None

    def gives_speaker(self, text: str, citations: Sequence[Citation], found: SpeakerAnswer) -> bool:
        """Whether an answer already names ``found``'s speaker and cites the statement (for
        "What did X say about Y?", says it: holds a word of Y that X's sentence holds, not X's
        other words from the same paragraph)."""
        cited = {(c.doc, c.paragraph) for c in citations}
        if (found.statement.doc, found.statement.paragraph) not in cited:
            return False
        if found.topic and not found.topic & content_words(text):
            return False
        if found.person is not None:
            return found.person in self.named(text, found.statement.doc)
        return content_words(found.name) <= content_words(text)  # a source that is no person

    def speaker_text(self, found: SpeakerAnswer, paragraph: Paragraph, label: str) -> str:
        """The answer to a who-said question: the article's speaker and the statement, cited as
        ``label`` (the label of ``paragraph``, the statement's)."""
        statement = found.statement
        if statement.speaker_start >= 0 and statement.speaker_end <= statement.start:
            # The article's own words from the speaker to the end of the sentence ("Hong noted
            # that …"), a surname or pronoun standing for one person put as the full name.
            mention = paragraph.text[statement.speaker_start : statement.speaker_end]
            one = found.person is not None and (
                self.person(mention, statement.doc) == found.person or mention.lower() in _PRONOUNS
            )
            end = _sentence_end(paragraph.text, statement.end)
            # ", said …" after a name closes a description that stood before it ("Its chair,
            # retired teacher Margaret Ruiz, said …"): no comma after the name alone.
            after = re.sub(rf"^\s*,\s*(?=(?:{_SPEECH})\b)", " ", paragraph.text[statement.speaker_end : end])
            words = after.split()
            said = " ".join(words[:QUOTE_WORDS]) + ("…" if len(words) > QUOTE_WORDS else "")
            who = found.name if one else mention
            return f"{who}{'' if said[:1] in ',;:' else ' '}{_full_stop(said)} [{label}]"
        # One sentence of the statement: the one asked about, else the first.
        sentences = split_sentences(statement.text) or [statement.text]
        chosen = found.sentence if found.sentence in sentences else sentences[0]
        words = chosen.split()
        said = " ".join(words[:QUOTE_WORDS]).rstrip(",;: ")
        if len(words) > QUOTE_WORDS or chosen != sentences[-1]:
            said = said.rstrip(".!?") + "…"
        elif statement.kind == "quote" and not said.endswith((".", "!", "?", "…")):
            said += "."
        if chosen != sentences[0]:
            said = "…" + said
        if statement.kind == "quote":
            return f"{found.name} said: “{said.translate(NESTED_QUOTES).strip('‘’')}” [{label}]"
        return f"{found.name} {statement.cue or 'said'} {_full_stop(said)} [{label}]"

    def by_role(self, question: str, doc: str | None = None) -> str | None:
        """``question`` with the name written in of the one person it calls by the role the
        article gives them: "What did the analyst say?" → "What did the analyst (Tomas Reuter)
        say?", where the article has "Tomas Reuter, an automotive analyst at Bergmann Bank". The
        words between "the" and the role must be the description's ("the Chinese analyst" is
        someone else). ``None`` when the question names a person, asks who someone is, or the
        role fits no one or several."""
        plain = plain_text(question)
        if _WHO_IS.match(plain) or self.named(plain, doc):
            return None
        owners: dict[str, dict[str, str]] = {}
        for person in self.people(doc):
            for description in person.descriptions:
                if head := role_head(description):
                    owners.setdefault(head, {})[person.name] = description.casefold()
        words = list(re.finditer(r"[\w’'-]+", plain))
        for i, the in enumerate(words):
            if the.group(0).casefold() != "the":
                continue
            for j in range(i + 1, min(i + 5, len(words))):
                fits = owners.get(words[j].group(0).casefold(), {})
                if len(fits) != 1:
                    continue
                [(name, description)] = fits.items()
                if all(w.group(0).casefold() in description.split() for w in words[i + 1 : j]):
                    return f"{plain[: words[j].end()]} ({name}){plain[words[j].end() :]}"
        return None

    def person(self, name: str, doc: str | None = None) -> Person | None:
        docs = [doc] if doc is not None else list(self.attributions)
        for d in docs:
            if d in self.attributions and (found := self.attributions[d].person(name)):
                return found
        return None

    def speaking(self, sentence: str, doc: str | None = None) -> list[Person]:
        """The people ``sentence`` has say something: the subject of a verb of saying ("Cha, a
        Korea chair, warned …", "said Nelson", "according to Hong"); not "Gloria was told …"."""
        plain = plain_text(sentence)
        found = []
        covered = -1  # the end of the last whole mention: "Jong-un" inside "Kim Jong-un" is not another
        for start, end, person in self._mentions(sentence, doc):
            inside, covered = start < covered, max(covered, end)
            after, before = plain[end:], plain[:start]
            if inside or _OF_SOMEONE.search(before):
                continue  # "The sister of Kim Jong-un condemned …": she speaks, not he
            subject = _SUBJECT_OF.match(after)
            if (subject and not _PASSIVE.search(subject.group(0))) or _VERB_BEFORE.search(before):
                found.append(person)
        return list(dict.fromkeys(found))

    def named(self, text: str, doc: str | None = None) -> list[Person]:
        """The people ``text`` names (full name or an alias), in order of mention."""
        return list(dict.fromkeys(p for _, _, p in self._mentions(text, doc)))

    def _mentions(self, text: str, doc: str | None = None) -> list[tuple[int, int, Person]]:
        """Where ``text`` names whom: ``(start, end, person)`` in ``plain_text(text)``, in order."""
        plain = plain_text(text)
        found = []
        people = self.people(doc)
        # A word of one person's name that no one else's name has stands for them ("Lopez").
        owners: dict[str, set[str]] = {}
        for person in people:
            for word in _fold(person.name).split():
                owners.setdefault(word, set()).add(person.name)
        for person in people:
            own = [w for w in _fold(person.name).split() if len(w) > 2 and owners[w] == {person.name}]
            forms = [re.escape(f) for f in dict.fromkeys([*map(_fold, (person.name, *person.aliases)), *own])]
            spots = [(m.start(), m.end()) for f in forms
                     for m in re.finditer(rf"(?<![\w-]){f}(?![\w-])", plain, re.IGNORECASE)]  # fmt: skip
            found.extend((a, b, person) for a, b in spots)
        return sorted(found, key=lambda t: (t[0], -t[1]))

    def misattributed(self, sentence: str, doc: str | None = None) -> StatementMatch | None:
        """The statement ``sentence`` gives to the wrong person, or ``None``.

        A sentence that names people and restates a statement of the article (the best match
        clears the bar and leads every statement of the people it names) attributes it wrongly
        when none of the people it names is that statement's speaker.
        """
        people = self.speaking(sentence, doc)
        named = {p.name for p in people}
        if not named:
            return None
        everyone = self.named(sentence, doc)
        ignore = {w for p in everyone for form in (p.name, *p.aliases) for w in content_words(form)}
        matches = self.match(sentence, doc, ignore=ignore)
        if not matches or matches[0].score < self.config.min_score:
            return None
        best = matches[0]
        if best.statement.speaker in named:
            return None
        theirs = max((m.score for m in matches if m.statement.speaker in named), default=0.0)
        return best if best.score - theirs >= self.config.margin else None

    def off_speaker(self, sentences: Sequence[str], question: str, docs: Sequence[str]) -> set[int]:
        """Of ``sentences`` (a reply's), those giving another person's words when the question
        asks for one person's ("…, according to Raman?", "Why does Raman say …?") and another
        sentence gives that person's: "Ibáñez said the ratios do not apply …" beside "Raman said
        hospitals …". A person the question only names ("Why did Kim inspect …?") is no speaker."""
        for doc in dict.fromkeys(docs):
            asked = self.speaking(question, doc)
            if len(asked) != 1:
                continue
            # "she (Priya Raman) said": the speaker note the reader's text carries, as the name.
            speakers = [self.speaking(_NOTE.sub(r"\1", s), doc) for s in sentences]
            if any(asked[0] in found for found in speakers):
                return {i for i, found in enumerate(speakers) if found and asked[0] not in found}
        return set()

    def outlet_only(self, sentence: str, paragraphs: Sequence[Paragraph], question: str) -> bool:
        """Whether ``sentence`` is a bare name (all its words capitalised) of a source that
        ``paragraphs`` cite and that is no person ("The Sydney Morning Herald." from "…,
        according to the Sydney Morning Herald"), given to a question that asks about neither
        a source nor a person: it says who reported, not what."""
        if _ASKS_SOURCE.search(plain_text(question)) or expected_type(question) == "person":
            return False
        words = _name_words(strip_markers(sentence))
        if not words or not all(w[0].isupper() for w in words):
            return False
        sources = [n for p in paragraphs if (a := self.attributions.get(p.doc))
                   for n in a.speakers(p.number) if a.person(n) is None]  # fmt: skip
        wanted = {w.lower() for w in words}
        return any(wanted <= {w.lower() for w in _name_words(n)} for n in sources)

    def _said(self, statement: Statement) -> str:
        """What a statement says, as it is matched: its words with the cue that gives them to the
        speaker ("Kim Yo-jong, …, who condemned … “military provocations”"), when the paragraph
        names the speaker; a quoted fragment alone says little."""
        paragraph = self.texts.get((statement.doc, statement.paragraph))
        if not paragraph or statement.speaker_start < 0:
            return statement.text
        start, end = min(statement.start, statement.speaker_start), max(statement.end, statement.speaker_end)
        # A statement reported inside another one ("Hong noted that … a statement by Kim Yo-jong,
        # who condemned …"): the words from the inner speaker on are the inner speaker's.
        for other in self.attributions[statement.doc].in_paragraph(statement.paragraph):
            if other.speaker == statement.speaker or other.speaker_start < 0:
                continue
            if start < other.speaker_start < end and start <= other.start < end:
                end = other.speaker_start  # the outer statement stops where the inner one starts
            elif other.start <= statement.speaker_start < other.end and other.end > end:
                end = other.end  # the inner statement runs to the end of the outer one
        return paragraph[start:end]

    def _cosines(self, text: str, statements: Sequence[Statement]) -> list[float]:
        if self.encode is None:
            return [0.0] * len(statements)
        said = [self._said(s) for s in statements]
        missing = [t for t in dict.fromkeys(said) if t not in self._vectors]
        if missing:
            for t, v in zip(missing, self.encode(missing), strict=True):
                self._vectors[t] = v
        query = self.encode([text])[0]
        return [float(np.dot(query, self._vectors[t])) for t in said]


def _name_words(text: str) -> list[str]:
    """The words of ``text`` but its small ones ("The Sydney Morning Herald." → Sydney, Morning,
    Herald)."""
    words = (w.rstrip(".") for w in re.findall(r"[A-Za-z0-9][\w’'.-]*", plain_text(text)))
    return [w for w in words if w and w.lower() not in _SMALL]


_SMALL = frozenset("the a an and of according to".split())


def _full_stop(text: str) -> str:
    """``text`` ending in one full stop: "… create problems.”" stays, "… a signal" gets one."""
    text = text.rstrip()
    if re.search(r"[!?…][”’\"']?$|\.[”’\"']$", text):
        return text
    return text.rstrip(".") + "."


def who_is_named(question: str) -> str | None:
    """The name "Who is X?" asks about ("Who was Hong Min?" → "Hong Min"; apostrophes and accents
    as :func:`~rag.text.plain_text` writes them), or ``None`` for another question."""
    asked = _WHO_IS_NAMED.match(plain_text(question))
    return asked["name"] if asked else None


def _fold(text: str) -> str:
    return plain_text(text).lower()


def _sentence_end(text: str, start: int) -> int:
    """Where the sentence running at ``start`` ends in ``text`` (after its closing quote)."""
    found = re.search(r"[.!?][’”\"']?(?=\s|$)", text[start:])
    return start + found.end() if found else len(text)


def _quoting(person: Person, best: StatementMatch, words: set[str]) -> SpeakerAnswer:
    """``person``'s answer quoting ``best``'s sentence that holds the most of ``words`` (the first
    of the best), with the words it holds."""
    sentences = split_sentences(best.statement.text) or [best.statement.text]
    sentence = max(sentences, key=lambda t: len(words & content_words(t)))
    held = frozenset(words & content_words(sentence))
    return SpeakerAnswer(person, person.name, best.statement, best.score, 0.0, sentence, held)
