"""Small pieces of wording several messages share."""
from __future__ import annotations

from collections.abc import Sequence


def plural(n: int, word: str) -> str:
    """'1 file', '3 files': a count and its noun, the noun plural unless the count is one."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def first_few(items: Sequence[str], n: int, sep: str = ", ", more: str = " ...") -> str:
    """The first n items joined by sep, `more` after them when there are others (a long list kept
    short in one message)."""
    return sep.join(items[:n]) + (more if len(items) > n else "")
