"""Booking pages for provider staff (agenda, list, one booking and its actions) and for
officials (one booking, contact details only with a recorded reason, no-show decisions).

Provider staff see only their own provider's bookings (another provider's
booking is a 404).  The resident's phone and address reach them as
``privacy.contact_for_provider`` allows; officials see them masked until they
give a reason, and then only in the response to that POST (nothing is kept in
the session).  The buttons are the rows of :mod:`providers.bookings.actions` that
the booking allows now; every change goes through :func:`app.uow.form_action`.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.access import official_required, provider_staff_required
from app.clock import now, today
from app.errors import NotFound
from app.extensions import db
from app.models import User
from app.db import write_transaction
from app.uow import form_action
from providers import registration
from providers.bookings import actions, agenda, privacy, services
from providers.bookings.actions import Party
from providers.bookings.forms import ContactRevealForm, ReasonForm
from providers.bookings.models import BOOKING_STATUS_LABELS, Booking, BookingStatus, ContactAccess
from providers.bookings.views import bp, detail_context, show_stray_errors
from providers.carers import assignment
from providers.carers import services as carer_services
from providers.carers.forms import CarerChoiceForm
from providers.listing_forms import WEEKDAY_NAMES, int_or_none

S = BookingStatus

VIEW_LABELS = (("day", _l("Day view")), ("week", _l("Week view")), ("list", _l("List view")))


def _user():
    return current_user._get_current_object()


def _provider_id() -> int:
    """The current staff member's provider (Forbidden, 403, for anyone else)."""
    return registration.provider_of(db.session, current_user).id


# --- provider staff: agenda and list ---------------------------------------------------


@bp.route("/provider/bookings")
@provider_staff_required
def provider_agenda():
    """The provider's bookings: ``view=day|week`` (``date=YYYY-MM-DD``, today by default)
    as an agenda of local days, or ``view=list`` (``status``, ``page``) with open requests
    first.  Bad parameters fall back to the defaults with a note; never an error."""
    provider = registration.provider_of(db.session, current_user)
    view, day, bad = agenda.parse_agenda_args(request.args)
    notes = []
    if "view" in bad:
        notes.append(_("That view does not exist; showing the day."))
    if "date" in bad:
        notes.append(_("That date was not understood; showing today."))
    context = {"provider": provider, "view": view, "notes": notes, "view_labels": VIEW_LABELS,
               "today": today(), "now": now(), "status_labels": BOOKING_STATUS_LABELS,
               "weekday_names": WEEKDAY_NAMES}
    if view == "list":
        status_text = (request.args.get("status") or "").strip()
        status = S(status_text) if status_text in {s.value for s in S} else None
        if status_text and status is None:
            notes.append(_("There is no such status; showing all bookings."))
        page = max(int_or_none(request.args.get("page")) or 1, 1)
        bookings, has_next = agenda.provider_booking_list(db.session, provider.id, status=status, page=page)
        context.update(bookings=bookings, has_next=has_next, page=page, status=status)
    else:
        shown = agenda.period(view, day)
        context.update(period=shown, days=agenda.agenda(db.session, provider.id, shown))
    return render_template("bookings/provider_agenda.html", **context)


# --- provider staff: one booking ---------------------------------------------------------


def provider_actions(booking: Booking, user: User | None = None) -> list[actions.Action]:
    """The buttons the provider gets now: the rows of the action table the booking allows."""
    return actions.available(booking, user or _user())


def _render_provider_booking(booking: Booking, *, form=None, failed: str | None = None, status: int = 200,
                             carer_form=None):
    allowed = provider_actions(booking)
    show_stray_errors(form, failed, {action.name for action in allowed})
    carers = carer_services.active_carers(db.session, booking.provider_id)
    if carer_form is None:
        carer_form = CarerChoiceForm(formdata=None, carer_id=booking.carer_id)
    carer_form.carer_id.choices = [(c.id, c.name) for c in carers]
    return render_template(
        "bookings/provider_booking.html", contact=privacy.contact_for_provider(booking),
        contact_note=privacy.provider_contact_note(booking), actions=allowed,
        form=form or ReasonForm(), failed=failed, check_in_from=_check_in_from(booking),
        absence_from=actions.get(Party.PROVIDER, "resident-no-show").opens_later(booking),
        carer_form=carer_form, carers=carers, can_change_carer=_can_change_carer(booking),
        **detail_context(booking),
    ), status


# The carer's check-in and check-out posts (providers.visits.views) answer a refusal with this page.
render_provider_booking = _render_provider_booking


def _can_change_carer(booking: Booking) -> bool:
    return booking.status == S.ACCEPTED and booking.checked_in_at is None


def _check_in_from(booking: Booking):
    """When check-in opens, if the booking waits for it and it is not open yet."""
    return actions.get(Party.PROVIDER, "check-in").opens_later(booking)


@bp.route("/provider/bookings/<int:booking_id>")
@provider_staff_required
def provider_booking(booking_id: int):
    """One booking of the staff member's provider (404 for any other): resident, contact
    (masked unless the booking is being served), deadlines, history, actions."""
    return _render_provider_booking(services.provider_booking(db.session, _provider_id(), booking_id))


@bp.route("/provider/bookings/<int:booking_id>/<action>", methods=["POST"])
@provider_staff_required
def provider_booking_action(booking_id: int, action: str):
    """accept, decline, check-in, complete, cancel, confirm-no-show or resident-no-show
    (``reason`` in the form); redirect on success, else the page with the message
    (422 bad input, 409 illegal in the current state), nothing written."""
    row = actions.BY_PARTY[Party.PROVIDER].get(action)
    if row is None:
        abort(404)
    provider_id = _provider_id()
    # Accepting names the carer (its own form); the other actions take a reason.
    choosing = action == "accept"
    form = CarerChoiceForm() if choosing else ReasonForm()
    fields = {"carer_id": form.carer_id.data} if choosing else {}

    def render(status: int):
        booking = services.provider_booking(db.session, provider_id, booking_id)
        if choosing:
            return _render_provider_booking(booking, failed=action, status=status, carer_form=form)
        return _render_provider_booking(booking, form=form, failed=action, status=status)

    if not form.validate_on_submit():
        return render(422)
    with form_action(form, render):
        # BEGIN IMMEDIATE on SQLite: the carer's other visits are read under the write lock;
        # row locks and the exclusion constraint on PostgreSQL.
        with write_transaction(db.session):
            booking = services.provider_booking(db.session, provider_id, booking_id, for_update=True)
            reason = "" if choosing else (form.reason.data or "")
            services.perform(db.session, row, booking, _user(), reason, **fields)
    flash(str(row.done), "success")
    return redirect(url_for("bookings.provider_booking", booking_id=booking_id))


@bp.route("/provider/bookings/<int:booking_id>/carer", methods=["POST"])
@provider_staff_required
def change_carer(booking_id: int):
    """Give the booking another carer (until check-in): redirect, or the page with the message
    next to the choice (422 bad choice, 409 taken at that time or checked in), nothing written."""
    provider_id = _provider_id()
    form = CarerChoiceForm()

    def render(status: int):
        return _render_provider_booking(services.provider_booking(db.session, provider_id, booking_id),
                                        failed="carer", status=status, carer_form=form)

    services.provider_booking(db.session, provider_id, booking_id)  # 404 before anything else
    if not form.validate_on_submit():
        return render(422)
    with form_action(form, render):
        with write_transaction(db.session):
            booking = services.provider_booking(db.session, provider_id, booking_id, for_update=True)
            assignment.change_carer(db.session, booking, _user(), form.carer_id.data)
    flash(_("The carer is changed."), "success")
    return redirect(url_for("bookings.provider_booking", booking_id=booking_id))


# --- officials -------------------------------------------------------------------------------


def _any_booking(booking_id: int, *, for_update: bool = False) -> Booking:
    stmt = (
        sa.select(Booking).where(Booking.id == booking_id)
        .options(joinedload(Booking.listing), joinedload(Booking.provider), joinedload(Booking.resident))
    )
    if for_update:
        stmt = stmt.with_for_update(of=Booking)
    booking = db.session.scalar(stmt)
    if booking is None:
        raise NotFound(_l("No such booking."))
    return booking


def _contact_accesses(booking: Booking) -> list[tuple[ContactAccess, User]]:
    rows = db.session.execute(
        sa.select(ContactAccess, User).join(User, User.id == ContactAccess.official_id)
        .where(ContactAccess.booking_id == booking.id).order_by(ContactAccess.at, ContactAccess.id)
    )
    return [(access, official) for access, official in rows]


def _render_official_booking(booking: Booking, *, contact=None, reveal_form=None, form=None,
                             failed: str | None = None, status: int = 200):
    no_show = actions.get(Party.OFFICIAL, "confirm-no-show")
    can_confirm_no_show = no_show.allows(booking)
    show_stray_errors(form, failed, {"contact", "no-show"} if can_confirm_no_show else {"contact"})
    return render_template(
        "bookings/official_booking.html", contact=contact or privacy.masked(booking),
        reveal_form=reveal_form or ContactRevealForm(formdata=None), form=form or ReasonForm(formdata=None),
        failed=failed, accesses=_contact_accesses(booking),
        can_confirm_no_show=can_confirm_no_show, no_show=no_show, **detail_context(booking),
    ), status


@bp.route("/official/bookings/<int:booking_id>")
@official_required
def official_booking(booking_id: int):
    """Any booking, with the resident's contact details masked."""
    return _render_official_booking(_any_booking(booking_id))


@bp.route("/official/bookings/<int:booking_id>/contact", methods=["POST"])
@official_required
def reveal_contact(booking_id: int):
    """With a reason: record the access (ContactAccess and an audit event) and answer the
    page with the contact unmasked (200, not stored anywhere); without: 422, nothing recorded."""
    booking = _any_booking(booking_id)
    form = ContactRevealForm()
    if not form.validate_on_submit():
        return _render_official_booking(booking, reveal_form=form, failed="contact", status=422)
    with form_action(form, lambda status: _render_official_booking(
            _any_booking(booking_id), reveal_form=form, failed="contact", status=status)):
        contact = privacy.reveal_to_official(db.session, booking, _user(), form.reason.data)
    return _render_official_booking(booking, contact=contact)


@bp.route("/official/bookings/<int:booking_id>/no-show", methods=["POST"])
@official_required
def official_confirm_no_show(booking_id: int):
    """Find that the provider did not come (reason required); redirect, or 422/409."""
    booking = _any_booking(booking_id, for_update=True)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _render_official_booking(booking, form=form, failed="no-show", status=422)
    row = actions.get(Party.OFFICIAL, "confirm-no-show")
    with form_action(form, lambda status: _render_official_booking(
            _any_booking(booking_id), form=form, failed="no-show", status=status)):
        services.perform(db.session, row, booking, _user(), form.reason.data or "")
    flash(str(row.done), "success")
    return redirect(url_for("bookings.official_booking", booking_id=booking_id))
