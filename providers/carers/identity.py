"""A carer's 居民身份证号: checked, kept secret, shown masked.

The number itself is personal information of the most sensitive kind (PIPL art. 28):
Linli stores it only encrypted (Fernet: AES-128-CBC with an HMAC, so a tampered
value does not decrypt) and keeps beside it a keyed HMAC-SHA256 digest, so that
the same person entered twice at one provider is found without decrypting
anything.  Both keys are derived from the application's ``SECRET_KEY`` (or
``CARER_ID_SECRET`` when set) with a label each, so neither key is the secret
itself and one never serves the other's purpose.  Pages, the API and audit
events only ever see :func:`mask`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date

from cryptography.fernet import Fernet
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.errors import Invalid

# GB 11643-1999: the weights of the first 17 digits and the check character of the sum mod 11.
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"

WRONG_FORMAT = _l("An ID number has 18 characters: 17 digits and a last digit or X.")
WRONG_DATE = _l("The date of birth in this ID number does not exist.")
WRONG_CHECK = _l("This ID number is not valid (its last character does not match). Check it on the ID card.")


def check_character(first17: str) -> str:
    return CHECK_CHARACTERS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def clean(number: str | None) -> str:
    """The number as stored: stripped, a lower-case x made upper-case; Invalid on
    ``id_number`` for a wrong length or character, an impossible birth date or a
    wrong check character."""
    value = (number or "").strip().replace(" ", "").upper()
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise Invalid(WRONG_FORMAT, field="id_number")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise Invalid(WRONG_DATE, field="id_number") from None
    if born.year < 1900:
        raise Invalid(WRONG_DATE, field="id_number")
    if check_character(value[:17]) != value[17]:
        raise Invalid(WRONG_CHECK, field="id_number")
    return value


def mask(number: str) -> str:
    """``370102199003071234`` → ``3701**********1234``: the region and the last four only."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def _key(label: bytes) -> bytes:
    secret = current_app.config.get("CARER_ID_SECRET") or current_app.config["SECRET_KEY"]
    return hmac.new(str(secret).encode(), label, hashlib.sha256).digest()


def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_key(b"linli carer id number: encryption")))


def encrypt(number: str) -> str:
    return _fernet().encrypt(number.encode()).decode("ascii")


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode("ascii")).decode()


def digest(number: str) -> str:
    """A keyed digest (hex): equal for the same number, useless without the key."""
    return hmac.new(_key(b"linli carer id number: digest"), number.encode(), hashlib.sha256).hexdigest()
