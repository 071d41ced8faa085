"""Sanctions as the providers domain applies them: suspension and removal.

Supervision (``ratings.supervision``) decides a sanction; the effect on the
provider happens here, in the caller's transaction, with its audit event:

- **suspension** stores ``suspended_until``; the catalogue hides the provider's
  listings and :func:`providers.bookings.services.request_booking` refuses new
  bookings while ``app.clock.now()`` is before it, so the suspension lifts itself
  when the clock passes its end (no job).  Accepted bookings are honoured.
- **removal** moves the provider to *removed*, cancels its future bookings
  through the booking service (billing's receiver refunds them), tells each
  resident which other providers of the same category serve their community,
  bars the credit code from registering again for two calendar years
  (:func:`providers.models.reregistration_bar_end`), and sends :data:`provider_removed` so other domains (billing's
  purchase programmes) end what they hold for the provider.
- a **fine** is money: billing posts and stores it when ratings announces the
  sanction (``ratings.supervision.sanctions.sanction_effective``); nothing here.

This package imports neither ratings nor billing; they call or subscribe.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from blinker import signal
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.clock import local, now
from app.errors import Conflict
from app.models import User
from app.notifications import notify
from providers.bookings import services as bookings
from providers.bookings.models import Booking, BookingStatus
from providers.models import Provider, ProviderStatus, reregistration_bar_end

# Sent inside the transaction after a removal: (session, provider=, actor=, reason=).
provider_removed = signal("linli.provider-removed")

# Notification kinds, registered by the package's init_app.
NOTIFICATIONS = {
    "provider.suspended": _l("Your organisation is suspended until %(until)s: its services are hidden and no new "
                             "bookings are taken. Accepted bookings go ahead."),
    "provider.removed": _l("Your organisation was removed from Linli: %(reason)s"),
    "booking.provider_removed": _l("Booking #%(booking)s (%(title)s) is cancelled and refunded in full: the provider "
                                   "was removed from Linli. Other providers of %(category)s serve your community."),
}


def _days(name: str, default: int) -> int:
    return int(current_app.config.get(name, default))


def is_suspended(provider: Provider, at: datetime | None = None) -> bool:
    """Whether a supervision suspension is running at ``at`` (default now); see
    :meth:`Provider.takes_bookings_at` for what a suspension means."""
    return provider.suspension_ends_after(at or now()) is not None


def suspension_days() -> int:
    return _days("LINLI_SUSPENSION_DAYS", 30)


def suspend(session: Session, provider: Provider, *, actor: User | None, reason: str,
            days: int | None = None) -> datetime:
    """Suspend from now for ``days`` (30): listings hidden, new bookings refused; return the end."""
    if provider.status == ProviderStatus.REMOVED:
        raise Conflict(_l("A removed provider cannot be suspended."))
    start = now()
    until = start + timedelta(days=days or suspension_days())
    before = {"suspended_until": provider.suspended_until}
    provider.suspended_until = max(until, provider.suspended_until or until)
    session.flush()
    audit.record(session, actor=actor, action="provider.sanction_suspended", object_type="provider",
                 object_id=provider.id, before=before, after={"suspended_until": provider.suspended_until},
                 reason=reason)
    notify(session, bookings.staff_ids(session, provider.id), "provider.suspended", link="/provider/scorecard",
           until=local(provider.suspended_until).strftime("%Y-%m-%d %H:%M"))
    return provider.suspended_until


def barred_until(session: Session, credit_code: str) -> datetime | None:
    """The end of the re-registration bar on this credit code, if one is running."""
    until = session.scalar(
        sa.select(sa.func.max(Provider.reregistration_barred_until)).where(Provider.credit_code == credit_code))
    return until if until is not None and now() < until else None


def _category_name(booking: Booking) -> str:
    category = booking.listing.category
    return category.name_zh if category is not None else ""


def remove(session: Session, provider: Provider, *, actor: User | None, reason: str) -> int:
    """Remove the provider (two officials approved it upstream); return how many bookings were cancelled."""
    at = now()
    before = {"status": provider.status, "reason": provider.status_reason}
    provider.transition_to(ProviderStatus.REMOVED)
    provider.status_reason = reason
    provider.removed_at = at
    provider.reregistration_barred_until = reregistration_bar_end(at)
    session.flush()
    future = list(session.scalars(
        sa.select(Booking).where(Booking.provider_id == provider.id,
                                 Booking.status.in_((BookingStatus.REQUESTED, BookingStatus.ACCEPTED)))
        .order_by(Booking.starts_at, Booking.id).with_for_update()))
    note = str(_l("The provider was removed from Linli."))
    for booking in future:
        if booking.status == BookingStatus.REQUESTED:
            bookings.decline(session, booking, actor, note)
        else:
            bookings.cancel_by_provider(session, booking, actor, note)
        category = booking.listing.category
        notify(session, [booking.resident_id], "booking.provider_removed",
               link=f"/catalogue?category={category.code}" if category else "/catalogue",
               booking=booking.id, title=booking.listing.title, category=_category_name(booking))
    audit.record(session, actor=actor, action="provider.removed", object_type="provider", object_id=provider.id,
                 before=before, after={"status": provider.status, "removed_at": at,
                                       "reregistration_barred_until": provider.reregistration_barred_until,
                                       "bookings_cancelled": [b.id for b in future]}, reason=reason)
    notify(session, bookings.staff_ids(session, provider.id), "provider.removed", link="/provider", reason=reason)
    provider_removed.send(session, provider=provider, actor=actor, reason=reason)
    return len(future)

