"""What a decline shows: the article's closest sentence and paragraphs, for a near-miss question.

The decline itself is :data:`rag.text.NOT_IN_ARTICLE`; :func:`closest_text` follows it, so that a
reader whose question the article does not answer still sees what the article does say.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .evidence import ScoredSentence
from .grounding import SourceMap
from .text import NESTED_QUOTES, QUOTE_WORDS, strip_markers
from .types import Citation, Paragraph

_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")


def closest_text(
    scored: Sequence[ScoredSentence], closest: Sequence[Paragraph], near: Sequence[Citation] = ()
) -> str:
    """What follows a decline: the article's closest sentence, quoted with its paragraph, and the
    next closest paragraph, so a reader who asked a near-miss question sees what it does say.
    ``near``: the paragraphs a withheld reply cited; the closest sentence is taken from them
    first, since the reply the reader does not see rested on them."""
    if not scored or not closest:
        return ""
    cited = {(c.doc, c.paragraph) for c in near}
    best = next((s for s in scored if (s.paragraph.doc, s.paragraph.number) in cited), scored[0])
    sources = SourceMap.build([best.paragraph, *(p for p in closest if p != best.paragraph)])
    # Markup in an article ("<script>…") is no part of what a reader is quoted; cited paragraphs
    # show it as text, a decline's quote leaves it out.
    words = _TAG.sub(" ", strip_markers(best.text)).split()
    quote = " ".join(words[:QUOTE_WORDS]) + ("…" if len(words) > QUOTE_WORDS else "")
    quote = quote.translate(NESTED_QUOTES)  # quotes inside the quote become single quotes
    text = f" The closest it comes is [{sources.label(best.paragraph)}]: “{quote}”"
    others = [p for p in closest if p != best.paragraph][:1]
    if others:
        text += f" See also [{sources.label(others[0])}]."
    return text
