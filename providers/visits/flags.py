"""Anomaly flags: each rule's test in one place, and the one way a flag is written.

:func:`raise_flag` stores a flag once per visit and rule (a second raise of the
same rule on the same visit keeps the first and its evidence).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import now
from providers.bookings.models import Booking
from providers.visits.models import FlagRule, VisitFlag


def raise_flag(session: Session, booking: Booking, rule: FlagRule, evidence: dict) -> VisitFlag:
    """The visit's flag for ``rule``: the stored one, or a new one with ``evidence``."""
    flag = session.scalar(sa.select(VisitFlag).where(VisitFlag.booking_id == booking.id, VisitFlag.rule == rule))
    if flag is None:
        flag = VisitFlag(booking_id=booking.id, rule=rule, evidence=evidence, raised_at=now())
        session.add(flag)
        session.flush()
    return flag
