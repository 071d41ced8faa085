"""Closed visits for the flag, flag-page and follow-up tests: a booking with its
times set and a :class:`VisitRecord`, closed by sending ``visit_closed`` the way
the check-out does."""

from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from providers.bookings.models import BookingStatus
from providers.visits.models import VerifiedBy, VisitRecord
from providers.visits.verification import visit_closed
from tests import factories

import itertools

HOME = (31.2304, 121.4737)
_spots = itertools.count(1)
# Unless a test says where and on which device, each visit is at its own place (1 km
# apart) on its own device, so only the rule a test arranges fires.
ELSEWHERE = object()


def _own_spot() -> tuple[float, float]:
    return (HOME[0] + next(_spots) * 1000 / 111_195, HOME[1])


def booked(listing=None, *, days_ahead: int = 1, hour: int = 9, **kwargs):
    listing = listing or factories.listing()
    return factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead, hour), **kwargs)


def close_visit(booking=None, *, carer=None, late_minutes: float = 0, served_minutes: float | None = None,
                check_in=ELSEWHERE, check_out=ELSEWHERE, distances=(0, 0), device=ELSEWHERE,
                verified_by: VerifiedBy | None = VerifiedBy.CODE, send: bool = True):
    """Check ``booking`` in at its start (+``late_minutes``) and out after ``served_minutes``
    (default: the whole slot); then send ``visit_closed``."""
    booking = booking or booked()
    carer = carer or factories.staff(booking.provider)
    spot = _own_spot()
    check_in = spot if check_in is ELSEWHERE else check_in
    check_out = spot if check_out is ELSEWHERE else check_out
    device = f"device-{booking.id}" if device is ELSEWHERE else device
    booking.checked_in_at = booking.starts_at + timedelta(minutes=late_minutes)
    if served_minutes is None:
        served_minutes = (booking.ends_at - booking.starts_at).total_seconds() / 60
    booking.completed_at = booking.checked_in_at + timedelta(minutes=served_minutes)
    booking.status = BookingStatus.COMPLETED
    record = VisitRecord(
        booking_id=booking.id, checked_in_by_id=carer.id, checked_out_by_id=carer.id,
        check_in_lat=check_in[0] if check_in else None, check_in_lon=check_in[1] if check_in else None,
        check_out_lat=check_out[0] if check_out else None, check_out_lon=check_out[1] if check_out else None,
        check_in_distance_m=distances[0] if check_in else None,
        check_out_distance_m=distances[1] if check_out else None,
        check_in_device=device,
        verified_at=booking.completed_at if verified_by else None, verified_by=verified_by,
    )
    db.session.add(record)
    db.session.flush()
    if send:
        visit_closed.send(db.session, booking=booking, record=record)
    db.session.commit()
    return booking, record


HOURS = (9, 11, 13, 15)


def programme_visits(n: int, listing, award, *, start: int = 0, **close):
    """``n`` closed visits of ``listing`` funded by ``award`` (distinct slots: 2 a slot, 4 slots a day)."""
    from providers.bookings.models import Funding

    visits, award_id = [], award.id
    for i in range(start, start + n):
        booking = booked(listing, days_ahead=1 + i // 8, hour=HOURS[(i // 2) % 4])
        booking.funding = Funding.PROGRAMME
        booking.programme_award_id = award_id
        db.session.flush()
        visits.append(close_visit(booking, **close)[0])
    return visits
