"""Arrangements shared by the rating and complaint tests: bookings in a given state,
made through the real booking services."""

from __future__ import annotations

import sqlalchemy as sa

from app.audit import AuditEvent
from app.extensions import db
from app.notifications import Notification
from providers.bookings import services as bookings
from tests import factories
from tests.carer_helpers import carer_for

PROBLEM = "application/problem+json"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def accepted_booking(listing=None, resident=None, staff=None):
    """A booking the provider accepted; returns (booking, staff)."""
    booking = factories.booking(listing, resident)
    staff = staff or factories.staff(booking.provider)
    bookings.accept(db.session, booking, staff, carer_id=carer_for(booking))
    db.session.commit()
    return booking, staff


def completed_booking(clock, listing=None, resident=None, staff=None):
    """A booking served and completed on time (the clock ends at its completion)."""
    booking, staff = accepted_booking(listing, resident, staff)
    clock.set(booking.starts_at)
    bookings.check_in(db.session, booking, staff)
    clock.set(booking.ends_at)
    bookings.complete(db.session, booking, staff)
    db.session.commit()
    return booking, staff


def notifications(kind: str, user_id: int | None = None) -> list[Notification]:
    stmt = sa.select(Notification).where(Notification.kind == kind)
    if user_id is not None:
        stmt = stmt.where(Notification.user_id == user_id)
    return list(db.session.scalars(stmt))


def audit_events(action: str, object_id: int | None = None) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.action == action)
    if object_id is not None:
        stmt = stmt.where(AuditEvent.object_id == object_id)
    return list(db.session.scalars(stmt))

