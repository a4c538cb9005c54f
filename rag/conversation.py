"""Conversation memory: validating and bounding the history, and standalone follow-up queries.

A follow-up such as "what did she accuse them of?" cannot be searched as it stands. The
:func:`heuristic_rewrite` resolves pronouns against the names of the previous turns and keeps
the previous question as context, for retrieval. A language model is not asked for a rewrite:
it sees the conversation itself, after the article it has already read (see
:func:`rag.prompt.question_tail`), so a follow-up costs only its own tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from .people import PRONOUN_GENDER
from .safety import valid_text
from .text import LONG_NAME, STOP, content_words, main_question, strip_markers
from .tokens import TiktokenCounter
from .types import ChatMessage

_PERSON_PRONOUNS = {"he", "him", "his", "she", "her", "hers", "himself", "herself"}
_GROUP_PRONOUNS = {"they", "them", "their", "theirs", "themselves"}
_THING_PRONOUNS = {"it", "its", "itself"}
_DEMONSTRATIVE = {"that", "this", "those", "these", "there", "one"}
_FOLLOWUP_START = re.compile(r"^\s*(?:and|but|also|so|then|what about|how about)\b", re.I)
# "Why the delay?" leans on the turn before; "Why is Lumora cutting jobs?" names its own matter.
_WHY_START = re.compile(r"^\s*why\b", re.I)
WHY_OWN_WORDS = 2  # content words after "why" that make a question stand alone
_QUESTION_WORDS = {
    "What", "Who", "Whom", "Whose", "Which", "When", "Where", "Why", "How", "Is", "Are", "Was", "Were",
    "Did", "Do", "Does", "Can", "Could", "Would", "Should", "Will", "And", "But", "So", "Also", "Tell",
    "According", "In", "On", "At", "The", "A", "An", "I", "Please", "Name", "List", "Explain", "Give",
}  # fmt: skip
_INSTITUTION = re.compile(
    r"\b(?:Center|Centre|Institute|Agency|Council|Treaty|Program|Programme|Partnership|Department|"
    r"Ministry|Union|Organization|Association|University|Committee|Forces?|Army|Party|States|Nations|"
    r"Studies|Security|Unification|Affairs|Policy|Research|Foundation|Office|Bureau|Service|Group)\b"
)
_KINDS = {"person": _PERSON_PRONOUNS, "group": _GROUP_PRONOUNS, "thing": _THING_PRONOUNS}
_ROLE_ORDER = ("user", "assistant")
MAX_MESSAGE_CHARS = 8000


def normalize_history(history: Iterable[Mapping | ChatMessage] | None) -> list[ChatMessage]:
    """Turn OpenAI-style dicts (or :class:`ChatMessage`) into messages; drop unusable entries.

    Only ``user`` and ``assistant`` turns with text are kept (a client cannot smuggle in a
    ``system`` message); each message is cut to ``MAX_MESSAGE_CHARS``.
    """
    out: list[ChatMessage] = []
    if not isinstance(history, Iterable) or isinstance(history, (str, bytes, Mapping)):
        return out
    for item in history:
        if isinstance(item, ChatMessage):
            role, content = item.role, item.content
        elif isinstance(item, Mapping):
            role, content = item.get("role"), item.get("content")
        else:
            continue
        if role not in _ROLE_ORDER or not isinstance(content, str) or not content.strip():
            continue
        out.append(ChatMessage(role, valid_text(content).strip()[:MAX_MESSAGE_CHARS]))
    return out


def bound_history(
    history: Sequence[ChatMessage], max_tokens: int, counter: TiktokenCounter | None = None
) -> list[ChatMessage]:
    """Keep the most recent messages whose total size is at most ``max_tokens`` (tiktoken)."""
    counter = counter or TiktokenCounter()
    kept: list[ChatMessage] = []
    used = 0
    for message in reversed(history):
        cost = counter.count(message.content) + 4
        if used + cost > max_tokens:
            break
        kept.append(message)
        used += cost
    return list(reversed(kept))


# A question that is only its question word: "When?", "Why not?", "How many?", "Since when?".
_AUX = r"(?:is|are|was|were|did|do|does|has|have|had|will|would|can|could|should|may|might|must)"
_ELLIPSIS = re.compile(
    r"^\s*(?:(?:and|but|so|then)\s+)?(?:(?:since|by|from|for|to|with|until|over|in|on|at|after|before)\s+)?"
    r"(?:(?:how\s+(?:many|much|long|often|far)|which|what|whose)(?!\s+about\b)"
    r"(?:\s+(?!" + _AUX + r"\b)[a-z-]+){0,2}"
    r"|(?:who|whom|when|where|why|how)(?:\s+(?:exactly|else|not|so|then|come))?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)


def elliptical(question: str) -> bool:
    """Whether ``question`` is only a question word ("When?", "How many?"): it asks about the
    previous question's matter."""
    return bool(_ELLIPSIS.match(question))


def needs_context(question: str) -> bool:
    """True when ``question`` leans on an earlier turn (a pronoun, a leading "and"/"what about",
    or nothing but a question word: "When?")."""
    if elliptical(question):
        return True
    tokens = {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
    if tokens & (_PERSON_PRONOUNS | _GROUP_PRONOUNS | _THING_PRONOUNS):
        return True
    if _FOLLOWUP_START.match(question):
        return True
    if _WHY_START.match(question) and len(content_words(question)) < WHY_OWN_WORDS:
        return True
    return bool(tokens & _DEMONSTRATIVE) and not names(question)


RECENT_MESSAGES = 6  # the turns whose words say which article a conversation is about


def recent_words(conversation: Sequence[ChatMessage], messages: int = RECENT_MESSAGES) -> str:
    """The last ``messages`` of ``conversation``, markers left out, to find the article it is
    about: the turn just before may have no matter of its own ("Who wrote it?" — "The article is
    by Amira Haddad."), so the two before it count too."""
    return " ".join(strip_markers(m.content) for m in conversation[-messages:])


def names(text: str) -> list[str]:
    """Capitalised names in ``text`` (question words and sentence starters removed), in order."""
    found: list[str] = []
    for match in LONG_NAME.finditer(text):
        words = match.group(0).split()
        while words and re.sub(r"[’']\w+$", "", words[0]) in _QUESTION_WORDS:
            words = words[1:]
        name = " ".join(words).strip(" ’'")
        name = re.sub(r"[’']s$", "", name)
        if name and name not in found and not (len(words) == 1 and len(name) < 2):
            found.append(name)
    return found


def heuristic_rewrite(
    question: str, history: Sequence[ChatMessage], people: Iterable[str] = (),
    pronouns: Mapping[str, str] | None = None,
) -> str:
    """A standalone version of ``question`` for retrieval, or ``question`` itself.

    The first pronoun of each kind is replaced by a name from the previous turns (a person for
    he/she, preferring names in ``people``, e.g. the speakers of the corpus, and never one whom
    the article calls by the other pronoun, ``pronouns``: a name's form → "he" / "she"; the first
    two names for they; a name that is not a person for it), and the previous question is appended.
    """
    if not history or not needs_context(question):
        return question
    people = list(people)
    last_user = next((m.content for m in reversed(history) if m.role == "user"), "")
    if elliptical(question):  # "When?": nothing to resolve in it; the earlier question stood alone
        context = last_user.strip()
        earlier = _earlier_alone(history, people, pronouns)
        whole = _with_word(question, earlier)
        if whole:
            return f"{whole} ({context})" if context not in whole else whole
        return f"{question} ({earlier})" if earlier and earlier not in question else question
    last_answer = next((m.content for m in reversed(history) if m.role == "assistant"), "")
    last_answer = strip_markers(last_answer)
    if needs_context(last_user):  # "How many votes did he get?" — "9,615.": "he" is still Okafor
        last_user = _earlier_alone(history, people, pronouns)
    candidates = names(last_user) + [n for n in names(last_answer) if n not in names(last_user)]
    candidates = [n for n in candidates if not _CALENDAR.fullmatch(n)]  # "it" is no "February"
    speakers = {w for p in people for w in p.split()}
    persons = [n for n in candidates if set(n.split()) & speakers]
    persons += [
        n for n in candidates if len(n.split()) >= 2 and not _INSTITUTION.search(n) and n not in persons
    ]
    things = [n for n in candidates if n not in persons]
    targets = {
        "person": persons,
        "group": [" and ".join(candidates[:2])] if candidates else [],
        "thing": things[:1],
    }
    done: set[str] = set()

    def substitute(match: re.Match) -> str:
        word = match.group(0)
        lower = word.lower()
        kind = next((k for k, group in _KINDS.items() if lower in group), None)
        if kind is None or kind in done or not targets[kind]:
            return word
        fits = [t for t in targets[kind] if kind != "person" or _may_be(t, lower, pronouns or {})]
        if not fits:
            return word  # "he" after a turn about a woman alone: left for the search to read
        done.add(kind)
        target = fits[0]
        # "her" before a noun is hers ("her statement"); at the end of the question it is she
        # ("Who disagreed with her?").
        after = re.match(r"\s*([A-Za-z]+)", match.string[match.end():])
        before_noun = after is not None and after.group(1).lower() not in STOP  # "her in the report": she
        owner = lower in {"his", "its", "their", "hers", "theirs"} or (lower == "her" and before_noun)
        return f"{target}’s" if owner else target

    rewritten = re.sub(r"\b[A-Za-z]+\b", substitute, question)
    rewritten = _DEMONSTRATIVE_NOUN.sub(lambda m: _described_as(m, last_answer, last_user), rewritten)
    rewritten = _FOLLOWUP_START.sub("", rewritten).strip() or rewritten
    context = last_user.strip()
    return f"{rewritten} ({context})" if context and context not in rewritten else rewritten


_WH_START = re.compile(
    r"^\s*(?:who|whom|whose|what|when|where|why|how|which)(?:\s+(?:many|much|long|often))?\b", re.IGNORECASE
)
_CALENDAR = re.compile(
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|May|June|"
    r"July|August|September|October|November|December)(?:\s+\d{1,2})?(?:,?\s+\d{4})?"
)


def ellipsis_question(
    question: str, history: Sequence[ChatMessage], people: Iterable[str] = (),
    pronouns: Mapping[str, str] | None = None,
) -> str | None:
    """The whole question an elliptical follow-up asks ("When?" after "What did she offer?":
    "When did Gloria Fenn offer?"): the earlier question as it stood alone, read against the
    turns before it, with the new question word; ``None`` when ``question`` is no such follow-up
    or the earlier question opens with no question word ("Tell me about the strike.")."""
    if not elliptical(question) or not any(m.role == "user" for m in history):
        return None
    return _with_word(question, _earlier_alone(history, people, pronouns))


def _earlier_alone(
    history: Sequence[ChatMessage], people: Iterable[str], pronouns: Mapping[str, str] | None = None
) -> str:
    """The last question of ``history`` as it stood alone, read against the turns before it."""
    at = max(i for i, m in enumerate(history) if m.role == "user")
    return main_question(heuristic_rewrite(history[at].content.strip(), history[:at], people, pronouns))


def _may_be(name: str, pronoun: str, pronouns: Mapping[str, str]) -> bool:
    """Whether ``pronoun`` may stand for ``name``: not when the article calls them by the other."""
    said = pronouns.get(name)
    return said is None or PRONOUN_GENDER.get(pronoun, said) == said


def _with_word(question: str, earlier: str) -> str | None:
    """``earlier`` asked with the question word of ``question`` ("When" and "What did Gloria Fenn
    offer?": "When did Gloria Fenn offer?"); ``None`` when ``earlier`` opens with none."""
    rest = _WH_START.sub("", earlier, count=1).strip()
    if rest == earlier.strip() or not rest:
        return None
    asked = re.sub(r"^\s*(?:and|but|so|then)\s+", "", question.strip(), flags=re.I).rstrip(" ?.!")
    return f"{asked[:1].upper()}{asked[1:]} {rest}"


# "that ship", "this plan", "the same report": a thing the previous turn described.
_DEMONSTRATIVE_NOUN = re.compile(r"\b(?:that|this|those|these|the same)\s+([a-z][a-z-]+)\b", re.I)
_TAIL_STOP = r"(?=\s*(?:[.,;:!?(\[]|$|\s(?:and|but|which|who|that|because|while|when)\b))"


def _described_as(match: re.Match, *texts: str) -> str:
    """"that ship" as the previous turn described it ("the different ship reported lost in
    1916"): the noun with up to two words before it and the words after it to the clause's end
    (at most eight), from the last answer, else the last question; else unchanged."""
    noun = match.group(1)
    pattern = re.compile(
        rf"\b(?:a|an|the|its|their|his|her)\s+((?:[\w’'-]+\s+){{0,2}}?){re.escape(noun)}\b"
        rf"((?:\s+[\w’'-]+){{0,8}}?){_TAIL_STOP}",
        re.I,
    )
    for text in texts:
        found = list(pattern.finditer(text))
        if found:
            last = found[-1]
            return " ".join(w for w in ("the", last.group(1).strip(), noun, last.group(2).strip()) if w)
    return match.group(0)


_SPEAKER = re.compile(
    r"([A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+){0,3}),?\s+(?:said|says|noted|stated|added|explained|argued|"
    r"warned|told|wrote|highlighted|pointed out|concurred)\b"
)


_NAME_LINKS = {"for", "of", "the", "at", "and", "a", "an", "on", "in", "new"}
_APPOSITIVE = re.compile(r"(?:^|(?<=[.!?]\s))([A-Z][\w-]+(?:\s+[A-Z][\w-]+){1,2}),\s+(?:a|an|the|former)\s")


def speakers(texts: Iterable[str]) -> list[str]:
    """Names that speak in the texts ("Cha said", "Hong noted"): the people of a news corpus."""
    found: dict[str, None] = {}
    for text in texts:
        for match in _SPEAKER.finditer(text) or ():
            before = text[: match.start()].split()[-1:] or [""]
            name = match.group(1)
            # "… at the Center for Strategic and International Studies, stated": not a person
            if before[0].lower() in _NAME_LINKS or name.isupper() or _INSTITUTION.search(name):
                continue
            if name.split()[0] not in _QUESTION_WORDS:
                found.setdefault(name, None)
        for match in _APPOSITIVE.finditer(text):
            found.setdefault(match.group(1), None)
    return list(found)
