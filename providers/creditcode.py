"""The unified social credit code (统一社会信用代码, GB 32100-2015).

18 characters from ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (no I, O, S, V, Z); the
18th is a check character: weights 3^(i-1) mod 31 for the first 17, and
check index = (31 - sum mod 31) mod 31.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
WEIGHTS = [pow(3, i, 31) for i in range(17)]


def check_character(first17: str) -> str:
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise(code: str) -> str:
    return code.strip().upper()


def problem_with(code: str) -> str | None:
    """Why ``code`` is not a valid credit code, or None if it is."""
    code = normalise(code)
    if len(code) != 18:
        return "length"
    bad = [ch for ch in code if ch not in _VALUE]
    if bad:
        return "characters"
    if check_character(code[:17]) != code[17]:
        return "check"
    return None


def is_valid(code: str) -> bool:
    return problem_with(code) is None
