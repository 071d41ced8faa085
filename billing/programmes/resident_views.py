"""Public programme pages, and residents' entitlements: apply, see what is left, book with it.

A programme's page is public once it is opened (MOF Order No. 102: awardees,
amount, term and later the evaluation result); a draft is a 404 for anyone
but an official.  Residents book a covered listing "with my entitlement": the
same slots and checks as a paid booking, no payment.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import public, resident_required
from app.clock import local
from app.db import write_transaction
from app.errors import LinliError
from app.extensions import db
from app.uow import form_action
from billing.form_errors import add_problems, at_fault
from billing.programmes import eligibility, entitlements, programmes
from billing.programmes.forms import ApplyForm
from billing.programmes.models import Enrolment, ProgrammeStatus
from billing.programmes.views import bp
from providers.bookings import agenda
from providers.bookings.forms import BookingForm
from providers.bookings.views import check_booking_form, slot_picker
from providers.catalogue import public_listing


def _user():
    return current_user._get_current_object()


@bp.route("/programmes")
@public
def public_list():
    """Every opened programme: title, awardees, amount, term, status."""
    return render_template("programmes/public_list.html",
                           programmes=programmes.programmes(db.session, public_only=True))


@bp.route("/programmes/<int:programme_id>")
@public
def public_page(programme_id: int):
    """The published contract: terms, awardees with contract price and quota, budget, evaluation (404 for a draft)."""
    if current_user.is_authenticated and current_user.is_official:
        programme = programmes.get_programme(db.session, programme_id)
    else:
        programme = programmes.public_programme(db.session, programme_id)
    can_apply = (current_user.is_authenticated and current_user.is_resident
                 and programme.status == ProgrammeStatus.OPEN
                 and current_user.community_id in {c.id for c in programme.communities})
    return render_template("programmes/public_page.html", programme=programme, can_apply=can_apply)


@bp.route("/my/entitlements")
@resident_required
def my_entitlements():
    """This month's visits used and left per programme, the covered services, applications, history."""
    resident = _user()
    open_here = [p for p in programmes.programmes(db.session, public_only=True)
                 if p.status == ProgrammeStatus.OPEN and resident.community_id in {c.id for c in p.communities}]
    mine = {e.programme_id: e for e in db.session.scalars(
        sa.select(Enrolment).where(Enrolment.resident_id == resident.id))}
    return render_template("programmes/my_entitlements.html", summaries=entitlements.summaries(db.session, resident),
                           open_here=open_here, mine=mine, uses=entitlements.uses_of_resident(db.session, resident))


@bp.route("/programmes/<int:programme_id>/apply", methods=["GET", "POST"])
@resident_required
def apply(programme_id: int):
    """GET: the application form (birth date, household facts, consent). POST: apply (422 when not eligible)."""
    programme = programmes.public_programme(db.session, programme_id)
    form = ApplyForm()
    if not form.is_submitted():
        return render_template("programmes/apply.html", programme=programme, form=form)
    form.validate()
    problems = eligibility.application_problems(programme, _user(), form.facts())
    add_problems(form, problems)
    if problems or at_fault(form):  # every problem at once: the consent, the birth date, each rule not met
        return render_template("programmes/apply.html", programme=programme, form=form), 422
    with form_action(form, lambda status: (render_template(
            "programmes/apply.html", programme=programmes.public_programme(db.session, programme_id), form=form),
            status)):
        eligibility.apply(db.session, programme, _user(), form.facts())
    flash(_("Your application is sent. An official will decide and you will be notified."), "success")
    return redirect(url_for("programmes.my_entitlements"))


def _render_book(listing, form, entitlement, status: int = 200, refused: str | None = None):
    picker = (slot_picker(listing, form, "programmes.book", funded=True) if refused is None
              else {"days": [], "day": None})
    return render_template("programmes/book.html", listing=listing, form=form, entitlement=entitlement,
                           refused=refused, picker=picker), status


@bp.route("/my/entitlements/book/<int:listing_id>", methods=["GET", "POST"])
@resident_required
def book(listing_id: int):
    """GET: the booking form for a covered listing (422 with the reason when not covered).
    POST: book with the entitlement, no payment; 409 with a specific message when the
    allowance or budget is used up (nothing booked)."""
    listing = public_listing(db.session, listing_id)
    form = BookingForm()
    try:
        entitlement = entitlements.find_entitlement(db.session, _user(), listing, None)
    except LinliError as error:
        return _render_book(listing, form, None, 422 if form.is_submitted() else error.status, refused=str(error))
    if not form.is_submitted():
        form.address.data = agenda.last_address(db.session, current_user.id)
        return _render_book(listing, form, entitlement)
    starts_at = check_booking_form(form, listing)  # every refusal of the input at once
    if starts_at is None:
        return _render_book(listing, form, entitlement, 422)

    def page(status: int):
        fresh = public_listing(db.session, listing_id)
        return _render_book(fresh, form, entitlements.find_entitlement(db.session, _user(), fresh, None), status)

    with form_action(form, page):
        with write_transaction(db.session):
            booking = entitlements.book_with_entitlement(
                db.session, _user(), listing_id=listing_id, starts_at=starts_at,
                address=form.address.data, note=form.note.data or "")
            booking_id, respond_by = booking.id, booking.respond_by
    flash(_("Your request is sent, paid by your entitlement. The provider will answer by %(when)s.",
            when=local(respond_by).strftime("%Y-%m-%d %H:%M")), "success")
    return redirect(url_for("bookings.resident_booking", booking_id=booking_id))
