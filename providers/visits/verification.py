"""Verification: a visit is verified once, by one method, and the rest of Linli reads it
from :class:`~providers.visits.models.VisitRecord` (``verified_at``/``verified_by``).

- :func:`verify` records it (the code at check-out, a card code, the resident's or a
  proxy's confirmation, a follow-up call that found the visit served).  A visit
  already verified stays as it was (the first proof counts; later ones add nothing).
- :func:`clear` records an official's decision that an unverified visit may be paid,
  with a reason (audited).
- :func:`settleable` is the SQL condition "verified or cleared" that settlement and
  the scorecard share.

Both send :data:`visit_verified` inside the transaction, so billing can consume the
programme entitlement in the same commit without this package importing billing.
Receivers get ``(session, booking=…, record=…, method=…, actor=…)``; ``method`` is
None for a clearance.
"""

from __future__ import annotations

import sqlalchemy as sa
from blinker import signal
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.clock import now
from app.errors import Conflict, Forbidden, Invalid
from app.models import User
from providers.bookings.models import Booking
from providers.visits.models import VerifiedBy, VisitRecord

# A visit became payable: verified (``method`` set) or cleared by an official (``method`` None).
visit_verified = signal("linli.visit-verified")
# A visit was checked out (the flag rules run on it): (session, booking=…, record=…).
visit_closed = signal("linli.visit-closed")

MAX_REASON = 1000


def record_of(session: Session, booking_id: int, *, for_update: bool = False) -> VisitRecord | None:
    stmt = sa.select(VisitRecord).where(VisitRecord.booking_id == booking_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def verify(session: Session, booking: Booking, record: VisitRecord, method: VerifiedBy,
           actor: User | None) -> bool:
    """Record that ``booking``'s visit is verified by ``method``; False (nothing written)
    when it already was."""
    if record.verified_at is not None:
        return False
    record.verified_at = now()
    record.verified_by = method
    record.verified_actor_id = actor.id if actor is not None else None
    session.flush()
    visit_verified.send(session, booking=booking, record=record, method=method, actor=actor)
    return True


def clear(session: Session, booking: Booking, record: VisitRecord, official: User, reason: str) -> None:
    """An official clears an unverified visit for payment, with a reason (audited)."""
    if not official.is_official:
        raise Forbidden(_l("Only officials can clear a visit for payment."))
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Give a reason: the provider and the auditors will see it."), field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(_l("The reason is too long (1000 characters at most)."), field="reason")
    if record.verified_at is not None:
        raise Conflict(_l("This visit is already verified: there is nothing to clear."))
    if record.cleared_at is not None:
        raise Conflict(_l("This visit is already cleared for payment."))
    record.cleared_at = now()
    record.cleared_by_id = official.id
    record.clear_reason = reason
    session.flush()
    audit.record(session, actor=official, action="visit.cleared", object_type="booking", object_id=booking.id,
                 before={"verified": False}, after={"cleared": True}, reason=reason)
    visit_verified.send(session, booking=booking, record=record, method=None, actor=official)


def settleable() -> sa.ColumnElement[bool]:
    """SQL: the visit (``VisitRecord``, joined on the booking) is verified or cleared."""
    return sa.or_(VisitRecord.verified_at.is_not(None), VisitRecord.cleared_at.is_not(None))
