"""The text pieces every part shares: sentences, normalisation, content words, numbers, dates
and names, citation markers, and how a decline is worded."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import Stemmer

# Words after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st gen lt col maj capt sgt adm gov sen rep pres amb
    rev hon inc corp co ltd vs etc e.g i.e cf al u.s u.k u.n a.m p.m approx dept est
    """.split()
)
# Abbreviations that are words too ("yes or no."): abbreviations only before a number ("No. 5").
_BEFORE_NUMBER = frozenset("no fig jan feb mar apr jun jul aug sep sept oct nov dec".split())
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+)")
_NEXT_START = re.compile(r"\s+([\"'“‘(\[]?[A-Z0-9\u0080-\uffff])")
_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, keeping every character except the spaces between them.

    Rule based: a sentence ends at ``.``, ``!``, ``?`` or ``…`` (with any closing quotes) that is
    followed by whitespace and a capital, digit, opening quote or non-Latin character, unless
    the word before the stop is a known abbreviation or a single initial.
    """
    text = text.strip()
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    dateline = DATELINE.match(text)  # "PINE RIDGE, Calif. (AP) —" opens the sentence it dates
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        nxt = _NEXT_START.match(text, end)
        if not nxt or (dateline and end < dateline.end()):
            continue
        if match.group(0).startswith(".") and _is_abbreviation(text[start : match.start()], nxt.group(1)):
            continue
        sentence = text[start:end].strip()
        if sentence:
            sentences.append(sentence)
        start = end
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _is_abbreviation(before: str, following: str) -> bool:
    words = before.split()
    if not words:
        return False
    last = words[-1].lstrip("\"'“‘(").lower()
    if len(last) == 1 and last.isalpha():  # an initial, as in "John F. Kennedy"
        return True
    return last in _ABBREVIATIONS or (last in _BEFORE_NUMBER and following[-1:].isdigit())


def clean_text(text: str) -> str:
    """NFC-normalise, drop control and zero-width characters, and collapse runs of spaces."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    return re.sub(r"[ \t\r\f\v]+", " ", text).strip()


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits; hyphenated words kept whole)."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def normalize_quotes(text: str) -> str:
    """Replace typographic quotes and dashes with their ASCII look-alikes."""
    table = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "—": "-", "–": "-"})
    return text.translate(table)


_TYPED_APOSTROPHE = re.compile(r"(?<=[A-Za-z])[`´](?=[A-Za-z])")


def plain_text(text: str) -> str:
    """``text`` for matching words: typographic apostrophes as ASCII ones ("Kim’s" and "Kim's"
    alike; a backtick or an acute accent typed for one between letters too, "don`t") and letters
    without their accents ("Jerónimo" and "Jeronimo" alike)."""
    text = _TYPED_APOSTROPHE.sub("'", text.replace("’", "'").replace("‘", "'"))
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# -- numbers, dates and names ---------------------------------------------------------------
_NUMBER_WORDS = (
    "hundred|thousand|million|billion|dozen|dozens|hundreds|thousands|millions|percent|"
    "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|sixty|"
    "seventy|eighty|ninety"
)
# A number standing alone ("16 kilometers") or before a hyphened unit ("a 14-match run"), not one
# inside a name ("Hwasong-16Na") or a score ("2-1").
DIGITS = r"(?<![\w-])\d[\d,.]*(?!\w|(?-i:-[A-Z\d]))"
NUMBER = re.compile(rf"{DIGITS}|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
# Days, months and years: with numbers, the facts a reply must cite where they are written.
TIME = re.compile(
    r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|May|June|"
    r"July|August|September|October|November|December|yesterday|(?:19|20)\d\d)\b",
    re.I,
)


def written_times(text: str) -> list[re.Match]:
    """The days, months and years ``text`` writes (:data:`TIME`): "may" and "march" written small
    are words, and so is a capitalised "May" (a sentence's first word as often as the month)."""
    return [m for m in TIME.finditer(text) if not m.group(0).islower() and m.group(0) != "May"]


# A run of capitalised words: a name, or a sentence's first word (see STARTERS).
NAME = re.compile(r"\b[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*")
# The same, with the small words an institution's name has inside ("Center for Strategic and
# International Studies").
CONNECTORS = frozenset({"for", "and", "of", "the", "a", "an", "on", "de", "&"})
LONG_NAME = re.compile(r"\b[A-Z][\w’'-]*(?:\s+(?:(?:for|and|of|the|a|an|on|de|&)\s+)*[A-Z][\w’'-]*)*")
# Capitalised words that open sentences or questions without naming anything.
STARTERS = frozenset(
    """yes no however also additionally furthermore overall according sure okay well therefore thus
    meanwhile moreover although while because since based both either neither in on at for as
    yet still instead rather specifically notably what who whom whose which when where why how is
    are was were did do does can could would should will and but so tell please name list explain
    give describe the a an i article""".split()
)

# -- content words ---------------------------------------------------------------------------
_STEM = Stemmer.Stemmer("english")
STOP = frozenset(
    """a an the and or but if of to in on at by for with from as into about over after before than then so
    is are was were be been being am do does did doing have has had having will would shall should can
    could may might must it its it's this that these those there here what which who whom whose when where
    why how i you he she we they me him her us them my your his our their not no nor yes also just only very
    more most such both each other any all some said says say according article text paragraph paragraphs
    context passage one two anyone anybody anything someone somebody something everyone everybody
    everything""".split()
)


# A word as names and stems are read from it: "Non-Proliferation", "Korea’s", "2026".
TOKEN = re.compile(r"[A-Za-z0-9][\w’'-]*")


def content_stems(text: str) -> list[str]:
    """The content-word stems of ``text`` in reading order (a hyphenated word's sorted)."""
    return [w for token in TOKEN.findall(plain_text(text)) for w in sorted(content_words(token))]


def main_question(query: str) -> str:
    """A follow-up's standalone query without the earlier question it carries in brackets."""
    return re.sub(r"\s*\([^()]*\)\s*$", "", query)


def same_stem(a: str, b: str) -> bool:
    """Stems that are prefixes of each other count as the same word ("Russia" and "Russian")."""
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))


def forms_of(words: set[str], stems: set[str]) -> set[str]:
    """Of ``words`` (stems), those ``stems`` hold in one of their forms (:func:`same_stem`:
    "injuri" for "injur")."""
    return {w for w in words if any(same_stem(w, s) for s in stems)}


def content_words(text: str) -> set[str]:
    """Stemmed content words of ``text`` (stop words and citation markers removed).

    A hyphenated word counts whole and by its words of three letters or more, so
    "Washington-based" backs "based in Washington".
    """
    found = re.findall(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*", plain_text(strip_markers(text)))
    found += [part for t in found if "-" in t for part in t.split("-") if len(part) > 2 and part.isalpha()]
    return {_STEM.stemWord(one_spelling(t.lower())) for t in found if t.lower() not in STOP and len(t) > 1}


# British and American spellings of one word ("kilometres" in the article, "kilometers" in a
# reply): both sides of every comparison are written the American way before stemming. Only
# endings that no other English word shares in this form; "four", "hour", "tour" keep "our".
_SPELLINGS = (
    (re.compile(r"^(\w{2,}[^aeiou])re(s?)$"), r"\1er\2"),  # kilometre, metre, centre, fibre
    (re.compile(r"^(\w{2,}[^aeiouf\W])our(s|ed|ing|ite|ites|able|er|ers)?$"), r"\1or\2"),  # labour, colour
    (re.compile(r"^(\w{2,}[aeiou]l)ys(e|es|ed|ing)$"), r"\1yz\2"),  # analyse, paralysed
    (re.compile(r"^(\w{3,})is(e|es|ed|ing|ation|ations)$"), r"\1iz\2"),  # organise, organisation
    (re.compile(r"^(def|off|lic|pret)enc(e|es)$"), r"\1ens\2"),  # defence, licence
    (re.compile(r"^(\w{4,})ogue(s?)$"), r"\1og\2"),  # catalogue, dialogue
    (re.compile(r"^programme(s?)$"), r"program\1"),
)


def one_spelling(word: str) -> str:
    """``word`` (lower case) in its American spelling, when it has a British one."""
    for pattern, american in _SPELLINGS:
        if pattern.match(word):
            return pattern.sub(american, word)
    return word


# -- citation markers -------------------------------------------------------------------------
_MARKER_GROUP = re.compile(r"[\[(]\s*((?:[A-Z]?\s*¶\s*\d+|(?:para(?:graph)?s?\.?|p\.)\s*\d+|\d+)"
                           r"(?:\s*(?:[,;&–-]|and)\s*(?:[A-Z]?\s*¶?\s*\d+))*)\s*[\])]")  # fmt: skip
_BARE_MARKER = re.compile(r"(?<![\[\w])([A-Z]?)¶\s*(\d+)")
_ONE = re.compile(r"([A-Z]?)\s*¶?\s*(\d+)")


def find_markers(text: str) -> list[tuple[int, int, list[tuple[str, int]]]]:
    """Every citation marker in ``text`` (``[¶7]``, ``[¶3, ¶4]``, ``[A¶2]``, ``[¶3-4]``, and
    sloppy forms such as ``[7]`` or ``(¶7)``): ``(start, end, [(letter, number), ...])``."""
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


# -- quotes -----------------------------------------------------------------------------------
QUOTE_WORDS = 40  # an answer or a decline quotes at most this many words of one sentence
NESTED_QUOTES = str.maketrans({"“": "‘", "”": "’", '"': "'"})  # a quote's own quotes, made single


# "WELLINGTON — ", "SEOUL – ": the dateline a story's first sentence opens with.
# A news dateline: "SEOUL –", "WASHINGTON (Reuters) -", "TROMSVIK, Nov. 12 (Northern Post) —",
# "PORTLAND, Ore., Jan. 5 (AP) —".
DATELINE = re.compile(
    r"^[A-Z][A-Z .,'’-]{1,40}?(?:,\s+[A-Z][a-z]{1,4}\.)?(?:,\s+[A-Z][a-z]{2,8}\.?\s+\d{1,2})?"
    r"(?:\s*\([^()]{1,40}\))?\s*[–—-]+\s+"
)


def without_dateline(sentence: str) -> str:
    """``sentence`` without the dateline it opens with, quoted as an answer."""
    return DATELINE.sub("", sentence)


def blank_dateline(text: str) -> str:
    """``text`` with the dateline it opens with blanked, its length kept (for a parse: "STUTTGART"
    is where the story was filed, not who said it)."""
    return DATELINE.sub(lambda m: " " * len(m.group(0)), text, count=1)


def balance_quotes(sentence: str) -> str:
    """A sentence cut from a quotation of several sentences, with the quote mark it lost put back:
    ``It is the third night," Costa said.`` → ``"It is the third night," Costa said.``; an
    opening mark whose quote ends in a later sentence gets its closing one at the end."""
    text = sentence.strip()
    opens, closes = text.find("“"), text.find("”")
    if closes >= 0 and (opens < 0 or closes < opens):
        text = "“" + text
    if text.count("“") > text.count("”"):
        text += "”"
    if text.count('"') % 2:
        first = text.index('"')
        closing = first > 0 and not text[first - 1].isspace() and not (text[first + 1 : first + 2].isalnum())
        text = '"' + text if closing else text + '"'
    return text


# -- declines ---------------------------------------------------------------------------------
NOT_IN_ARTICLE = "The article does not say."
# "The article does not say", "There is no information about …", "I can't …": a decline in words.
# "does not say/give/offer …" is one only when the article (the text, it, I …) is what does not:
# "The government did not offer subsidies for retraining" is an answer.
_NOT_TELLING = re.compile(
    r"\b(?:article|text|context|passages?|paragraphs?|sources?|story|report|document|information|"
    r"it|this|i|we)\b[^.]{0,60}?"
    r"\b(?:does\s+not|doesn'?t|did\s+not|didn'?t|do\s+not|don'?t|cannot|can'?t|fails?\s+to)\s+"
    r"(?:say|mention|state|specify|provide|include|cover|contain|report|give|discuss|address|answer|"
    r"tell|identify|name|disclose|indicate|reveal|describe|explain|list|offer)\b",
    re.IGNORECASE,
)
DECLINE = re.compile(
    r"\b(?:is|are|was|were)\s+not\s+(?:mentioned|specified|stated|provided|given|available|included|"
    r"found|discussed|addressed|disclosed|reported|known|covered)\b"
    r"|\bnot\s+(?:mentioned|stated|specified|provided|covered|given|reported|included|disclosed|addressed)\b"
    r"|\b(?:no|not\s+enough|insufficient)\s+(?:specific\s+)?(?:information|details?|mention|data|evidence|"
    r"indication)\b|\bthere\s+is\s+no\s+(?:mention|information|indication|record)\b"
    r"|\b(?:cannot|can'?t|can\s+not|could\s+not|couldn'?t|unable\s+to|impossible\s+to|"
    r"i\s+(?:won'?t|will\s+not|do\s+not|don'?t))\s+(?:find|answer|determine|tell|say|help|provide|comply|"
    r"assist|know|do\s+that)\b"
    r"|\bcannot\s+be\s+(?:determined|found|answered)\b|\b(?:i'm|i\s+am)\s+sorry\b"
    r"|\bnot\s+(?:in|from)\s+the\s+(?:article|context|text|paragraphs?|passages?)\b"
    r"|\b(?:is|are|remains?)\s+(?:unknown|unclear)\b",
    re.IGNORECASE,
)


def is_refusal(sentence: str) -> bool:
    """True for a sentence saying the article does not give the answer."""
    text = plain_text(sentence)
    return bool(DECLINE.search(text) or _NOT_TELLING.search(text))


_YES = re.compile(r"\s*yes\b", re.IGNORECASE)


def says_yes(reply: str) -> bool:
    """Whether a reply opens with "yes" ("Yes, children under five showed no increase.")."""
    return bool(_YES.match(reply))


def closest_sentence(words: set[str], texts: Sequence[str]) -> tuple[str, float]:
    """The sentence of ``texts`` holding the largest share of ``words`` (content words), and
    that share; ``("", 0.0)`` when none holds any."""
    best, best_share = "", 0.0
    for text in texts:
        for candidate in split_sentences(text):
            share = len(words & content_words(candidate)) / len(words)
            if share > best_share:
                best, best_share = candidate, share
    return best, best_share
