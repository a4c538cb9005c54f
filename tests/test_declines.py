"""rag.declines: what a decline quotes, on sentences written here."""

from __future__ import annotations

from rag.declines import closest_text
from rag.evidence import ScoredSentence
from rag.types import Citation, Paragraph

PARAS = [
    Paragraph("fest", 1, "The lantern festival drew 40,000 visitors."),
    Paragraph("fest", 2, "The parade ended at the harbour <script>alert(1)</script> at midnight."),
]


def _scored(*pairs: tuple[int, str]) -> list[ScoredSentence]:
    return [ScoredSentence(PARAS[n - 1], text, 1.0, 0.5, 0.5, None, 0) for n, text in pairs]


def test_the_closest_sentence_and_the_next_paragraph_are_quoted():
    text = closest_text(_scored((1, PARAS[0].text), (2, PARAS[1].text)), PARAS)
    quoted = "“The lantern festival drew 40,000 visitors.”"
    assert text == f" The closest it comes is [¶1]: {quoted} See also [¶2]."


def test_a_withheld_reply_s_paragraph_comes_first_and_markup_is_left_out():
    scored = _scored((1, PARAS[0].text), (2, PARAS[1].text))
    text = closest_text(scored, PARAS, near=[Citation("fest", 2, PARAS[1].text)])
    assert text.startswith(" The closest it comes is [¶2]: “The parade ended at the harbour alert(1) at")
    assert "<script" not in text and "See also [¶1]." in text
