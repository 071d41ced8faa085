"""Carers for tests that accept bookings: every accepted booking needs one.

:func:`carer_for` puts a fresh carer on the booking's provider's roster, holding
every qualification until 2099, so a test that accepts many bookings at one time
(a slot of capacity 2, two bookings at nine) gets a free carer for each.
"""

from __future__ import annotations

import itertools
from datetime import date

from app.extensions import db
from providers.carers import identity
from providers.carers.kinds import QualificationKind
from providers.carers.models import Carer, CarerQualification

_seq = itertools.count(1)


def id_number(n: int | None = None) -> str:
    """A valid 居民身份证号 (check digit and all), different for each ``n``."""
    n = next(_seq) if n is None else n
    first17 = f"370102199{n // 100000 % 10}0{1 + n % 9}{10 + n % 18:02d}" + f"{n % 1000:03d}"
    return first17 + identity.check_character(first17)


def carer(provider_id: int, *, name: str = "王秀兰", qualified_until: date | None = date(2099, 12, 31),
          kinds=tuple(QualificationKind), active: bool = True) -> Carer:
    """A carer of ``provider_id`` (flushed, not committed: it joins the caller's transaction)."""
    number = id_number()
    obj = Carer(provider_id=provider_id, name=name, phone=f"139{next(_seq):08d}", active=active,
                id_number_secret=identity.encrypt(number), id_number_digest=identity.digest(number),
                id_number_masked=identity.mask(number))
    if qualified_until is not None:
        obj.qualifications = [CarerQualification(kind=kind, number=f"Q{next(_seq):06d}", expires_on=qualified_until)
                              for kind in kinds]
    db.session.add(obj)
    db.session.flush()
    return obj


def carer_for(booking) -> int:
    """The id of a new, fully qualified carer of the booking's provider."""
    return carer(booking.provider_id).id
