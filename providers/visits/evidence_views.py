"""The official's visit evidence page, ``/official/visits/<booking_id>`` (blueprint
``visit_office``), and its two forms: show the raw locations (a reason, logged) and
clear an unverified visit for payment (``verification.clear``, a reason, audited).

Officials only (anyone else: 403; an unknown booking: 404).  A booking without a
visit record shows its facts and says so; its forms answer 409.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.access import official_required
from app.errors import Conflict
from app.extensions import db
from app.uow import form_action
from providers.visits import evidence, verification
from providers.visits.flag_views import evidence_words
from providers.visits.office_forms import ReasonForm
from providers.visits.office_views import bp

PHOTO_ENDPOINT = "visits.photo"  # another part of the visit pages serves the files


def _me():
    return current_user._get_current_object()


def _render(booking, *, locations=None, reveal_form=None, clear_form=None, failed: str | None = None,
            status: int = 200):
    record = verification.record_of(db.session, booking.id)
    return render_template(
        "visit_office/evidence.html", booking=booking, record=record, evidence_words=evidence_words, people=evidence.people(db.session, record),
        device_in=evidence.short_device(record.check_in_device) if record else None,
        device_out=evidence.short_device(record.check_out_device) if record else None,
        flags=evidence.flags_of(db.session, booking.id), photos=evidence.photos_of(db.session, booking.id),
        photo_links=PHOTO_ENDPOINT in current_app.view_functions, locations=locations,
        viewed=evidence.evidence_views(db.session, booking),
        reveal_form=reveal_form or ReasonForm(formdata=None, prefix="reveal"),
        clear_form=clear_form or ReasonForm(formdata=None, prefix="clear"), failed=failed,
    ), status


@bp.route("/official/visits/<int:booking_id>")
@official_required
def visit_evidence(booking_id: int):
    """The booking, its visit record, flags and photos (no raw coordinates)."""
    return _render(evidence.booking_of(db.session, booking_id))


@bp.route("/official/visits/<int:booking_id>/locations", methods=["POST"])
@official_required
def show_locations(booking_id: int):
    """With a reason: log the access and answer the page with the raw coordinates (200, in
    this answer only); without: 422; no visit record: 409."""
    booking = evidence.booking_of(db.session, booking_id)
    form = ReasonForm(prefix="reveal")
    if not form.validate_on_submit():
        return _render(booking, reveal_form=form, failed="reveal", status=422)
    with form_action(form, lambda status: _render(evidence.booking_of(db.session, booking_id), reveal_form=form,
                                                  failed="reveal", status=status)):
        locations = evidence.reveal_locations(db.session, booking, _me(), form.reason.data)
    return _render(booking, locations=locations)


@bp.route("/official/visits/<int:booking_id>/clear", methods=["POST"])
@official_required
def clear_visit(booking_id: int):
    """Clear an unverified visit for payment (reason required); redirect, or 422/409."""
    booking = evidence.booking_of(db.session, booking_id, for_update=True)
    form = ReasonForm(prefix="clear")
    if not form.validate_on_submit():
        return _render(booking, clear_form=form, failed="clear", status=422)
    with form_action(form, lambda status: _render(evidence.booking_of(db.session, booking_id), clear_form=form,
                                                  failed="clear", status=status)):
        record = verification.record_of(db.session, booking_id, for_update=True)
        if record is None:
            raise Conflict(_l("This booking has no visit record yet."))
        verification.clear(db.session, booking, record, _me(), form.reason.data)
    flash(_("The visit is cleared for payment."), "success")
    return redirect(url_for("visit_office.visit_evidence", booking_id=booking_id))
