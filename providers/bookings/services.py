"""Bookings: request, answer, serve, finish, cancel, no-show — one state machine.

What each party may do, and when, is the table in :mod:`providers.bookings.actions`:
every service here first checks its row (reason, status, facts, time) with
:func:`actions.check`, and only then writes.  Every change of status goes through
:func:`_move`, which moves the booking with the state machine
(:data:`~providers.bookings.models.BOOKING`), releases the slot place when the
booking stops holding one, records who and when (``BookingEvent``), writes the
audit event for providers' and officials' actions, and notifies whoever the
change concerns.  Services flush, never commit.

A resident holds at most one live booking of a slot (a partial unique index):
a second request for it, a double submit or a doubled API call, is refused with
:class:`AlreadyBooked`, which names the booking they have.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from blinker import signal
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.clock import local, now
from app.errors import Conflict, Forbidden, Invalid, NotFound, Problems
from app.models import User
from app.notifications import notify
from providers.bookings import actions, cancellation
from providers.bookings.actions import Party
from providers.bookings.models import (
    BOOKING,
    HOLDS_PLACE,
    OPEN,
    RESIDENT_PAID,
    Booking,
    BookingEvent,
    BookingFunding,
    BookingSlot,
    BookingStatus,
)
from providers.bookings.slots import MIN_LEAD, release_place, take_place, window_for
from providers.carers import assignment
from providers.catalogue import public_listing
from providers.models import Listing, Provider, ProviderStaff
from providers.visits import services as visits
from providers.visits.services import VisitFacts

S = BookingStatus

# Sent inside the transaction after every change of a booking's status (and
# when one is requested: old is None), so other domains (billing) can act in
# the same transaction without this package importing them.  Receivers get
# (session, booking, old, new, actor) and may raise a LinliError to refuse.
booking_changed = signal("linli.booking-changed")

# The reason on the event of a confirmation the auto-confirm job made (shown as
# "Completion confirmed" by "Linli (automatic)", as a resident's is by them).
AUTO_CONFIRMED = "confirmed automatically"


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
    old = BOOKING.move(booking, to)
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


class AlreadyBooked(Conflict):
    """The resident already holds a live booking of this slot (``booking_id``)."""

    def __init__(self, booking_id: int):
        super().__init__(_l("You have already booked this time: booking #%(n)d.", n=booking_id), field="starts_at")
        self.booking_id = booking_id


def _guard(action: actions.Action, booking: Booking, reason: str | None = None) -> str | None:
    """Check ``action``'s row before anything is written: its reason, then its guard."""
    reason = action.clean_reason(reason)
    actions.check(action, booking)
    return reason


def perform(session: Session, action: actions.Action, booking: Booking, user: User, reason: str = "",
            **fields) -> None:
    """Do one row of the action table as ``user`` (Forbidden for another party's row; the
    service checks the row's guard); ``fields`` are the row's own inputs (accept: ``carer_id``)."""
    if not action.may(user, booking):
        if action.party == Party.RESIDENT and actions.party_of(user) == Party.RESIDENT:
            raise NotFound(_l("No such booking."))
        raise Forbidden(_l("Your role may not do this."))
    service = _SERVICES[action.service]
    if action.reason is None:
        service(session, booking, user, **fields)
    else:
        service(session, booking, user, reason, **fields)


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
    # Every refusal of the input at once (the time, the address, the note), before anything is written.
    problems = Problems()
    window = None
    if starts_at is None or starts_at.tzinfo is None:
        problems.add(_l("Choose a time from the list."), field="starts_at")
    else:
        refused = _check_start(starts_at)
        if refused is not None:
            problems.extend(refused)
        else:
            window = window_for(listing, starts_at)
            if window is None:
                problems.add(_l("The provider is not available at this time. Choose a time from the list."),
                             field="starts_at")
    address = (address or "").strip()
    if not address:
        problems.add(_l("Enter the address where the service is needed."), field="address")
    elif len(address) > 200:
        problems.add(_l("The address is too long (200 characters at most)."), field="address")
    note = (note or "").strip()
    if len(note) > 1000:
        problems.add(_l("The note is too long (1000 characters at most)."), field="note")
    problems.raise_if_any()

    _refuse_second_booking(session, resident, listing.id, starts_at)
    try:
        slot = take_place(session, listing, starts_at, window.capacity)
    except Conflict:
        # The last place went to this resident's own first request (a double submit).
        _refuse_second_booking(session, resident, listing.id, starts_at)
        raise
    current = now()
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
    try:
        with session.begin_nested():
            session.add(booking)
            session.flush()
    except IntegrityError:
        # A request for the same slot committed meanwhile (the partial unique index).
        _refuse_second_booking(session, resident, listing.id, starts_at)
        raise
    session.add(BookingEvent(booking_id=booking.id, at=current, actor_id=resident.id, from_status=None,
                             to_status=S.REQUESTED))
    booking_changed.send(session, booking=booking, old=None, new=S.REQUESTED, actor=resident)
    notify(session, staff_ids(session, booking.provider_id), "booking.requested",
           link=f"/provider/bookings/{booking.id}", **_params(booking))
    return booking


def _check_start(starts_at: datetime) -> Invalid | None:
    """The refusal of a start time too early, too soon or too far ahead, or None."""
    current = now()
    if starts_at <= current:
        return Invalid(_l("This time is in the past. Choose a later time."), field="starts_at")
    if starts_at <= current + MIN_LEAD:
        return Invalid(_l("This time is too soon for the provider to answer. Choose a later time."),
                       field="starts_at")
    if starts_at > current + timedelta(days=_config("BOOKING_HORIZON_DAYS")):
        return Invalid(_l("Bookings open %(days)d days ahead at most.", days=_config("BOOKING_HORIZON_DAYS")),
                       field="starts_at")
    return None


def live_booking_of_slot(session: Session, resident: User, listing_id: int, starts_at: datetime) -> int | None:
    """The id of the resident's live booking of this slot, if they hold one."""
    return session.scalar(
        sa.select(Booking.id).join(BookingSlot, BookingSlot.id == Booking.slot_id)
        .where(Booking.resident_id == resident.id, BookingSlot.listing_id == listing_id,
               BookingSlot.starts_at == starts_at, Booking.status.in_(OPEN))
    )


def _refuse_second_booking(session: Session, resident: User, listing_id: int, starts_at: datetime) -> None:
    existing = live_booking_of_slot(session, resident, listing_id, starts_at)
    if existing is not None:
        raise AlreadyBooked(existing)


def _refuse_if_suspended(session: Session, listing_id: int) -> None:
    """A provider under a supervision suspension takes no new bookings until it ends
    (:meth:`Provider.takes_bookings_at`).  Any other provider that takes none (pending,
    suspended by an official, removed) is left to ``public_listing``'s 404."""
    at = now()
    provider = session.scalar(sa.select(Provider).join(Listing, Listing.provider_id == Provider.id)
                              .where(Listing.id == listing_id))
    if provider is None or provider.takes_bookings_at(at):
        return
    until = provider.suspension_ends_after(at)
    if until is not None:
        raise Conflict(_l("This provider is suspended until %(until)s and takes no new bookings. "
                          "Choose another provider.", until=local(until).strftime("%Y-%m-%d %H:%M")),
                       field="starts_at")


def cancel_by_resident(session: Session, booking: Booking, resident: User, reason: str = "") -> None:
    """Free before the notice window; later it is recorded as a late cancellation
    (:mod:`providers.bookings.cancellation`: the one rule, which the pages state)."""
    _own_resident(booking, resident)
    reason = _guard(actions.get(Party.RESIDENT, "cancel"), booking, reason)
    booking.late_cancellation = cancellation.late_if_cancelled_at(booking, now())
    _move(session, booking, S.CANCELLED_BY_RESIDENT, actor=resident, reason=reason, notify_provider=True)


def confirm_completion(session: Session, booking: Booking, resident: User) -> None:
    _own_resident(booking, resident)
    _guard(actions.get(Party.RESIDENT, "confirm"), booking)
    booking.confirmed_at = now()
    booking.auto_confirmed = False  # the resident's own word replaces Linli's after silence
    session.add(BookingEvent(booking_id=booking.id, at=booking.confirmed_at, actor_id=resident.id,
                             from_status=S.COMPLETED, to_status=S.COMPLETED, reason="confirmed"))
    session.flush()
    visits.confirmed(session, booking, resident)  # the resident's word verifies the visit
    notify(session, staff_ids(session, booking.provider_id), "booking.confirmed",
           link=f"/provider/bookings/{booking.id}", **_params(booking))


def report_provider_no_show(session: Session, booking: Booking, resident: User) -> None:
    """The resident says nobody came; the provider or an official confirms it."""
    _own_resident(booking, resident)
    _guard(actions.get(Party.RESIDENT, "report-no-show"), booking)
    booking.no_show_reported_at = now()
    session.flush()
    notify(session, staff_ids(session, booking.provider_id), "booking.no_show_reported",
           link=f"/provider/bookings/{booking.id}", **_params(booking))


def _own_resident(booking: Booking, resident: User) -> None:
    if booking.resident_id != resident.id:
        raise NotFound(_l("No such booking."))


# --- providers -------------------------------------------------------------


def accept(session: Session, booking: Booking, staff: User, carer_id: int | None = None) -> None:
    """Accept with the carer who will serve the visit (:mod:`providers.carers.assignment`:
    active, qualified on the day, free at that time; Invalid or Conflict on ``carer_id``)."""
    _guard(actions.get(Party.PROVIDER, "accept"), booking)
    carer = assignment.check_assignable(session, booking, carer_id)
    with assignment.exclusive(session, carer):
        booking.carer_id = carer.id
        booking.responded_at = now()
        booking.late_response = booking.responded_at > booking.respond_by
        _move(session, booking, S.ACCEPTED, actor=staff, notify_resident=True)


def decline(session: Session, booking: Booking, staff: User, reason: str) -> None:
    reason = _guard(actions.get(Party.PROVIDER, "decline"), booking, reason)
    booking.responded_at = now()
    booking.late_response = booking.responded_at > booking.respond_by
    _move(session, booking, S.DECLINED, actor=staff, reason=reason, notify_resident=True)


def check_in(session: Session, booking: Booking, staff: User, facts: VisitFacts | None = None) -> None:
    """The carer arrived: the visit's record (where, which device, its code) and the move."""
    current = now()
    _guard(actions.get(Party.PROVIDER, "check-in"), booking)
    visits.record_check_in(session, booking, staff, facts or VisitFacts())
    booking.checked_in_at = current
    booking.late_start = current > booking.starts_at + timedelta(minutes=booking.grace_minutes)
    _move(session, booking, S.IN_SERVICE, actor=staff, notify_resident=True)


def complete(session: Session, booking: Booking, staff: User, facts: VisitFacts | None = None) -> None:
    """The carer leaves: the check-out facts (and the code, which may verify the visit), the move."""
    _guard(actions.get(Party.PROVIDER, "complete"), booking)
    record = visits.record_check_out(session, booking, staff, facts or VisitFacts())
    booking.completed_at = now()
    booking.late_finish = booking.completed_at > booking.ends_at + timedelta(minutes=booking.grace_minutes)
    _move(session, booking, S.COMPLETED, actor=staff, notify_resident=True)
    visits.closed(session, booking, record)


def cancel_by_provider(session: Session, booking: Booking, staff: User, reason: str) -> None:
    reason = _guard(actions.get(Party.PROVIDER, "cancel"), booking, reason)
    _move(session, booking, S.CANCELLED_BY_PROVIDER, actor=staff, reason=reason, notify_resident=True)


def confirm_provider_no_show(session: Session, booking: Booking, actor: User, reason: str = "") -> None:
    """The provider admits (once the resident reported it), or an official finds, that nobody came."""
    party = Party.OFFICIAL if actor.is_official else Party.PROVIDER
    reason = _guard(actions.get(party, "confirm-no-show"), booking, reason)
    _move(session, booking, S.NO_SHOW_PROVIDER, actor=actor, reason=reason,
          notify_resident=True, notify_provider=actor.is_official)


def mark_resident_no_show(session: Session, booking: Booking, staff: User, reason: str = "") -> None:
    """The provider checked in and the resident was not there (only from in service: see the
    action's row); the resident may dispute it with a complaint."""
    reason = _guard(actions.get(Party.PROVIDER, "resident-no-show"), booking, reason)
    _move(session, booking, S.NO_SHOW_RESIDENT, actor=staff, reason=reason, notify_resident=True)


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
    """Completed bookings the resident has not confirmed within 72 hours confirm themselves,
    each with its event, by Linli (as a resident's confirmation has one by the resident).
    Silence proves nothing: the visits stay as verified or unverified as they were.

    One conditional UPDATE claims them (a booking the resident confirms meanwhile no
    longer matches, so running twice confirms nothing twice), then one INSERT writes
    the events of exactly the bookings it claimed."""
    current = now()
    cutoff = current - timedelta(hours=_config("BOOKING_AUTO_CONFIRM_HOURS"))
    ids = session.scalars(
        sa.update(Booking)
        .where(Booking.status == S.COMPLETED, Booking.confirmed_at.is_(None), Booking.completed_at <= cutoff)
        .values(confirmed_at=current, auto_confirmed=True)
        .returning(Booking.id)
        .execution_options(synchronize_session=False)
    ).all()
    if ids:
        session.execute(sa.insert(BookingEvent), [
            {"booking_id": booking_id, "at": current, "actor_id": None, "from_status": S.COMPLETED,
             "to_status": S.COMPLETED, "reason": AUTO_CONFIRMED} for booking_id in sorted(ids)
        ])
    return len(ids)


# The functions the action table names (an unknown name fails here, at import).
_SERVICES = {action.service: globals()[action.service] for action in actions.ACTIONS}
