"""Bookings: request, answer, serve, finish, cancel, no-show — one state machine.

Every change goes through :func:`_move`, which checks ``BOOKING_TRANSITIONS``,
releases the slot place when the booking stops holding one, records who and
when (``BookingEvent``), writes the audit event for providers' and officials'
actions, and notifies whoever the change concerns.  Services flush, never commit.
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
from app.errors import Conflict, Forbidden, IllegalTransition, Invalid, NotFound
from app.models import User
from app.notifications import notify
from providers.bookings.models import (
    BOOKING_STATUS_LABELS,
    BOOKING_TRANSITIONS,
    HOLDS_PLACE,
    RESIDENT_PAID,
    Booking,
    BookingEvent,
    BookingFunding,
    BookingStatus,
)
from providers.bookings.slots import MIN_LEAD, release_place, take_place, window_for
from providers.catalogue import public_listing
from providers.models import Listing, Provider, ProviderStaff

S = BookingStatus

# Sent inside the transaction after every change of a booking's status (and
# when one is requested: old is None), so other domains (billing) can act in
# the same transaction without this package importing them.  Receivers get
# (session, booking, old, new, actor) and may raise a LinliError to refuse.
booking_changed = signal("linli.booking-changed")


def _config(name: str) -> int:
    return int(current_app.config[name])


def staff_ids(session: Session, provider_id: int) -> list[int]:
    return list(session.scalars(sa.select(ProviderStaff.user_id).where(ProviderStaff.provider_id == provider_id)))


def _params(booking: Booking, **extra) -> dict:
    return {
        "booking": booking.id,
        "title": booking.listing.title,
        "when": local(booking.starts_at).strftime("%Y-%m-%d %H:%M"),
        **extra,
    }


def _move(
    session: Session,
    booking: Booking,
    to: BookingStatus,
    *,
    actor: User | None,
    reason: str | None = None,
    notify_resident: bool = False,
    notify_provider: bool = False,
    audited: bool = True,
) -> None:
    old = booking.status
    if to not in BOOKING_TRANSITIONS[old]:
        raise IllegalTransition(
            _l(
                "This booking is %(old)s; it cannot become %(new)s.",
                old=BOOKING_STATUS_LABELS[old],
                new=BOOKING_STATUS_LABELS[to],
            )
        )
    booking.status = to
    booking.status_reason = reason or booking.status_reason
    if old in HOLDS_PLACE and to not in HOLDS_PLACE:
        release_place(session, booking.slot_id)
        booking.closed_at = now()
    session.add(
        BookingEvent(booking_id=booking.id, at=now(), actor_id=actor.id if actor else None,
                     from_status=old, to_status=to, reason=reason)
    )
    session.flush()
    booking_changed.send(session, booking=booking, old=old, new=to, actor=actor)
    if audited and actor is not None and (actor.is_official or actor.is_provider_staff):
        audit.record(session, actor=actor, action=f"booking.{to.value}", object_type="booking",
                     object_id=booking.id, before={"status": old}, after={"status": to}, reason=reason)
    kind = f"booking.{to.value}"
    link = f"/bookings/{booking.id}"
    if notify_resident:
        notify(session, [booking.resident_id], kind, link=link, **_params(booking, reason=reason or ""))
    if notify_provider:
        notify(session, staff_ids(session, booking.provider_id), kind,
               link=f"/provider/bookings/{booking.id}", **_params(booking, reason=reason or ""))


def _reason(reason: str | None, required: bool = True) -> str | None:
    reason = (reason or "").strip()
    if required and not reason:
        raise Invalid(_l("Give a reason: the other side will see it."), field="reason")
    if len(reason) > 1000:
        raise Invalid(_l("The reason is too long (1000 characters at most)."), field="reason")
    return reason or None


# --- residents -------------------------------------------------------------


def request_booking(
    session: Session, resident: User, *, listing_id: int, starts_at: datetime, address: str, note: str = "",
    funding: BookingFunding = RESIDENT_PAID,
) -> Booking:
    """A resident asks for a slot of a published listing in their community; ``funding``
    (stored on the booking) says who pays: the resident unless billing says otherwise."""
    if not resident.is_resident:
        raise Forbidden(_l("Only residents can book services."))
    _refuse_if_suspended(session, listing_id)
    listing = public_listing(session, listing_id)
    if resident.community_id not in {c.id for c in listing.communities}:
        raise Invalid(_l("This service is not offered in your community."), field="starts_at")
    if starts_at.tzinfo is None:
        raise Invalid(_l("Choose a time from the list."), field="starts_at")
    current = now()
    if starts_at <= current:
        raise Invalid(_l("This time is in the past. Choose a later time."), field="starts_at")
    if starts_at <= current + MIN_LEAD:
        raise Invalid(_l("This time is too soon for the provider to answer. Choose a later time."),
                      field="starts_at")
    if starts_at > current + timedelta(days=_config("BOOKING_HORIZON_DAYS")):
        raise Invalid(
            _l("Bookings open %(days)d days ahead at most.", days=_config("BOOKING_HORIZON_DAYS")),
            field="starts_at",
        )
    window = window_for(listing, starts_at)
    if window is None:
        raise Invalid(_l("The provider is not available at this time. Choose a time from the list."),
                      field="starts_at")
    address = (address or "").strip()
    if not address:
        raise Invalid(_l("Enter the address where the service is needed."), field="address")
    if len(address) > 200:
        raise Invalid(_l("The address is too long (200 characters at most)."), field="address")
    note = (note or "").strip()
    if len(note) > 1000:
        raise Invalid(_l("The note is too long (1000 characters at most)."), field="note")

    slot = take_place(session, listing, starts_at, window.capacity)
    respond_by = min(current + timedelta(hours=listing.response_hours), starts_at)
    booking = Booking(
        listing_id=listing.id, listing_version=listing.version, provider_id=listing.provider_id,
        resident_id=resident.id, community_id=resident.community_id, slot_id=slot.id,
        status=S.REQUESTED, address=address, note=note, price_fen=listing.price_fen,
        requested_at=current, respond_by=respond_by, starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=listing.duration_minutes),
        grace_minutes=_config("BOOKING_GRACE_MINUTES"),
        funding=funding.kind, programme_award_id=funding.programme_award_id,
    )
    session.add(booking)
    session.flush()
    session.add(BookingEvent(booking_id=booking.id, at=current, actor_id=resident.id, from_status=None,
                             to_status=S.REQUESTED))
    booking_changed.send(session, booking=booking, old=None, new=S.REQUESTED, actor=resident)
    notify(session, staff_ids(session, booking.provider_id), "booking.requested",
           link=f"/provider/bookings/{booking.id}", **_params(booking))
    return booking


def _refuse_if_suspended(session: Session, listing_id: int) -> None:
    """A provider under a supervision suspension takes no new bookings until it ends."""
    until = session.scalar(sa.select(Provider.suspended_until).join(Listing, Listing.provider_id == Provider.id)
                           .where(Listing.id == listing_id))
    if until is not None and now() < until:
        raise Conflict(_l("This provider is suspended until %(until)s and takes no new bookings. "
                          "Choose another provider.", until=local(until).strftime("%Y-%m-%d %H:%M")),
                       field="starts_at")


def cancel_by_resident(session: Session, booking: Booking, resident: User, reason: str = "") -> None:
    """Free before the notice window; later it is recorded as a late cancellation."""
    _own_resident(booking, resident)
    notice = timedelta(hours=_config("BOOKING_FREE_CANCEL_HOURS"))
    booking.late_cancellation = booking.status == S.ACCEPTED and now() > booking.starts_at - notice
    _move(session, booking, S.CANCELLED_BY_RESIDENT, actor=resident, reason=_reason(reason, False),
          notify_provider=True)


def confirm_completion(session: Session, booking: Booking, resident: User) -> None:
    _own_resident(booking, resident)
    if booking.status != S.COMPLETED:
        raise IllegalTransition(_l("Only a completed booking can be confirmed."))
    if booking.confirmed_at is not None:
        raise IllegalTransition(_l("This booking is already confirmed."))
    booking.confirmed_at = now()
    session.add(BookingEvent(booking_id=booking.id, at=booking.confirmed_at, actor_id=resident.id,
                             from_status=S.COMPLETED, to_status=S.COMPLETED, reason="confirmed"))
    session.flush()
    notify(session, staff_ids(session, booking.provider_id), "booking.confirmed",
           link=f"/provider/bookings/{booking.id}", **_params(booking))


def report_provider_no_show(session: Session, booking: Booking, resident: User) -> None:
    """The resident says nobody came; the provider or an official confirms it."""
    _own_resident(booking, resident)
    if booking.status != S.ACCEPTED:
        raise IllegalTransition(_l("A no-show can only be reported for an accepted booking."))
    if now() < booking.starts_at + timedelta(minutes=booking.grace_minutes):
        raise Invalid(_l("You can report a no-show once the start time plus %(n)d minutes has passed.",
                         n=booking.grace_minutes))
    if booking.no_show_reported_at is not None:
        raise IllegalTransition(_l("You have already reported this no-show."))
    booking.no_show_reported_at = now()
    session.flush()
    notify(session, staff_ids(session, booking.provider_id), "booking.no_show_reported",
           link=f"/provider/bookings/{booking.id}", **_params(booking))


def _own_resident(booking: Booking, resident: User) -> None:
    if booking.resident_id != resident.id:
        raise NotFound(_l("No such booking."))


# --- providers -------------------------------------------------------------


def accept(session: Session, booking: Booking, staff: User) -> None:
    booking.responded_at = now()
    booking.late_response = booking.responded_at > booking.respond_by
    _move(session, booking, S.ACCEPTED, actor=staff, notify_resident=True)


def decline(session: Session, booking: Booking, staff: User, reason: str) -> None:
    reason = _reason(reason)
    booking.responded_at = now()
    booking.late_response = booking.responded_at > booking.respond_by
    _move(session, booking, S.DECLINED, actor=staff, reason=reason, notify_resident=True)


def check_in(session: Session, booking: Booking, staff: User) -> None:
    current = now()
    if current < booking.starts_at - timedelta(hours=1):
        raise Invalid(_l("You can check in at most one hour before the start."))
    booking.checked_in_at = current
    booking.late_start = current > booking.starts_at + timedelta(minutes=booking.grace_minutes)
    _move(session, booking, S.IN_SERVICE, actor=staff, notify_resident=True)


def complete(session: Session, booking: Booking, staff: User) -> None:
    booking.completed_at = now()
    booking.late_finish = booking.completed_at > booking.ends_at + timedelta(minutes=booking.grace_minutes)
    _move(session, booking, S.COMPLETED, actor=staff, notify_resident=True)


def cancel_by_provider(session: Session, booking: Booking, staff: User, reason: str) -> None:
    _move(session, booking, S.CANCELLED_BY_PROVIDER, actor=staff, reason=_reason(reason), notify_resident=True)


def confirm_provider_no_show(session: Session, booking: Booking, actor: User, reason: str = "") -> None:
    """The provider admits, or an official finds, that nobody came."""
    if booking.no_show_reported_at is None and not actor.is_official:
        raise IllegalTransition(_l("The resident has not reported a no-show for this booking."))
    reason = _reason(reason, required=actor.is_official)
    _move(session, booking, S.NO_SHOW_PROVIDER, actor=actor, reason=reason,
          notify_resident=True, notify_provider=actor.is_official)


def mark_resident_no_show(session: Session, booking: Booking, staff: User, reason: str = "") -> None:
    if now() < booking.starts_at + timedelta(minutes=booking.grace_minutes):
        raise Invalid(_l("You can record that the resident was not there once the start time plus "
                         "%(n)d minutes has passed.", n=booking.grace_minutes))
    _move(session, booking, S.NO_SHOW_RESIDENT, actor=staff, reason=_reason(reason, False),
          notify_resident=True)


def provider_booking(session: Session, provider_id: int, booking_id: int, *, for_update: bool = False) -> Booking:
    """A booking of this provider (404 for any other)."""
    stmt = sa.select(Booking).where(Booking.id == booking_id, Booking.provider_id == provider_id)
    if for_update:
        stmt = stmt.with_for_update()
    booking = session.scalar(stmt)
    if booking is None:
        raise NotFound(_l("No such booking."))
    return booking


def resident_booking(session: Session, resident: User, booking_id: int, *, for_update: bool = False) -> Booking:
    stmt = sa.select(Booking).where(Booking.id == booking_id, Booking.resident_id == resident.id)
    if for_update:
        stmt = stmt.with_for_update()
    booking = session.scalar(stmt)
    if booking is None:
        raise NotFound(_l("No such booking."))
    return booking


# --- scheduled jobs ----------------------------------------------------------


def expire_overdue_requests(session: Session) -> int:
    """Requests not answered by their respond-by time expire (a late response)."""
    current = now()
    ids = list(session.scalars(
        sa.select(Booking.id).where(Booking.status == S.REQUESTED, Booking.respond_by < current)
        .order_by(Booking.id)
    ))
    expired = 0
    for booking_id in ids:
        # Re-read under a row lock: an answer may have arrived meanwhile.
        booking = session.scalar(sa.select(Booking).where(Booking.id == booking_id).with_for_update())
        if booking is None or booking.status != S.REQUESTED:
            continue
        booking.late_response = True
        _move(session, booking, S.EXPIRED, actor=None, reason="no answer by the respond-by time",
              notify_resident=True, notify_provider=True)
        expired += 1
    return expired


def auto_confirm_completed(session: Session) -> int:
    """Completed bookings the resident has not confirmed within 72 hours confirm themselves."""
    cutoff = now() - timedelta(hours=_config("BOOKING_AUTO_CONFIRM_HOURS"))
    result = session.execute(
        sa.update(Booking)
        .where(Booking.status == S.COMPLETED, Booking.confirmed_at.is_(None), Booking.completed_at <= cutoff)
        .values(confirmed_at=now(), auto_confirmed=True)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
