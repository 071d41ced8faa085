"""Password hashing with argon2id (OWASP: argon2id, or scrypt with N >= 2^17).

The cost comes from configuration; a stored hash carries its own parameters, so
verification works whatever the current setting, and hashes made with weaker
parameters are upgraded on the next successful log-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_PASSWORD_LENGTH = 8


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST_KIB"],
        parallelism=config["ARGON2_PARALLELISM"],
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)


# The 30,000 most common passwords of zxcvbn's list (xato's list of passwords seen in
# breaches, by frequency); those shorter than the minimum are refused by length anyway.
_COMMON: frozenset[str] | None = None


def common_passwords() -> frozenset[str]:
    global _COMMON
    if _COMMON is None:
        from zxcvbn.frequency_lists import FREQUENCY_LISTS

        _COMMON = frozenset(p for p in FREQUENCY_LISTS["passwords"] if len(p) >= MIN_PASSWORD_LENGTH)
    return _COMMON


def is_common(password: str) -> bool:
    """Whether the password (ignoring case and spaces around it) is on the list."""
    return (password or "").strip().lower() in common_passwords()


def contains_phone(password: str, phone: str | None) -> bool:
    """Whether the password contains the phone number, or is a run of 8 or more of its
    digits (spaces, dashes and a + ignored)."""
    if not phone:
        return False
    digits = "".join(ch for ch in (password or "") if ch not in " -+")
    return phone in digits or (len(digits) >= MIN_PASSWORD_LENGTH and digits in phone)
