"""Lists inside a sentence: "munitions, missiles and troops" is a list of three.

Read by the look-up of a question asking for a number of things (:mod:`rag.lookup`) and by the
grounding check of a list that names one thing twice (``padded``: "Aldby, Brekke, Colnes, and
Aldby" for "Which four villages …?" where the article names three). The packaged spaCy pipeline
(the attribution step's) gives the conjoined words; without it no list is seen.
"""

from __future__ import annotations

import functools

_LISTING = frozenset({"NOUN", "PROPN", "NUM", "ADJ"})


@functools.lru_cache(maxsize=256)
def _groups(text: str) -> tuple[tuple[str, ...], ...]:
    """The lists of things ``text`` gives, each as its items' words (conjoined nouns, names,
    numbers, adjectives); ``()`` without spaCy."""
    from .attribution import parse

    doc = parse(text)
    if doc is None:
        return ()
    return tuple(
        tuple(_item(t) for t in (head, *head.conjuncts))
        for head in doc
        if head.pos_ in _LISTING and head.dep_ != "conj" and head.conjuncts
    )


def _item(token) -> str:
    """A list item's words: ``token`` with what depends on it, less the items after it
    ("the Treaty on European Union", not "Treaty")."""
    rest = {t.i for c in token.children if c.dep_ in ("conj", "cc", "punct") for t in c.subtree}
    return " ".join(t.text.casefold() for t in token.subtree if t.i not in rest)


def coordinations(text: str) -> tuple[int, ...]:
    """The sizes of the lists of things ``text`` gives ("munitions, missiles and troops": 3)."""
    return tuple(len(group) for group in _groups(text))


def lists(text: str, count: int) -> bool:
    """Whether ``text`` lists ``count`` different things (or more)."""
    return any(len(set(group)) >= count for group in _groups(text))


def repeats_an_item(text: str) -> bool:
    """Whether a list in ``text`` names one thing twice ("Aldby, Brekke, Colnes, and Aldby")."""
    return any(len(set(group)) < len(group) for group in _groups(text))
