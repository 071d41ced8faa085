"""Exclusions: an official finds a booking's lateness or cancellation outside the
provider's control (the resident's fault, force majeure), with a reason.

The booking then counts in no booking figure (``ratings.scorecard._counted_booking``);
the scorecard lists it under "Excluded by an official".  Audited; the provider
is told.  A booking is excluded once (unique in the database).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import User
from app.notifications import notify
from providers.bookings.models import Booking, BookingStatus
from providers.bookings.services import staff_ids
from ratings.supervision.models import BookingExclusion, ExclusionCause

MAX_REASON = 2000
# What can be excluded: something that counts against the provider.
AGAINST_PROVIDER = frozenset({BookingStatus.CANCELLED_BY_PROVIDER, BookingStatus.NO_SHOW_PROVIDER,
                              BookingStatus.EXPIRED})


def exclude(session: Session, official: User, booking_id, cause, reason) -> BookingExclusion:
    """Exclude a late, provider-cancelled, missed or expired booking from the figures.

    Raises Forbidden (not an official), NotFound (no such booking), Invalid (no
    cause or reason; nothing to exclude), Conflict (already excluded).
    """
    if not official.is_official:
        raise Forbidden(_l("Only officials exclude bookings."))
    try:
        booking_id = int(booking_id)
    except (TypeError, ValueError):
        raise Invalid(_l("Enter a booking number."), field="booking_id") from None
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise NotFound(_l("No such booking."), field="booking_id")
    try:
        cause = ExclusionCause(cause)
    except ValueError:
        raise Invalid(_l("Choose why it was outside the provider's control."), field="cause") from None
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Give a reason: the provider and the audit trail see it."), field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(_l("The reason is too long (2000 characters at most)."), field="reason")
    if not (booking.is_late or booking.status in AGAINST_PROVIDER):
        raise Invalid(_l("Nothing to exclude: this booking was neither late nor cancelled, missed or "
                         "left unanswered by the provider."), field="booking_id")
    if session.scalar(sa.select(BookingExclusion.id).where(BookingExclusion.booking_id == booking.id)):
        raise Conflict(_l("This booking is excluded already."), field="booking_id")
    exclusion = BookingExclusion(booking_id=booking.id, cause=cause, reason=reason, decided_by_id=official.id)
    try:
        with session.begin_nested():
            session.add(exclusion)
            session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_l("This booking is excluded already."), field="booking_id") from None
    audit.record(session, actor=official, action="supervision.booking_excluded", object_type="booking",
                 object_id=booking.id, after={"cause": cause, "status": booking.status, "late": booking.is_late},
                 reason=reason)
    notify(session, staff_ids(session, booking.provider_id), "supervision.exclusion",
           link="/provider/scorecard?metric=excluded_bookings#evidence", booking=booking.id, reason=reason)
    return exclusion


def exclusions(session: Session, *, provider_id: int | None = None, limit: int | None = 200) -> list[BookingExclusion]:
    stmt = (sa.select(BookingExclusion)
            .options(joinedload(BookingExclusion.decided_by))
            .order_by(BookingExclusion.created_at.desc(), BookingExclusion.id.desc()).limit(limit))
    if provider_id is not None:
        stmt = stmt.join(Booking, Booking.id == BookingExclusion.booking_id).where(Booking.provider_id == provider_id)
    return list(session.scalars(stmt))


def exclusion_map(session: Session, booking_ids) -> dict[int, BookingExclusion]:
    """The exclusions of some bookings (one statement), by booking id."""
    ids = list(booking_ids)
    if not ids:
        return {}
    return {e.booking_id: e for e in session.scalars(
        sa.select(BookingExclusion).where(BookingExclusion.booking_id.in_(ids)))}
