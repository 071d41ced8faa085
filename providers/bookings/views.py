"""Booking pages for residents: book a listing, my bookings, one booking and its actions.

The provider's agenda and the officials' page are in ``staff_views``; both use
the blueprint and the page helpers defined here.  Only residents book (403 for
anyone else, anonymous users go to log-in); someone else's booking is a 404.
Every change is a POST that calls a service through :func:`app.uow.form_action`
(one commit) and redirects; a refused change re-renders the page with the
message and the error's status (422 bad input, 409 a conflict or an illegal
transition), nothing written.  The buttons are the rows of
:mod:`providers.bookings.actions` that the booking allows now, so a button shown
succeeds.  A second request for a slot the resident already booked (a double
submit) lands on that booking with a note.

The booking form is one phone screen: a strip of the days with free places (links
to ``?day=``, so it works without JavaScript), the chosen day's times, each saying
until when cancelling it is free (an exact local time) or, inside the notice window,
what it costs; every refusal of the form at once.  What cancelling costs is one rule
(:mod:`providers.bookings.cancellation`); the booking page states the amount that
cancelling now keeps, as billing's refund computes it, and a cancel form sent after
that amount changed is refused (409) with the amount as it is now.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.access import resident_required
from app.clock import local, now
from app.db import write_transaction
from app.errors import Conflict, Invalid
from app.extensions import db
from app.money import format_fen
from app.registry import fact_of
from app.uow import form_action
from providers.bookings import actions, agenda, cancellation, services
from providers.bookings.actions import Party
from providers.bookings.forms import BookingForm, ReasonForm, parse_slot, slot_value
from providers.bookings.models import BOOKING_STATUS_LABELS, Booking, BookingEvent, BookingStatus
from providers.bookings.slots import MIN_LEAD, available_slots, slot_starts_on
from providers.catalogue import public_listing
from providers.listing_forms import WEEKDAY_NAMES
from providers.models import Listing

S = BookingStatus

bp = Blueprint("bookings", __name__, template_folder="../templates")

# As ratings.complaints.COMPLAINABLE: a resident recorded as absent disputes it with a complaint.
COMPLAINABLE = frozenset({S.ACCEPTED, S.IN_SERVICE, S.COMPLETED, S.CANCELLED_BY_PROVIDER, S.NO_SHOW_PROVIDER,
                          S.NO_SHOW_RESIDENT})
BOOKING_DAYS = 14  # the booking form offers the next two weeks

LATENESS = (
    ("late_response", _l("Late response")),
    ("late_start", _l("Late start")),
    ("late_finish", _l("Late finish")),
    ("late_cancellation", _l("Late cancellation")),
)
# Reasons the system writes on events, shown in the reader's language.
SYSTEM_REASONS = {"no answer by the respond-by time": _l("No answer by the respond-by time.")}
RESIDENT_BUTTONS = ("confirm", "report_no_show", "cancel")


def _user():
    return current_user._get_current_object()


# --- page helpers (also used by staff_views) -----------------------------------------


def history(booking: Booking) -> list[dict]:
    """The booking's events, oldest first: when, who, from → to, why (one query)."""
    events = db.session.scalars(
        sa.select(BookingEvent).where(BookingEvent.booking_id == booking.id)
        .options(joinedload(BookingEvent.actor)).order_by(BookingEvent.at, BookingEvent.id)
    )
    rows = []
    for event in events:
        confirmation = event.from_status == event.to_status == S.COMPLETED
        rows.append({
            "at": event.at,
            "who": event.actor.name if event.actor else _("Linli (automatic)"),
            "from": BOOKING_STATUS_LABELS[event.from_status] if event.from_status else "",
            "to": _("Completion confirmed") if confirmation else BOOKING_STATUS_LABELS[event.to_status],
            "reason": None if confirmation else SYSTEM_REASONS.get(event.reason, event.reason),
        })
    return rows


def free_cancel_until(booking: Booking) -> datetime:
    return cancellation.free_until(booking.starts_at)


def deadlines(booking: Booking) -> list[tuple[str, datetime]]:
    """The booking's stored deadlines, labelled, for a facts list."""
    grace = timedelta(minutes=booking.grace_minutes)
    return [
        (_("Respond by"), booking.respond_by),
        (_("Start"), booking.starts_at),
        (_("End"), booking.ends_at),
        (_("On time if checked in by"), booking.starts_at + grace),
        (_("On time if completed by"), booking.ends_at + grace),
        # Never "free" once it has passed.
        (_("Free cancellation ended") if now() > free_cancel_until(booking) else _("Free cancellation until"),
         free_cancel_until(booking)),
    ]


def happenings(booking: Booking) -> list[tuple[str, datetime]]:
    """What has happened so far, with its time."""
    facts = [
        (_("Requested"), booking.requested_at),
        (_("Answered"), booking.responded_at),
        (_("Checked in"), booking.checked_in_at),
        (_("Completed"), booking.completed_at),
        (_("Confirmed automatically") if booking.auto_confirmed else _("Confirmed by the resident"),
         booking.confirmed_at),
        (_("No-show reported by the resident"), booking.no_show_reported_at),
        (_("Closed"), booking.closed_at),
    ]
    return [(label, at) for label, at in facts if at is not None]


def lateness(booking: Booking) -> list[str]:
    return [str(label) for name, label in LATENESS if getattr(booking, name)]


def show_stray_errors(form, failed: str | None, shown: set[str]) -> None:
    """A refused action whose form is not on the page (not allowed in this state):
    its field errors go to the top of the page instead."""
    if form is not None and failed and failed not in shown:
        for error in form.errors.get("reason", []):
            flash(str(error), "error")


def detail_context(booking: Booking) -> dict:
    return {
        "booking": booking,
        "deadlines": deadlines(booking),
        "happenings": happenings(booking),
        "lateness": lateness(booking),
        "events": history(booking),
        "now": now(),
    }


# --- booking a listing ----------------------------------------------------------------


def _offered_here(listing: Listing) -> bool:
    return current_user.community_id in {c.id for c in listing.communities}


def slot_days(listing: Listing, *, funded: bool = False) -> list[dict]:
    """The free slots of the next two weeks grouped by local day: each day's label for the
    day strip and its slots, each with what cancelling it would cost (``terms``)."""
    current = now()
    fee = None if funded else cancellation.listing_fee(listing)
    days: dict[date, dict] = {}
    for starts_at, left in available_slots(db.session, listing, days=BOOKING_DAYS):
        start = local(starts_at)
        day = days.setdefault(start.date(), {
            "date": start.date(), "weekday": WEEKDAY_NAMES[start.weekday()],
            "label": cancellation.day_label(start.date()), "slots": [],
        })
        end = start + timedelta(minutes=listing.duration_minutes)
        day["slots"].append({"value": slot_value(starts_at), "start": start.strftime("%H:%M"),
                             "end": end.strftime("%H:%M"), "left": left,
                             **slot_terms(starts_at, current, fee, funded)})
    return list(days.values())


def slot_terms(starts_at: datetime, current: datetime, fee: tuple[int, int] | None, funded: bool) -> dict:
    """What the form says of cancelling a slot (:func:`cancellation.slot_wording`)."""
    return cancellation.slot_wording(starts_at, current, fee, funded)


def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def slot_picker(listing: Listing, form: BookingForm, endpoint: str, *, funded: bool = False) -> dict:
    """The day strip and the chosen day's times: the day of the time chosen on the form, else
    ``?day=``, else the first day with free places.  Each day links to the page for it
    (GET ``?day=…``), so the picker works without JavaScript."""
    days = slot_days(listing, funded=funded)
    chosen_value = form.starts_at.data if isinstance(form.starts_at.data, str) else None
    try:
        wanted = local(parse_slot(chosen_value)).date() if chosen_value else None
    except Invalid:
        wanted = None
    # ``day`` is in the address (a link of the strip) or posted back (the form sent with an error).
    asked = _parse_day(request.values.get("day"))
    wanted = wanted if any(d["date"] == wanted for d in days) else asked
    chosen = next((d for d in days if d["date"] == wanted), days[0] if days else None)
    for day in days:
        day["url"] = url_for(endpoint, listing_id=listing.id, day=day["date"].isoformat())
        day["chosen"] = day is chosen
    return {"days": days, "day": chosen, "funded": funded,
            "missed": asked is not None and (chosen is None or chosen["date"] != asked)}


def check_offered_slot(listing: Listing, starts_at: datetime) -> None:
    """Refuse (Invalid, on ``starts_at``) a start the form did not offer.

    A start that was offered but is full now is left to the service, which
    answers with a Conflict (409: just taken).
    """
    current = now()
    if starts_at <= current:
        raise Invalid(_l("This time is in the past. Choose a later time."), field="starts_at")
    if starts_at <= current + MIN_LEAD:  # the service refuses it too; say so before anything else
        raise Invalid(_l("This time is too soon for the provider to answer. Choose a later time."),
                      field="starts_at")
    day = local(starts_at).date()
    offered = {start for start, _window in slot_starts_on(listing, day)}
    if starts_at not in offered or day >= local(current).date() + timedelta(days=BOOKING_DAYS):
        raise Invalid(_l("Choose a time from the list."), field="starts_at")


def check_booking_form(form: BookingForm, listing: Listing) -> datetime | None:
    """Validate the whole form at once: every field's refusal goes on its field (a missing
    time and a missing address together); the start chosen, or None when anything is wrong."""
    valid = form.validate()
    starts_at = None
    if form.starts_at.data and not form.starts_at.errors:
        try:
            starts_at = parse_slot(form.starts_at.data)
            check_offered_slot(listing, starts_at)
        except Invalid as refused:
            form.starts_at.errors = [*form.starts_at.errors, str(refused)]
            starts_at = None
    return starts_at if valid and starts_at is not None else None


def _render_book(listing: Listing, form: BookingForm, status: int = 200, *, refused: str | None = None):
    picker = slot_picker(listing, form, "bookings.book") if refused is None else {"days": [], "day": None}
    return render_template(
        "bookings/book.html", listing=listing, form=form, refused=refused, picker=picker,
        booking_days=BOOKING_DAYS,
    ), status


@bp.route("/listings/<int:listing_id>/book", methods=["GET", "POST"])
@resident_required
def book(listing_id: int):
    """GET: the booking form: a strip of the days of the next 14 with free places, the chosen
    day's free times (``?day=YYYY-MM-DD``, else the first day), the address of the resident's
    last booking, a note; 403 when the listing is not offered in the resident's community, 404
    when it is not published.  POST: request the booking and redirect to it; 422 with every
    refusal of the input at once, 409 when the slot was just taken (the form comes back with
    fresh slots)."""
    listing = public_listing(db.session, listing_id)
    form = BookingForm()
    if not _offered_here(listing):
        message = _("This service is not offered in your community.")
        return _render_book(listing, form, 422 if form.is_submitted() else 403, refused=message)
    if not form.is_submitted():
        form.address.data = agenda.last_address(db.session, current_user.id)
        return _render_book(listing, form)
    starts_at = check_booking_form(form, listing)
    if starts_at is None:
        return _render_book(listing, form, 422)
    already = None
    with form_action(form, lambda status: _render_book(public_listing(db.session, listing_id), form, status)):
        try:
            with write_transaction(db.session):
                booking = services.request_booking(
                    db.session, _user(), listing_id=listing_id, starts_at=starts_at,
                    address=form.address.data, note=form.note.data or "",
                )
                booking_id = booking.id
                # Made before the commit: after it nothing here needs the database, so losing it
                # then cannot answer a made booking with an error (and invite a second one).
                sent = _("Your request is sent. The provider will answer by %(when)s.",
                         when=local(booking.respond_by).strftime("%Y-%m-%d %H:%M"))
        except services.AlreadyBooked as duplicate:  # a double submit: show the booking it made
            db.session.rollback()
            already = duplicate.booking_id
    if already is not None:
        flash(_("You have already booked this time; here is your booking."), "info")
        return redirect(url_for("bookings.resident_booking", booking_id=already))
    flash(sent, "success")
    return redirect(url_for("bookings.resident_booking", booking_id=booking_id))


# --- the resident's bookings ----------------------------------------------------------


@bp.route("/bookings")
@resident_required
def my_bookings():
    """The resident's bookings: open ones first (soonest first), then closed ones."""
    upcoming, past = agenda.resident_bookings(db.session, current_user.id)
    return render_template("bookings/my_bookings.html", upcoming=upcoming, past=past)


def resident_actions(booking: Booking, user=None) -> dict:
    """Which buttons the resident gets (the rows of the action table the booking allows
    now, by key: ``cancel``, ``confirm``, ``report_no_show``, each the row or None), when
    the no-show report opens, and what a cancellation would mean."""
    current = now()
    allowed = {action.key: action for action in actions.available(booking, user or _user(), current)}
    report = actions.get(Party.RESIDENT, "report-no-show")
    no_show_from = report.opens_later(booking, current)
    return {
        **{key: allowed.get(key) for key in RESIDENT_BUTTONS},
        "late_cancel": cancellation.late_if_cancelled_at(booking, current),
        "no_show_from": no_show_from,
        "waiting_no_show": no_show_from is not None,
        "free_until": free_cancel_until(booking),
        **cancel_wording(booking, current),
        # The rating page's own rule (ratings/ answers it); the complaint page decides its finer rules.
        "rate": booking.status == S.COMPLETED and fact_of("ratings.may_rate", booking, False),
        "complain": booking.status in COMPLAINABLE,
        # Recorded as absent by the provider (after its check-in): the complaint is the dispute.
        "dispute": booking.status == S.NO_SHOW_RESIDENT,
    }


def cancel_wording(booking: Booking, current: datetime) -> dict:
    """What the booking page says of cancelling it now (:func:`cancellation.booking_wording`,
    on billing's amounts: the refund's own rule)."""
    return cancellation.booking_wording(booking, cancellation.cost_of(booking), current)


def _own_booking(booking_id: int, *, for_update: bool = False) -> Booking:
    return services.resident_booking(db.session, _user(), booking_id, for_update=for_update)


def _render_resident_booking(booking: Booking, *, form=None, failed: str | None = None, status: int = 200):
    allowed = resident_actions(booking)
    show_stray_errors(form, failed, {key for key in RESIDENT_BUTTONS if allowed[key]})
    return render_template(
        "bookings/resident_booking.html", actions=allowed, form=form or ReasonForm(),
        failed=failed, **detail_context(booking),
    ), status


@bp.route("/bookings/<int:booking_id>")
@resident_required
def resident_booking(booking_id: int):
    """One of the resident's bookings: status, deadlines, history, next actions; 404 otherwise."""
    return _render_resident_booking(_own_booking(booking_id))


def _resident_change(booking_id: int, name: str):
    """Do the resident's action ``name`` (a row of the action table); redirect, or re-render
    the booking with the error, nothing written."""
    action = actions.get(Party.RESIDENT, name)
    booking = _own_booking(booking_id, for_update=True)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _render_resident_booking(booking, form=form, failed=action.key, status=422)
    with form_action(form, lambda status: _render_resident_booking(
            _own_booking(booking_id), form=form, failed=action.key, status=status)):
        if name == "cancel":
            _refuse_unannounced_fee(action, booking)
        services.perform(db.session, action, booking, _user(), form.reason.data or "")
        late = booking.late_cancellation
    flash(_("Your booking is cancelled. It is recorded as a late cancellation.") if name == "cancel" and late
          else str(action.done), "success")
    return redirect(url_for("bookings.resident_booking", booking_id=booking_id))


def _refuse_unannounced_fee(action: actions.Action, booking: Booking) -> None:
    """A cancel form states the fee cancelling keeps (``fee_fen``): when it is no longer the
    amount cancelling now keeps (the free time passed while the page was open), refuse
    (409, nothing written) and show the page again with the amount as it is now."""
    shown = request.form.get("fee_fen")
    if shown is None:
        return
    actions.check(action, booking)  # a booking no longer cancellable answers that first
    cost = cancellation.cost_of(booking)
    fee = cost.now_fen if cost else 0
    if shown.strip() != str(fee):
        raise Conflict(_l("What cancelling costs has changed since the page was shown: cancelling now "
                          "costs %(fee)s. Read it below, then cancel again if you still want to.",
                          fee=format_fen(fee)))


@bp.route("/bookings/<int:booking_id>/cancel", methods=["POST"])
@resident_required
def cancel(booking_id: int):
    """Cancel (optional reason); late cancellations are recorded as such."""
    return _resident_change(booking_id, "cancel")


@bp.route("/bookings/<int:booking_id>/confirm", methods=["POST"])
@resident_required
def confirm(booking_id: int):
    """Confirm that the service was done."""
    return _resident_change(booking_id, "confirm")


@bp.route("/bookings/<int:booking_id>/report-no-show", methods=["POST"])
@resident_required
def report_no_show(booking_id: int):
    """Report that the provider did not come (after start + grace)."""
    return _resident_change(booking_id, "report-no-show")
