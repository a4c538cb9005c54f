"""Number binding: whether a reply's amount is the one the article gives for what it describes.

A small model copies the right words and the wrong number: asked "How old was Gloria when the
eczema first appeared?", it writes "nine months" (her age at death, from another sentence) where
the article says "eczema at the age of four months". Every word is in the article, so the
support checks pass it. This module reads an amount as a number with its unit ("nine months",
"4,000 troops", "12 percent") and finds the article sentence that best states what the reply
says about that unit: when that sentence gives the same unit another number, and no sentence
giving the reply's number says as much, the reply has swapped the number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .text import DIGITS, NUMBER, STOP, content_words, split_sentences, strip_markers

_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "thirty": "30",
    "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
}  # fmt: skip
NUMBER_WORDS = {digits: word for word, digits in _WORDS.items()}  # "4" → "four"
# Words after a number that are no unit ("two of the", "1958 and").
_NO_UNIT = frozenset({"of", "and", "or", "to", "in", "on", "at", "the", "a", "an", "for", "by", "from"})
# A number (or an ordinal in digits: "the 33rd minute"), then its unit: the next word, across a
# space or a hyphen ("nine-month-old").
_ORDINAL = r"(?<![\w-])\d+(?:st|nd|rd|th)\b"
_AMOUNT = re.compile(rf"(?:{_ORDINAL}|{NUMBER.pattern})[\s-]+([A-Za-z]+)(?:[\s-]old\b)?", re.IGNORECASE)
# What the best sentence must share with the reply beyond the amount (words, and their share of
# the reply's), and its lead over the best sentence stating the reply's own number.
MIN_SHARED = 2
MIN_SHARE = 0.5
MIN_LEAD = 1
# A sentence stating a claim with at least this many of the reply's words, while the sentences
# stating the reply's amount share at most one: the amount belongs to another matter.
UNBOUND_SHARE = 3
# A reply giving an amount with at least this many words, none of them beside that amount in any
# sentence of the article, gives it to another matter: "the unemployment rate is 4 percent" where
# the article has "wage growth, which remains near 4 percent".
UNMOORED_WORDS = 2


def _value(number: str) -> str:
    number = re.sub(r"(?<=\d)(?:st|nd|rd|th)$", "", number.lower().rstrip(".,"))
    return _WORDS.get(number, number.replace(",", ""))


def _unit(word: str) -> str:
    word = word.lower()
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def written_numbers(text: str) -> set[str]:
    """The numbers ``text`` writes, in digits without separators ("9,200" → "9200") or as words
    ("Eleven of the schools" → "11")."""
    return _digits(text) | {_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in _WORDS}


def _digits(text: str) -> set[str]:
    """The numbers ``text`` writes in digits, without separators ("9,200" → "9200")."""
    return {re.sub(r"[,.]", "", m).rstrip(".,") for m in re.findall(DIGITS, text)}


def stated_numbers(text: str) -> set[str]:
    """The numbers ``text`` states, in digits or words ("two", "1958"): an answer giving one the
    question does not is no restatement, though number words are no content words."""
    return {m.group(0).lower().rstrip(".,") for m in NUMBER.finditer(strip_markers(text))}


def unheld_numbers(asked: str, cited: Sequence[str]) -> bool:
    """Whether a number written in digits in ``asked`` (a year, an amount) is in none of the
    ``cited`` paragraphs: "Did the ship sink in 1650?" is not answered "yes" by a paragraph that
    says "between 1640 and 1660", nor "Was the ship lost in 1916 found?" by one about another ship."""
    return bool(_digits(asked) - set().union(*map(written_numbers, cited)))  # "eleven" holds "11"


def swapped_amount(claim: str, text: str) -> bool:
    """Whether ``text`` gives an amount of the unit ``claim`` gives, but none of ``claim``'s own
    ("hire 60 additional officers" for "hire 80 officers")."""
    asked = amounts(claim)  # the unit the next word, or up to three words on: "60 additional officers"
    given = amounts(text) | {(value.split()[0], u) for value, units in _counts(text) for u in units}
    values = {value for value, _ in given}
    units = {u for _, u in given}
    return bool(asked) and not {v for v, _ in asked} & values and any(unit in units for _, unit in asked)


def amounts(text: str) -> set[tuple[str, str]]:
    """The (value, unit) pairs ``text`` states: "nine months" → ("9", "month")."""
    found = set()
    for match in _AMOUNT.finditer(text):
        unit = match.group(1)
        if unit.lower() in _NO_UNIT:
            continue
        number = match.group(0)[: match.start(1) - match.start(0)].rstrip(" -")
        found.add((_value(number), _unit(unit)))
    return found


def _wanted(sentence: str, question: str) -> set[tuple[str, str]]:
    """The amounts ``sentence`` states that the question does not give."""
    asked = {_value(m.group(0)) for m in NUMBER.finditer(question)}
    return {(v, u) for v, u in amounts(sentence) if v not in asked}


@dataclass(frozen=True)
class _Stated:
    """One sentence of the article: its amounts, and its content words beside them, alone and
    with the sentence before it (where a pronoun's name is)."""

    text: str
    amounts: frozenset[tuple[str, str]]
    words: frozenset[str]
    window: frozenset[str]
    around: str  # the sentence with the one before it


@lru_cache(maxsize=8)
def _sentences(texts: tuple[str, ...]) -> tuple[_Stated, ...]:
    """The article's sentences, read once for every sentence of a reply that is checked."""
    out = []
    for text in texts:
        sents = split_sentences(text)
        for i, one in enumerate(sents):
            around = " ".join(sents[max(0, i - 1) : i + 1])
            window = frozenset(_words_beside(around))
            out.append(_Stated(one, frozenset(amounts(one)), frozenset(_words_beside(one)), window, around))
    return tuple(out)


def swapped_number(sentence: str, question: str, texts: Sequence[str]) -> str:
    """The article sentence (from ``texts``) that gives the amount ``sentence`` swapped; ``""``
    when its amounts are bound to what it says (or it states none the question did not give)."""
    wanted = _wanted(sentence, question)
    if not wanted:
        return ""
    stated = _sentences(tuple(texts))
    said = _words_beside(sentence)
    enough = max(MIN_SHARED, MIN_SHARE * len(said))
    for value, unit in wanted:
        holding = [(len(said & s.words), s) for s in stated if any(u == unit for _, u in s.amounts)]
        if not holding:
            continue
        own = max((n for n, s in holding if (value, unit) in s.amounts), default=0)
        best, source = max(holding, key=lambda h: h[0])
        if best >= enough and best >= own + MIN_LEAD and (value, unit) not in source.amounts:
            return source.text
    return ""


def unbound_amount(sentence: str, question: str, texts: Sequence[str]) -> bool:
    """Whether an amount of ``sentence`` belongs to another matter in the article: the sentences
    stating it (with the sentence before, where a pronoun's name is) share at most one word with
    ``sentence`` beside the amount, while a sentence giving no amount of that unit states the
    claim (at least UNBOUND_SHARE words). "Kane scored his first goal in the 33rd minute", where
    the article has "Tunisia won a penalty kick in the 33rd minute" and "Harry Kane scored a
    close-ranged shot": the minute is not Kane's goal's."""
    wanted = _wanted(sentence, question)
    if not wanted:
        return False
    said = _words_beside(sentence)
    stated = _sentences(tuple(texts))
    for value, unit in wanted:
        own = [len(said & s.window) for s in stated if (value, unit) in s.amounts]
        if not own or max(own) > 1:  # stated nowhere (the facts check's matter), or bound
            continue
        if max(own) == 0 and len(said) >= UNMOORED_WORDS:
            return True  # no word the reply gives it stands by it anywhere ("unemployment rate")
        bare = [len(said & s.window) for s in stated if all(u != unit for _, u in s.amounts)]
        if max(bare, default=0) >= UNBOUND_SHARE:
            return True
    return False


def amount_windows(statement: str, texts: Sequence[str]) -> list[str]:
    """The article's sentences (each with the sentence before it) that state an amount
    ``statement`` gives: where a "yes" to "Did car accidents fall by 17 percent?" must find
    its words, not in "Unexcused absences fell by 17 percent" with car accidents a paragraph
    away."""
    given = amounts(statement)
    return [s.around for s in _sentences(tuple(texts)) if given & s.amounts] if given else []


def _words_beside(text: str) -> set[str]:
    """The content words of ``text`` outside its amounts ("nine-month-old child" → "child")."""
    return content_words(NUMBER.sub(" ", _AMOUNT.sub(" ", text)))


# "How many trees will be destroyed?": the thing counted, and a number of it within three words
# ("about 400 trees", "40 container ships", "1.4 million admissions").
_HOW_MANY = re.compile(r"\bhow\s+many\s+([A-Za-z][\w-]*)", re.IGNORECASE)
_COUNT = re.compile(rf"(?:{NUMBER.pattern})((?:[\s-]+[A-Za-z][\w-]*){{1,3}})", re.IGNORECASE)


def counted_thing(question: str) -> str | None:
    """What a "How many X …?" question counts, as a unit ("trees" → "tree"), or ``None``; none
    when a verb follows "how many" ("How many will by 2050?", "How many are there?")."""
    asked = _HOW_MANY.search(question)
    return _unit(asked.group(1)) if asked and asked.group(1).lower() not in STOP else None


def gives_count(unit: str, text: str) -> bool:
    """Whether ``text`` gives a number of ``unit`` within three words ("destroy about 400 trees")."""
    units = ({_unit(w) for w in re.findall(r"[A-Za-z][\w-]*", m.group(1))} for m in _COUNT.finditer(text))
    return any(unit in found for found in units)


_TOKEN = re.compile(rf"{NUMBER.pattern}|[A-Za-z][\w’'-]*|[^\s\w]", re.IGNORECASE)


def _counts(text: str) -> list[tuple[str, frozenset[str]]]:
    """Each number of ``text`` (its words joined: "1.4 million") with the units of the words up
    to three after it, short of the next number or mark: "400 soldiers and eight helicopters" →
    ("400", {soldier, and}), ("8", {helicopter})."""
    tokens = _TOKEN.findall(text)
    out, i = [], 0
    while i < len(tokens):
        if not NUMBER.fullmatch(tokens[i]):
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and NUMBER.fullmatch(tokens[j + 1]):
            j += 1
        value = " ".join(_value(t) for t in tokens[i : j + 1])
        after = []
        for token in tokens[j + 1 : j + 4]:
            if NUMBER.fullmatch(token) or not token[0].isalpha():
                break
            after.append(_unit(token))
        out.append((value, frozenset(after)))
        i = j + 1
    return out


def miscounted(sentence: str, question: str, texts: Sequence[str]) -> str:
    """The sentence of ``texts`` stating the count ``sentence`` gives a "How many X …?"
    question (of those, the one sharing most of their words) when no sentence gives that number
    as a count of X; ``""`` when one does, or when the question counts nothing.

    "400." for "How many helicopters were sent?" where the article says "sent 400 soldiers and
    eight helicopters"; "30,000." for "How many homes were destroyed?" where it says "30,000
    people were ordered to leave their homes". The sentence is the answer to show in the
    number's place: it may count X another way ("a study of 78,000 adults" for "How many people
    …?"), and the reader sees what the number counts."""
    unit = counted_thing(question)
    if unit is None:
        return ""
    asked = {value for value, _ in _counts(question)}
    given = {value for value, _ in _counts(sentence)} - asked
    if not given:
        return ""
    stated = [(s, _counts(s)) for text in texts for s in split_sentences(text)]
    if any(v in given and unit in units for _, counts in stated for v, units in counts):
        return ""  # the article counts X with the reply's number
    asking = _words_beside(f"{question} {sentence}")
    holding = [(len(asking & _words_beside(s)), -i, s) for i, (s, counts) in enumerate(stated)
               if any(v in given for v, _ in counts)]  # fmt: skip
    return max(holding)[2] if holding else ""  # the one sharing most words ("Sept. 9" aside)


# "How many …?", "How much <noun> …?" and "How much did it cost?" ask for an amount; "How much did
# the ban hurt them?" asks how far, and may be answered without one: after "how much" and a verb's
# auxiliary, only a verb of money or measure asks for an amount.
_ASKS_AMOUNT = re.compile(
    r"\bhow\s+many\b|\bhow\s+much\s+(?!(?:is|was|are|were|do|does|did|has|have|had|will|would|can|could"
    r"|should|may|might)\b)[a-z]"
    r"|\bhow\s+much\s+\w+\s+(?:[\w'’-]+\s+){0,5}?(?:cost|costs|costing|paid|pay|pays|worth|fined|charged"
    r"|spent|spend|spends|earned|earn|earns|owed|owe|owes|raised|raise|weigh|weighs|weighed|sold|sell|sells"
    r"|donated|invested|borrowed|lost|saved|rise|rose|risen|rises|increase|increased|increases|fall|fell"
    r"|fallen|falls|drop|dropped|drops|grow|grew|grown|grows|shrink|shrank|shrunk|decline|declined)\b",
    re.IGNORECASE,
)
# Words that give an amount without a number ("No one was hurt", "twice", "several", "all").
_AMOUNT_WORDS = re.compile(
    r"\b(?:one|once|twice|zero|no|none|nobody|nothing|neither|several|few|many|much|more|less|fewer"
    r"|most|some|half|all|both|every|single|couple|handful|dozen|score|numerous|multiple"
    r"|doubled?|tripled?|quadrupled?|halved)\b",
    re.IGNORECASE,
)


_WH = re.compile(r"\b(?:who|whom|whose|what|when|where|which|why|how)\b", re.IGNORECASE)


def asks_amount(question: str) -> bool:
    """Whether ``question`` asks how many or how much of something: its first interrogative
    does ("Who argued that a token force shows how much a country values …?" asks for a person)."""
    first, amount = _WH.search(question), _ASKS_AMOUNT.search(question)
    return bool(amount and first and first.start() == amount.start())


def gives_no_amount(sentences: Sequence[str], question: str) -> bool:
    """Whether a reply of ``sentences`` to a how-many or how-much question gives no amount at
    all: no number the question does not hold, and no word of quantity ("none", "several").

    "How much funding did the lab receive?" answered "The lab received funding from the Defense
    Department." answers where the money came from, not how much it was."""
    if not asks_amount(question) or not sentences:
        return False
    asked = {m.group(0).lower() for m in NUMBER.finditer(question)}
    if _ASKS_MONEY.search(question):  # "How much will the plan cost?" — not "2,000 units of housing"
        return not any(_gives_money(sentence, asked) for sentence in sentences)
    for sentence in sentences:
        if {m.group(0).lower() for m in NUMBER.finditer(sentence)} - asked or _AMOUNT_WORDS.search(sentence):
            return False
    return True


# "How much did it cost?", "How much money …": a sum of money is asked for.
_ASKS_MONEY = re.compile(
    r"\bhow\s+much\s+(?:money|cash|funding|revenue|profit)\b|\bhow\s+much\s+\w+\s+(?:[\w'’-]+\s+){0,5}?"
    r"(?:cost|costs|costing|paid|pay|pays|spent|spend|spends|charged|fined|owed|owe|owes|donated|invested"
    r"|borrowed|priced)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(r"[$€£¥₩]|\b(?:dollars?|euros?|pounds?|yen|yuan|francs?|rupees?|pesos?|cents?)\b"
                    r"|\b(?:USD|EUR|GBP)\b", re.IGNORECASE)
_SCALE = frozenset({"thousand", "million", "billion", "trillion", "bn", "m"})


def _gives_money(sentence: str, asked: set[str]) -> bool:
    """Whether ``sentence`` may give a sum of money: a currency, or a number the question does
    not hold that is no year and counts nothing else ("40 million", "40"; not "2,000 units")."""
    if _MONEY.search(sentence) or _AMOUNT_WORDS.search(sentence):
        return True
    units = {v: u for v, u in amounts(sentence)}
    for match in NUMBER.finditer(sentence):
        number = match.group(0).lower().rstrip(".,")
        if number in asked or re.fullmatch(r"(?:1[5-9]|20)\d\d", number):
            continue  # the question's own, or a year
        unit = units.get(_value(number))
        if unit is None or unit in _SCALE:  # no unit, or a scale word
            return True
    return False
