"""Who sees a resident's phone and address, and how the rest see them masked.

PIPL asks for the minimum: a provider sees the resident's real phone and
address only while it serves the booking — accepted, in service, or completed
less than ``CONTACT_HIDDEN_AFTER_DAYS`` days ago.  Before it accepts, and once
the booking is declined, expired, cancelled or a no-show, both are masked.
Officials see them masked unless they give a reason, which is recorded
(:func:`reveal_to_official`).  Residents always see their own data.

The rules are pure functions of the booking and the time; only the reveal
writes (a ``ContactAccess`` row and an audit event, flushed, not committed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.clock import now
from app.errors import Forbidden, Invalid
from app.models import User
from providers.bookings.models import Booking, BookingStatus, ContactAccess

S = BookingStatus

MASK = "****"
ADDRESS_KEPT_CHARS = 4
MAX_REASON_CHARS = 1000

# The statuses in which the serving provider needs the contact details.
SERVING = frozenset({S.ACCEPTED, S.IN_SERVICE})


def mask_phone(phone: str | None) -> str:
    """``13812345678`` → ``138****5678``; anything too short to keep digits → ``****``."""
    phone = (phone or "").strip()
    if len(phone) < 8:
        return MASK
    return f"{phone[:3]}{MASK}{phone[-4:]}"


def mask_address(address: str | None, keep: int = ADDRESS_KEPT_CHARS) -> str:
    """The first few characters (the community or street) and ``****``.

    A short address keeps at most half of itself, so it is never shown whole.
    """
    address = (address or "").strip()
    kept = min(keep, len(address) // 2)
    return f"{address[:kept]}{MASK}"


def hidden_after_days() -> int:
    return int(current_app.config["CONTACT_HIDDEN_AFTER_DAYS"])


def provider_sees_contact(booking: Booking, at: datetime, *, days: int) -> bool:
    """Whether the booking's provider may see the real phone and address at ``at``."""
    if booking.status in SERVING:
        return True
    if booking.status == S.COMPLETED and booking.completed_at is not None:
        return at < booking.completed_at + timedelta(days=days)
    return False


@dataclass(frozen=True)
class Contact:
    """A resident's contact details as one viewer may see them."""

    phone: str
    address: str
    masked: bool


def unmasked(booking: Booking) -> Contact:
    return Contact(phone=booking.resident.phone, address=booking.address, masked=False)


def masked(booking: Booking) -> Contact:
    return Contact(phone=mask_phone(booking.resident.phone), address=mask_address(booking.address), masked=True)


def contact_for_provider(booking: Booking, at: datetime | None = None, *, days: int | None = None) -> Contact:
    """The contact as the booking's provider sees it now (or at ``at``)."""
    at = at or now()
    days = hidden_after_days() if days is None else days
    return unmasked(booking) if provider_sees_contact(booking, at, days=days) else masked(booking)


def provider_contact_note(booking: Booking, *, days: int | None = None):
    """A sentence telling the provider why the contact is masked (or None if it is not)."""
    days = hidden_after_days() if days is None else days
    if provider_sees_contact(booking, now(), days=days):
        return None
    if booking.status == S.REQUESTED:
        return _l("The resident's phone and address are shown once you accept the booking.")
    if booking.status == S.COMPLETED:
        return _l("The resident's phone and address are hidden %(n)d days after completion.", n=days)
    return _l("The resident's phone and address are hidden: this booking is closed.")


def reveal_to_official(session: Session, booking: Booking, official: User, reason: str) -> Contact:
    """Record that ``official`` looked at the contact details, and why; return them unmasked."""
    if not official.is_official:
        raise Forbidden(_l("Only officials can see a resident's contact details."))
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Say why you need the contact details: the reason is recorded."), field="reason")
    if len(reason) > MAX_REASON_CHARS:
        raise Invalid(_l("The reason is too long (1000 characters at most)."), field="reason")
    session.add(ContactAccess(booking_id=booking.id, official_id=official.id, reason=reason, at=now()))
    audit.record(session, actor=official, action="booking.contact_viewed", object_type="booking",
                 object_id=booking.id, reason=reason)
    session.flush()
    return unmasked(booking)
