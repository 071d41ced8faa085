"""Which carer serves a booking: chosen when it is accepted, changeable until check-in.

A carer may be assigned to a booking only if they are on the booking's provider's
roster, active, hold the qualification the listing's category requires valid on the
visit's day (Asia/Shanghai), and are free: no other busy booking of theirs overlaps
``[starts_at, ends_at)``.  A booking is busy from acceptance to the end of the visit
(:data:`BUSY`); cancelled, declined, expired and no-show bookings free the carer.

Two requests that assign one carer at once cannot both win.  On PostgreSQL the
exclusion constraint ``ex_booking_carer_overlap`` (migration 0024_carers) refuses
the second; :func:`exclusive` turns that refusal into the same :class:`Conflict`
the check gives, inside a savepoint so nothing of it stays.  On SQLite the pages
and the API assign under the database's write lock (``write_transaction``), so
the check sees every committed assignment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.clock import local
from app.errors import Conflict, Invalid
from providers.bookings.models import Booking, BookingStatus
from providers.carers.kinds import QUALIFICATION_LABELS
from providers.carers.models import Carer
from providers.models import Listing, ServiceCategory

S = BookingStatus

# Statuses in which a booking holds its carer (the exclusion constraint's WHERE).
BUSY = frozenset({S.ACCEPTED, S.IN_SERVICE, S.COMPLETED})
CONSTRAINT = "ex_booking_carer_overlap"

CHOOSE_A_CARER = _l("Choose the carer who will serve this visit.")


def busy_message(carer: Carer):
    return _l("%(name)s is already serving another visit at this time. Choose another carer.", name=carer.name)


def overlapping(session: Session, booking: Booking, carer_id: int) -> Booking | None:
    """Another busy booking of the carer whose time overlaps this one's."""
    return session.scalar(
        sa.select(Booking).where(
            Booking.carer_id == carer_id, Booking.id != booking.id, Booking.status.in_(BUSY),
            Booking.starts_at < booking.ends_at, Booking.ends_at > booking.starts_at,
        ).limit(1)
    )


def check_assignable(session: Session, booking: Booking, carer_id: int | None) -> Carer:
    """The carer, if they may serve ``booking``; else Invalid or Conflict on ``carer_id``
    (before anything is written)."""
    if carer_id is None:
        raise Invalid(CHOOSE_A_CARER, field="carer_id")
    carer = session.get(Carer, carer_id)
    if carer is None or carer.provider_id != booking.provider_id:
        raise Invalid(CHOOSE_A_CARER, field="carer_id")
    if not carer.active:
        raise Invalid(_l("%(name)s is no longer active on your roster.", name=carer.name), field="carer_id")
    required = session.scalar(
        sa.select(ServiceCategory.required_qualification).join(Listing, Listing.category_id == ServiceCategory.id)
        .where(Listing.id == booking.listing_id)
    )
    day = local(booking.starts_at).date()
    if required is not None and carer.valid_qualification(required, day) is None:
        raise Invalid(_l("%(name)s has no %(kind)s valid on %(day)s, which this service requires.",
                         name=carer.name, kind=QUALIFICATION_LABELS[required], day=day.isoformat()),
                      field="carer_id")
    if overlapping(session, booking, carer.id) is not None:
        raise Conflict(busy_message(carer), field="carer_id")
    return carer


@contextmanager
def exclusive(session: Session, carer: Carer) -> Iterator[None]:
    """Run the assignment in a savepoint; the database's refusal of an overlap (PostgreSQL)
    becomes the Conflict the check would have given, and nothing of the block stays."""
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError as error:
        if CONSTRAINT in str(error.orig):
            raise Conflict(busy_message(carer), field="carer_id") from None
        raise


def change_carer(session: Session, booking: Booking, staff, carer_id: int | None) -> None:
    """Give an accepted booking, not yet checked in, another carer (audited)."""
    if booking.status != S.ACCEPTED or booking.checked_in_at is not None:
        raise Conflict(_l("The carer can be changed only on an accepted booking, before check-in."),
                       field="carer_id")
    if carer_id == booking.carer_id:
        raise Invalid(_l("This carer is already assigned to the booking."), field="carer_id")
    carer = check_assignable(session, booking, carer_id)
    before = booking.carer_id
    with exclusive(session, carer):
        booking.carer_id = carer.id
    audit.record(session, actor=staff, action="booking.carer_changed", object_type="booking", object_id=booking.id,
                 before={"carer_id": before}, after={"carer_id": carer.id})
