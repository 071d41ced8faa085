"""A visit that happened, for the official's pages: accepted, checked in and out through
the booking service, with its :class:`VisitRecord` written as the check-in pages do."""

from __future__ import annotations

from providers.bookings import services
from providers.visits.models import VisitRecord
from tests import factories
from app.extensions import db
from tests.carer_helpers import carer_for

HOME = (31.230400, 121.473700)
DOOR = (31.230500, 121.473800)  # about 14 m from HOME
DEVICE = "d3adb33fcafe0123456789abcdef0123456789abcdef0123456789abcdef0000"


def served_visit(clock, *, resident=None, **record):
    """A completed booking and its visit record (the clock is left at the check-out)."""
    listing = factories.listing()
    staff = factories.staff(listing.provider)
    resident = resident or factories.resident(listing.communities[0])
    booking = factories.booking(listing, resident)
    services.accept(db.session, booking, staff, carer_id=carer_for(booking))
    clock.set(booking.starts_at)
    services.check_in(db.session, booking, staff)
    clock.set(booking.ends_at)
    services.complete(db.session, booking, staff)
    values = dict(checked_in_by_id=staff.id, check_in_lat=DOOR[0], check_in_lon=DOOR[1], check_in_accuracy_m=12.0,
                  check_in_distance_m=14, check_in_device=DEVICE, checked_out_by_id=staff.id,
                  check_out_lat=DOOR[0], check_out_lon=DOOR[1], check_out_accuracy_m=9.0, check_out_distance_m=14,
                  check_out_device=DEVICE, tasks_done=["打扫卫生", "陪同聊天"])
    values.update(record)
    # The check-in made the record; the facts are then set as a phone at the door would have.
    visit = db.session.get(VisitRecord, booking.id)
    if visit is None:
        visit = VisitRecord(booking_id=booking.id)
        db.session.add(visit)
    for name, value in values.items():
        setattr(visit, name, value)
    db.session.commit()
    return booking, staff
