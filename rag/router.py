"""What kind of question it is: one fact, or a request about the whole article.

Whole-article requests go to paths made for them (:mod:`rag.whole`):

- ``summary``: "Summarize the article", "What is this story about?", "Give me the gist";
- ``key_points``: "Key points", "the main takeaways as bullets", "5 key points";
- ``people``: who is quoted, who is who ("Who are the experts quoted, and where do they work?"),
  and "Which of them …" after such a list;
- ``list``: every item of a kind the question names ("List the missiles mentioned", "Which
  countries does the article mention?");
- ``why``: the article's reasons and explanations ("Why could this put Putin in its debt?",
  "How might Russia repay North Korea?", "What might Russia give in return?").

Questions about the article itself ("Who wrote this article?", "When was it published?",
"Which paper ran the story?", "What is the headline?") go to ``about``: they are answered from
its byline, date line and headline (:mod:`rag.article_facts`), which are no numbered paragraph.

Everything else is ``fact`` and keeps the single-fact path. The rules are general English
wording patterns (no article's names or words); a question that only looks like a request
("Who was quoted as saying …?", "How does she describe …?") stays a fact. A length the reader
asks for ("in three sentences", "in 50 words", "as bullets", "5 key points") is parsed here
too (:class:`Length`), so that the answer can keep it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .types import ChatMessage

FACT = "fact"
SUMMARY = "summary"
KEY_POINTS = "key_points"
PEOPLE = "people"
LIST = "list"
WHY = "why"
ABOUT = "about"
ROUTES = (FACT, SUMMARY, KEY_POINTS, PEOPLE, LIST, WHY, ABOUT)
WHOLE = frozenset(ROUTES) - {FACT, ABOUT}
FACT_FIELDS = ("author", "date", "publisher", "title")

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100, "a hundred": 100, "one hundred": 100,
}  # fmt: skip
_COUNT = r"(\d{1,3}|a hundred|one hundred|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")"

_SENTENCES = re.compile(rf"\b{_COUNT}[\s-]+(?:short\s+|brief\s+|simple\s+)?sentences?\b")
_WORDS = re.compile(rf"\b{_COUNT}[\s-]+words?\b")
_POINT_NOUNS = (
    r"(?:(?:most\s+)?(?:key|main|major|important|short|biggest|central)\s+)?"
    r"(?:points?|bullets?|bullet\s+points?|takeaways?|highlights?|facts?|things|lessons?|findings?|claims?|ideas?)"
)
_ITEMS = re.compile(rf"\b{_COUNT}\s+{_POINT_NOUNS}\b")
_AS_BULLETS = re.compile(
    r"\b(?:bullet(?:ed|s)?|bullet[\s-]+points?|bullet[\s-]+list|as\s+a\s+list|in\s+a\s+list|list\s+form|"
    r"numbered\s+list|point\s+form)\b"
)


@dataclass(frozen=True)
class Length:
    """A length the reader asked for; ``None`` fields were not asked for.

    ``bullets``: one item per line (``count`` of them when given), else prose.
    """

    sentences: int | None = None
    words: int | None = None
    count: int | None = None
    bullets: bool = False

    @property
    def requested(self) -> bool:
        return self.sentences is not None or self.words is not None or self.count is not None or self.bullets


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _NUMBERS[text]


def parse_length(question: str) -> Length:
    """The length asked for in ``question`` ("in three sentences", "in 50 words", "5 key points",
    "as bullets"); a count of items means bullets unless sentences are asked for."""
    q = _lower(question)
    sentences = words = count = None
    if m := _SENTENCES.search(q):
        sentences = _number(m.group(1))
    elif re.search(r"\b(?:in|as)\s+(?:a|one)\s+(?:single\s+)?sentence\b|\bone[\s-]sentence\b", q):
        sentences = 1
    if m := _WORDS.search(q):
        words = _number(m.group(1))
    if m := _ITEMS.search(q):
        count = _number(m.group(1))
    bullets = bool(_AS_BULLETS.search(q)) or (count is not None and sentences is None)
    if sentences and bullets and count is None:
        count, sentences = sentences, None  # "three bullet sentences": three bullets
    return Length(sentences=sentences, words=words, count=count, bullets=bullets)


@dataclass(frozen=True)
class Route:
    """Where a question goes: ``kind`` (one of :data:`ROUTES`), the length asked for, and
    ``subject``: the kind of thing a list asks for ("missiles") or of person ("experts").
    ``followup``: "Which of them …" about the people listed in the turn before."""

    kind: str
    length: Length = Length()
    subject: str = ""
    followup: bool = False

    @property
    def whole(self) -> bool:
        return self.kind in WHOLE


# -- wording ----------------------------------------------------------------------------------
_POLITE = (
    r"(?:(?:please|pls|ok|okay|now|so|and|also|then)[,\s]+)*(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?"
    r"|i\s+(?:want|need|would\s+like)\s+(?:you\s+to\s+)?|let'?s\s+|help\s+me\s+)?"
)
_DOC = r"(?:article|story|piece|report|text|news|item|post|page|release|document|it|this|that)"
_SUMMARY = re.compile(
    rf"^{_POLITE}(?:briefly\s+|quickly\s+)?(?:summari[sz]e|sum\s+(?:it|this|that|up)|recap|condense|tl;?dr)\b"
    rf"|^{_POLITE}(?:give|write|make|provide|show|tell)\s+(?:me\s+|us\s+)?(?:a\s+|an\s+|the\s+)?"
    r"(?:short\s+|brief\s+|quick\s+|one[\s-]paragraph\s+|concise\s+|simple\s+|\w+[\s-]sentence\s+|\w+[\s-]word\s+)?"
    r"(?:summary|summari[sz]ation|overview|recap|rundown|synopsis|gist|tl;?dr|abstract)\b"
    rf"|^(?:a\s+|the\s+)?(?:short\s+|brief\s+|quick\s+)?(?:summary|overview|recap|synopsis|gist|tl;?dr)\b(?:\s+(?:of|for)\s+(?:the|this)\s+{_DOC})?[,\s]*(?:please|pls|plz)?[.?!]*$"
    rf"|^what(?:'s|\s+is|\s+was)\s+(?:the|this|that)\s+{_DOC}\s+(?:all\s+)?(?:about|saying)\b"
    rf"|^what(?:'s|\s+is|\s+are)\s+the\s+(?:gist|main\s+idea|main\s+story|upshot|bottom\s+line|summary)\b"
    rf"|^what\s+does\s+(?:the|this)\s+{_DOC}\s+(?:say|report|tell\s+us)\s*(?:overall|in\s+short|in\s+brief)?\s*[.?!]*$"
    rf"|^what\s+happened\s*(?:in\s+(?:the|this)\s+{_DOC})?\s*[.?!]*$"
    rf"|\b(?:in\s+a\s+nutshell|in\s+brief|in\s+short)\b.*\b{_DOC}\b"
)
_KEY_POINTS = re.compile(
    rf"^{_POLITE}(?:give|list|write|show|tell|what\s+are|which\s+are|name|summari[sz]e|outline|extract)?\s*"
    r"(?:me\s+|us\s+)?(?:the\s+|its\s+|a\s+few\s+|some\s+|(?:the\s+)?\w+'s\s+)?(?:\w+\s+)?"
    r"(?:key|main|major|most\s+important|important|central|essential|top)\s+"
    r"(?:points|takeaways|facts|claims|findings|messages|ideas|arguments|issues|things|events|developments|details|highlights)\b"
    r"|\b(?:key|main|major)\s+(?:point|takeaway|fact|claim|finding|message|idea|argument|highlight)s?\s+"
    rf"(?:of|in|from)\s+(?:the|this|that)\s+{_DOC}\b"
    r"|^(?:the\s+)?(?:key|main)\s+(?:points?|takeaways?)\s*[.?!]*$"
    r"|\b(?:takeaways|highlights)\b"
    rf"|^{_POLITE}(?:give|list|write|show)\s+(?:me\s+|us\s+)?(?:the\s+|a\s+)?(?:\w+\s+)?bullet(?:ed)?[\s-]*(?:points?|list|summary)?\b"
)
_PERSON_NOUN = (
    r"(?:people|persons?|individuals?|experts?|analysts?|officials?|sources?|speakers?|figures?|scholars?|"
    r"researchers?|academics?|commentators?|observers?|specialists?|players?|coaches?|witnesses?|"
    r"politicians?|leaders?|ministers?|spokes(?:man|woman|person|people)|authorities|voices|names|"
    r"interviewees|participants|characters|actors|protagonists|parties|officers?|lawyers?|doctors?|"
    r"scientists?|representatives?|members?|everyone|everybody|anyone|anybody)"
)
_QUOTE_VERB = (
    r"(?:quoted|cited|interviewed|named|mentioned|featured|heard|consulted|speaking|talking|speak|talk"
    r"|comment(?:ing)?|weigh(?:ing)?\s+in)"
)
# The end of a who-is-quoted question: nothing more, or only where ("in the article") and an
# "and …" asking for more about them. "Who was named man of the match?" asks for one fact.
_END = r"(?:\s+(?:in|by|from)\s+(?:the|this)\s+\w+)?\s*(?:[,.?!;]|\band\b|$)"
_PEOPLE = re.compile(
    rf"^{_POLITE}who\s+(?:is|are|was|were|gets?|got)\s+(?:being\s+)?(?:all\s+)?{_QUOTE_VERB}{_END}"
    rf"|^{_POLITE}who\s+(?:is|are)\s+(?:all\s+)?(?:the\s+)?(?:main\s+|key\s+|various\s+|different\s+)?{_PERSON_NOUN}\b"
    r"(?:\s+(?:quoted|cited|interviewed|named|mentioned|featured|in\s+(?:the|this)\s+\w+|involved)"
    r"|\s*[,?.!]|\s+and\b|\s*$)"
    rf"|^{_POLITE}(?:which|what)\s+(?:\w+\s+){{0,2}}{_PERSON_NOUN}\s+(?:are|were|is|does|did|do)\s+(?:\w+\s+){{0,3}}?{_QUOTE_VERB}{_END}"
    rf"|^{_POLITE}(?:list|name|identify|enumerate|give|tell\s+me)\s+(?:me\s+)?(?:all\s+|every\s+|each\s+)?(?:of\s+)?(?:the\s+)?(?:\w+\s+){{0,2}}{_PERSON_NOUN}\b"
    r"(?:\s+(?:who\s+(?:are|were|is)\s+)?(?:quoted|cited|interviewed|named|mentioned|featured|involved))?"
    # "in the story", "in the port story"
    r"(?:\s+(?:in|by)\s+(?:the|this)\s+(?:[\w'’-]+\s+){0,2}\w+)?\s*[,.?!]*(?:\s+and\b.*)?$"
    r"|\bwho(?:'s|\s+is)\s+who\b|\bwho\s+said\s+what\b|\bwhose\s+(?:views|opinions|voices|comments|quotes)\b"
    r"|^(?:the\s+)?(?:people|experts|sources)\s+(?:quoted|cited|in\s+the\s+\w+)\s*[.?!]*$"
)
_FOLLOWUP_PEOPLE = re.compile(
    r"^(?:and\s+|so\s+|but\s+)?(?:which|who|what)\s+(?:one\s+|ones\s+)?(?:of|among)\s+(?:them|those|these|the\s+\w+)\b"
    r"|^(?:and\s+|so\s+)?which\s+(?:one|ones)\b"
    r"|^(?:are|is)\s+(?:any|all|none)\s+of\s+them\b"
    r"|^(?:and\s+)?(?:how\s+many)\s+of\s+them\b"
)
_LIST = re.compile(
    rf"^{_POLITE}(?:list|enumerate|name|identify|give\s+(?:me\s+)?a\s+list\s+of)\s+(?:all\s+|every\s+|each\s+)?(?:of\s+)?(?:the\s+|its\s+)?(?P<a>[a-z][\w\s-]{{0,40}}?)\s+"
    rf"(?:that\s+(?:are|were|is|get|got)\s+|which\s+(?:are|were)\s+|)(?:mentioned|named|listed|cited|referred\s+to|discussed|involved|in\s+(?:the|this)\s+{_DOC}|the\s+{_DOC}\s+(?:mentions|names|lists|cites))\b"
    rf"|^{_POLITE}(?:list|enumerate)\s+(?:all\s+|every\s+)?(?:of\s+)?(?:the\s+)?(?P<b>[a-z][\w\s-]{{0,40}}?)\s*[.?!]*$"
    rf"|^{_POLITE}(?:what|which)\s+(?:all\s+|other\s+)?(?P<c>[a-z][\w\s-]{{0,40}}?)\s+(?:are|were|is|get|got)\s+(?:all\s+)?"
    r"(?:mentioned|named|listed|cited|referred\s+to|discussed)\b(?:\s+(?:in|by)\s+(?:the|this)\s+\w+)?\s*[.?!]*$"
    rf"|^{_POLITE}(?:what|which)\s+(?:all\s+|other\s+)?(?P<d>[a-z][\w\s-]{{0,40}}?)\s+(?:does|did)\s+(?:the|this)\s+{_DOC}\s+"
    r"(?:mention|name|list|cite|refer\s+to|discuss)\b\s*[.?!]*$"
    r"|^(?:name|list)\s+(?:all|every)\s+(?P<e>[a-z][\w\s-]{0,40}?)\s*[.?!]*$"
)
_WHY = re.compile(
    r"^(?:and\s+|so\s+|but\s+|then\s+)?(?:why|how\s+come|for\s+what\s+reasons?)\b"
    r"|^(?:and\s+|so\s+)?(?:what|which)\s+(?:are|were|is|was)\s+(?:the\s+)?(?:main\s+|key\s+|possible\s+|stated\s+)?"
    r"(?:reasons?|causes?|motives?|motivations?|rationale|explanations?|grounds|implications?|consequences?|risks?|stakes)\b"
    rf"|^{_POLITE}(?:explain|describe)\s+(?:why|how)\b"
    r"|^(?:and\s+|so\s+)?what\s+(?:might|could|would|may)\s+(?!be\s+(?:called|named|known)\b)"
    r"|^(?:and\s+|so\s+)?how\s+(?:could|would|might|may|will|can|should)\s+(?!\w+\s+(?:be\s+)?(?:described|called|named|"
    r"characteri[sz]ed|defined|spelled|pronounced)\b)"
    r"|^(?:and\s+|so\s+)?how\s+(?:does|did|do|is|was|are|were)\s+[\w\s’'-]{1,60}?\s+(?:affect(?:ing)?|help(?:ing)?|benefit(?:ing)?|"
    r"hurt(?:ing)?|harm(?:ing)?|change|changing|impact(?:ing)?|influence|influencing|threaten(?:ing)?|"
    r"lead(?:ing)?\s+to|contribute|shape|matter|work\s+out|play\s+out|put|make|strengthen|weaken|serve)\b"
    r"|\bwhat\s+(?:explains|caused|drives|drove|motivated|prompted|led\s+to)\b"
)
# The article itself: its author, date, publisher and headline. "The article" must be named, or
# the question must be nothing but the ask ("Who wrote it?", "Who is the author?").
# "the article", "the port article", "the hospital ransomware story": which one, in a corpus of several.
_THE_DOC = (
    r"(?:the|this|that|today's)\s+(?:(?!(?:the|a|an|of|in|on|and|or)\s)[\w'’-]+\s+){0,2}?"
    r"(?:article|story|piece|column|op-ed|post|(?<=news\s)report|(?<=press\s)release)"
)
_START = r"(?:^|\band\s+|[,;]\s*)(?:so\s+|also\s+)?"
_ABOUT_WHAT = r"(?:\s+(?:about|on|of|from|regarding|covering)\s+[\w\s'’-]{1,40}?)?"
_IT = rf"(?:{_THE_DOC}|it|this|that)"
_TAIL = r"\s*(?:[,.?!]|\band\b|$)"
_ABOUT = {
    "author": re.compile(
        rf"{_START}who\s+(?:wrote|authored|penned|filed|reported|has\s+written|is\s+writing)\s+{_IT}{_TAIL}"
        rf"|{_START}who(?:'s|\s+is|\s+was|\s+are|\s+were)\s+(?:the\s+)?(?:author|writer|reporter|journalist|correspondent)s?"
        rf"(?:\s+(?:of|behind|for)\s+{_IT})?{_TAIL}"
        rf"|\b(?:author|writer|reporter|byline)s?\s+(?:of|behind|for|on)\s+{_THE_DOC}\b"
        rf"|\b{_THE_DOC}(?:'s)?\s+(?:author|writer|reporter|byline)s?\b"
        rf"|\bwho(?:se)?\s+(?:name\s+is\s+)?(?:on\s+)?(?:the\s+)?byline\b|^what(?:'s|\s+is)\s+the\s+byline\b|\bwho\s+(?:wrote|authored)\s+{_IT}\b"
    ),
    "date": re.compile(
        rf"{_START}(?:when|what\s+day|what\s+date|which\s+day|on\s+what\s+(?:day|date))\s+(?:was|is|did)\s+{_IT}{_ABOUT_WHAT}\s+"
        r"(?:first\s+)?(?:published|written|posted|released|issued|dated|filed|come\s+out|came\s+out|run|printed|put\s+out)\b"
        rf"|\b(?:publication|publishing|release)\s+date\b|\bdate\s+(?:of|on)\s+{_THE_DOC}\b|\b{_THE_DOC}(?:'s)?\s+date\b"
        rf"|{_START}how\s+(?:old|recent|new)\s+is\s+{_IT}{_TAIL}"
        rf"|{_START}when\s+(?:is|was)\s+{_THE_DOC}\s+from{_TAIL}"
    ),
    "publisher": re.compile(
        r"\b(?:which|what)\s+(?:news\s+)?(?:newspaper|paper|publication|outlet|news\s+outlet|media\s+outlet|site|"
        r"website|magazine|agency|news\s+agency|news\s+organi[sz]ation|publisher)\s+"
        rf"(?:published|ran|printed|carried|posted|put\s+out|is|was|did|does)\b.*\b{_IT}\b"
        rf"|{_START}who\s+(?:published|ran|printed|carried|put\s+out)\s+{_IT}{_TAIL}"
        # "Which news agency reported the story?": the agency a dateline names ("TURIN (Reuters) —")
        r"|\b(?:which|what)\s+(?:news\s+|wire\s+)?(?:agency|service|wire|outlet|newspaper|publication)\s+"
        rf"(?:reported|filed|wrote|distributed|sent|supplied)\s+{_IT}{_TAIL}"
        rf"|{_START}where\s+(?:was|is)\s+{_THE_DOC}\s+(?:published|printed|from|posted){_TAIL}"
        rf"|\b(?:publisher|source)\s+of\s+{_THE_DOC}\b|\b{_THE_DOC}(?:'s)?\s+(?:publisher|source)\b"
    ),
    "title": re.compile(
        rf"\b(?:headline|title)\s+(?:of|for|on)\s+{_IT}\b|\b{_THE_DOC}(?:'s)?\s+(?:headline|title)\b"
        rf"|{_START}what(?:'s|\s+is|\s+was)\s+the\s+(?:headline|title)\s*[.?!]*$"
        rf"|{_START}what\s+is\s+{_THE_DOC}\s+(?:called|titled|headlined){_TAIL}"
    ),
}


def about_fields(question: str) -> tuple[str, ...]:
    """What ``question`` asks about the article itself (of :data:`FACT_FIELDS`), in that order."""
    q = _lower(question).strip(" \"'")
    return tuple(name for name, pattern in _ABOUT.items() if pattern.search(q))


_RETELL = re.compile(r"\b(?:describe|explain|outline|retell|recount)\s+(?:the|this)\s+\w+\b")
_SELF_REFERENCE = re.compile(r"\b(?:your|yourself|you)\b.*\b(?:prompt|instructions|rules)\b")


def _lower(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("‘", "'").lower().split())


def _subject(match: re.Match) -> str:
    for name in "abcde":
        value = match.groupdict().get(name)
        if value:
            return value.strip()
    return ""


_GENERIC_LIST = re.compile(r"^(?:things|items|stuff|everything|anything|details|facts|points)$")
_PERSON_SUBJECT = re.compile(
    rf"\b{_PERSON_NOUN}$|^(?:\w+\s+)*(?:who|whom)$|^(?:everyone|everybody|anyone|anybody)\b"
)


def route(question: str, history: Sequence[ChatMessage] = ()) -> Route:
    """The route of ``question`` (see the module docstring). ``history``: the conversation
    before it; a "Which of them …" right after a list of people goes to that list."""
    q = _lower(question).strip(" \"'")
    length = parse_length(q)
    if not q or _SELF_REFERENCE.search(q):
        return Route(FACT, length)
    if fields := about_fields(q):
        return Route(ABOUT, length, subject=" ".join(fields))
    if _FOLLOWUP_PEOPLE.search(q) and _last_route(history) == PEOPLE:
        return Route(PEOPLE, length, followup=True)
    if _PEOPLE.search(q):
        return Route(PEOPLE, length, subject=_person_kind(q))
    if match := _LIST.search(q):
        subject = _subject(match)
        subject = re.sub(r"^(?:different|various|specific|other|named|\w+\s+of\s+the)\s+", "", subject)
        if _PERSON_SUBJECT.search(subject):
            return Route(PEOPLE, length, subject=_person_kind(subject))
        if subject and not _GENERIC_LIST.match(subject):
            return Route(LIST, length, subject=subject)
        return Route(KEY_POINTS, length)
    if _KEY_POINTS.search(q):
        return Route(KEY_POINTS, length)
    if _SUMMARY.search(q):
        return Route(SUMMARY, length)
    if length.requested and _RETELL.search(q):
        return Route(SUMMARY, length)
    if _WHY.search(q):
        return Route(WHY, length)
    return Route(FACT, length)


def _person_kind(q: str) -> str:
    """The kind of person asked for ("experts"), or "" for anyone."""
    found = re.findall(_PERSON_NOUN, q)
    generic = ("people", "persons", "person", "individuals", "names", "figures", "everyone", "everybody",
               "anyone", "anybody")  # fmt: skip
    kinds = [f for f in found if f not in generic]
    return kinds[0] if kinds else ""


def _last_route(history: Sequence[ChatMessage]) -> str | None:
    """The route of the last user turn of ``history`` (``None`` without one)."""
    for message in reversed(history):
        if message.role == "user":
            return route(message.content).kind
    return None
