"""Small pieces of wording several messages share."""


def plural(n: int, word: str) -> str:
    """'1 file', '3 files': a count and its noun, the noun plural unless the count is one."""
    return f"{n} {word}{'' if n == 1 else 's'}"
