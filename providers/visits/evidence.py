"""What an official sees of one visit, and the access log of its raw locations.

The page shows the facts that judge a visit — times, distances, accuracy, the
device (a shortened digest), tasks, the short-visit reason, the code's attempts,
how and when it was verified or cleared, its flags and photos — without the raw
coordinates.  These (the check-in, the check-out and the resident's home) are
personal information (PIPL): an official sees them only after asking for them with
a reason, which :func:`reveal_locations` writes to the audit trail
(``visit.evidence_viewed``) in the same transaction, and only in that answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import User
from providers.bookings.models import Booking
from providers.visits import geo
from providers.visits.models import HomeLocation, VisitFlag, VisitPhoto, VisitRecord
from providers.visits.verification import record_of

DEVICE_SHOWN = 10  # characters of the device digest on the page (enough to compare)
MAX_REASON = 1000


@dataclass(frozen=True)
class Locations:
    """The raw positions of a visit, for the one answer that reveals them."""

    check_in: tuple[float, float] | None
    check_out: tuple[float, float] | None
    home: tuple[float, float] | None
    dropped: bool


def booking_of(session: Session, booking_id: int, *, for_update: bool = False) -> Booking:
    stmt = sa.select(Booking).where(Booking.id == booking_id).options(
        joinedload(Booking.listing), joinedload(Booking.provider), joinedload(Booking.resident))
    if for_update:
        stmt = stmt.with_for_update(of=Booking)
    booking = session.scalar(stmt)
    if booking is None:
        raise NotFound(_l("No such booking."))
    return booking


def short_device(digest: str | None) -> str | None:
    return f"{digest[:DEVICE_SHOWN]}…" if digest else None


def people(session: Session, record: VisitRecord | None) -> dict[int, User]:
    """The users a record names (carers, verifier, clearer), by id, in one query."""
    if record is None:
        return {}
    ids = {record.checked_in_by_id, record.checked_out_by_id, record.verified_actor_id, record.cleared_by_id}
    ids.discard(None)
    return {user.id: user for user in session.scalars(sa.select(User).where(User.id.in_(ids)))} if ids else {}


def flags_of(session: Session, booking_id: int) -> list[VisitFlag]:
    return list(session.scalars(sa.select(VisitFlag).where(VisitFlag.booking_id == booking_id)
                                .order_by(VisitFlag.raised_at, VisitFlag.id)))


def photos_of(session: Session, booking_id: int) -> list[VisitPhoto]:
    return list(session.scalars(sa.select(VisitPhoto).where(VisitPhoto.booking_id == booking_id)
                                .order_by(VisitPhoto.uploaded_at, VisitPhoto.id)))


def _pair(lat, lon) -> tuple[float, float] | None:
    return (lat, lon) if lat is not None and lon is not None else None


def reveal_locations(session: Session, booking: Booking, official: User, reason: str) -> Locations:
    """Record that ``official`` looked at this visit's raw locations, and why; return them.

    Forbidden for anyone else; Invalid on ``reason`` without one; Conflict when the
    booking has no visit record.  Nothing is written on a refusal.
    """
    if not official.is_official:
        raise Forbidden(_l("Only officials can see a visit's locations."))
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Say why you need the locations: the reason is recorded."), field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(_l("The reason is too long (1000 characters at most)."), field="reason")
    record = record_of(session, booking.id)
    if record is None:
        raise Conflict(_l("This booking has no visit record yet."))
    home: HomeLocation | None = geo.home_of(session, booking.resident_id)
    audit.record(session, actor=official, action="visit.evidence_viewed", object_type="booking",
                 object_id=booking.id, after={"locations": True}, reason=reason)
    return Locations(
        check_in=_pair(record.check_in_lat, record.check_in_lon),
        check_out=_pair(record.check_out_lat, record.check_out_lon),
        home=_pair(home.lat, home.lon) if home is not None else None,
        dropped=record.coordinates_dropped_at is not None,
    )


def evidence_views(session: Session, booking: Booking) -> list:
    """Who looked at this visit's locations or photos (newest first): the events this module
    writes and those of the photo view (``after`` names the photo)."""
    return list(session.scalars(
        sa.select(audit.AuditEvent).where(audit.AuditEvent.object_type == "booking",
                                          audit.AuditEvent.object_id == booking.id,
                                          audit.AuditEvent.action == "visit.evidence_viewed")
        .options(joinedload(audit.AuditEvent.actor))
        .order_by(audit.AuditEvent.at.desc(), audit.AuditEvent.id.desc())))
