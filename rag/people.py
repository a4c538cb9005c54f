"""People in a corpus: the forms their names take, where they are named, and who speaks.

News articles name a person in full once ("Sydney Seiler") and by one name after ("Seiler"),
and name the speaker of a statement with a verb of saying ("…,” Cha said"; "Hong noted
that …"). These helpers let the grounding checks and the attribution of quotes work with
people rather than strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# Verbs of saying: "who argued …?" asks for a speaker; "who ordered …?" does not (the one who
# ordered is not the one who reports it).
SPEECH_VERBS = (
    r"said|says|say|stated|noted|added|explained|argued|argues|warned|told|wrote|highlighted|pointed\s+out|"
    r"suggested|called|described|interpreted|believes|thinks|claimed|stressed|cautioned|observed|"
    r"predicted|characterized|framed|remarked|concurred|emphasized|contended|maintained"
)
_LEADING_WORDS = frozenset({"The", "A", "An", "And", "But", "Former", "President", "Leader"})


def people_forms(names: Sequence[str], texts: Sequence[str]) -> dict[str, set[str]]:
    """Map each person's name to the other unambiguous forms used for them in ``texts``.

    ``names`` are the people of the corpus (e.g. the speakers of :func:`rag.conversation.speakers`);
    a one-word speaker such as "Cha" becomes a form of the full name "Victor Cha" when exactly
    one full name in the texts ends with it.
    """
    corpus = " ".join(texts)
    full: dict[str, set[str]] = {}
    for name in names:
        if len(name.split()) > 1:
            full.setdefault(name.lower(), set())
            continue
        # "Cha" -> "Victor Cha"; "Hong" -> "Hong Min" (family name first)
        pattern = rf"\b([A-Z][\w-]+\s+{re.escape(name)}|{re.escape(name)}\s+[A-Z][\w-]+)\b(?![\w-])"
        matches = {m for m in re.findall(pattern, corpus) if m.split()[0] not in _LEADING_WORDS}
        if len(matches) == 1:
            full.setdefault(matches.pop().lower(), set()).add(name.lower())
        else:
            full.setdefault(name.lower(), set())
    return full


def names_person(text: str, person: str, people: Mapping[str, set[str]]) -> bool:
    """Whether ``text`` names ``person`` (a key of ``people``) in any of their forms."""
    return bool(named_people(text, {person: people.get(person, set())}))


def _forms_pattern(name: str, forms: set[str]) -> str:
    every = sorted({name, *forms}, key=len, reverse=True)
    return r"\b(?:" + "|".join(re.escape(f) for f in every) + r")\b(?![\w-])"


def named_people(text: str, people: Mapping[str, set[str]]) -> list[str]:
    """The people (keys of ``people``) that ``text`` names, in order of first mention."""
    lower = text.lower().replace("’", "'")
    found = []
    for name, forms in people.items():
        match = re.search(_forms_pattern(name, forms), lower)
        if match:
            found.append((match.start(), name))
    return [name for _, name in sorted(found)]


def speaker(text: str, people: Mapping[str, set[str]]) -> str | None:
    """The person who speaks in ``text``: the one named as the subject of a speech verb.

    "Hong noted that … a statement by Kim Yo-jong" gives Hong; "… Kim Jong-un's ambitions,
    experts said" gives nobody; so does a paragraph where several people speak.
    """
    named = named_people(text, people)
    lower = text.lower().replace("’", "'")
    subjects = []
    for name in named:
        pattern = _forms_pattern(name, people[name])
        before_verb = rf"{pattern}(?:,[^.,]{{0,160}},)?\s+(?:also\s+|further\s+)?(?:{SPEECH_VERBS})\b"
        after_verb = rf"[”\"',]\s*(?:{SPEECH_VERBS})\s+{pattern}(?!')"  # "…,” said Cha"
        if re.search(before_verb, lower) or re.search(after_verb, lower):
            subjects.append(name)
    return subjects[0] if len(subjects) == 1 else None


def quote_speaker(text: str, before: str | None, people: Mapping[str, set[str]]) -> tuple[str | None, bool]:
    """The speaker of paragraph ``text``, and whether it came from ``before`` (the one before it).

    A paragraph naming nobody ("…,” she said; a quote running on) takes its speaker from the
    paragraph before, where news articles name them.
    """
    found = speaker(text, people)
    if found is None and before is not None and not named_people(text, people):
        return speaker(before, people), True
    return found, False


def display_name(name: str, texts: Sequence[str]) -> str:
    """``name`` (lower case) as the texts write it ("victor cha" -> "Victor Cha")."""
    for text in texts:
        match = re.search(rf"\b{re.escape(name)}\b", text.replace("’", "'"), re.IGNORECASE)
        if match:
            return match.group(0)
    return name.title()


