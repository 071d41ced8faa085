"""Complaint pages (on the ``ratings`` blueprint).

Stable addresses (other pages link to them):

- ``GET/POST /bookings/<id>/complain`` — a resident files a complaint (with photos);
- ``GET /complaints`` — the resident's complaints; ``GET /complaints/<id>`` — one
  complaint for its resident, its provider's staff and officials (404 for others);
- ``GET /complaints/<id>/photos/<photo_id>`` — a photo, for the same people;
- ``GET /provider/complaints`` and ``POST /provider/complaints/<id>/respond``;
- ``GET /official/complaints`` (``?status=undecided|open|responded|upheld|dismissed|all``)
  and ``POST /official/complaints/<id>/decide``;
- ``GET /official/complaints.csv`` and ``GET /official/ratings.csv``: the officials' lists
  as CSV, with the page's filter.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.access import login_required, official_required, provider_staff_required, resident_required
from app.clock import now
from app.csv_export import csv_response
from app.errors import LinliError
from app.extensions import db
from app.i18n import format_local
from app.uow import form_action
from providers import uploads
from providers.bookings.services import resident_booking
from providers.registration import provider_of
from ratings import complaints, photos
from ratings.forms import ComplaintForm, DecisionForm, ResponseForm
from ratings.models import COMPLAINT_STATUS_LABELS, ComplaintStatus
from ratings.views import bp

def _queue_labels() -> dict[str, str]:
    labels = {status.value: str(COMPLAINT_STATUS_LABELS[status]) for status in ComplaintStatus}
    labels["undecided"] = _("Waiting for a decision")
    labels["all"] = _("All")
    return labels


# --- residents ---------------------------------------------------------------------


def render_complain(booking, form, *, status: int = 200):
    refusal = None
    try:
        complaints.check_can_complain(db.session, booking)
    except LinliError as error:
        refusal = str(error)
    return render_template(
        "ratings/complain.html", booking=booking, form=form, refusal=refusal,
        max_photos=photos.MAX_PHOTOS,
        max_size=uploads.readable_size(int(current_app.config["DOCUMENT_MAX_BYTES"])),
    ), status


@bp.route("/bookings/<int:booking_id>/complain", methods=["GET", "POST"])
@resident_required
def complain(booking_id: int):
    """The complaint form for the resident's booking (200); on POST the complaint is
    filed and the resident is redirected to it.  Refused: 404 someone else's booking,
    409 a booking that never took place (or a complaint already waiting), 422 bad
    input or a photo that is not JPEG/PNG — every one of them shown at once, with a
    summary at the top; then no row and no file stay behind."""
    booking = resident_booking(db.session, current_user, booking_id)
    form = ComplaintForm()
    if request.method == "GET":
        return render_complain(booking, form)
    if not form.validate_on_submit():  # the CSRF token; the service checks every field at once
        return render_complain(booking, form, status=422)
    with form_action(form, lambda status: render_complain(resident_booking(db.session, current_user, booking_id),
                                                          form, status=status)):
        complaint = complaints.file_complaint(
            db.session, current_user, booking_id, kind=form.kind.data,
            description=form.description.data, photos=request.files.getlist(form.photos.name),
        )
    flash(_("Your complaint is filed. The provider has %(n)d hours to respond.",
            n=int(current_app.config["COMPLAINT_RESPONSE_HOURS"])), "success")
    return redirect(url_for("ratings.complaint", complaint_id=complaint.id))


@bp.route("/complaints")
@resident_required
def my_complaints():
    """The resident's complaints, newest first, with their status (200)."""
    return render_template("ratings/my_complaints.html",
                           complaints=complaints.complaints_of_resident(db.session, current_user))


@bp.route("/complaints/<int:complaint_id>")
@login_required
def complaint(complaint_id: int):
    """One complaint with its photos, the provider's response and the decision, for its
    resident, its provider's staff and officials (200); 404 for anyone else."""
    item = complaints.complaint_for(db.session, current_user, complaint_id)
    return render_template(
        "ratings/complaint.html", complaint=item, overdue=complaints.is_overdue(item),
        can_respond=_is_staff_of(item) and item.status == ComplaintStatus.OPEN,
        can_decide=current_user.is_official and item.status in complaints.UNDECIDED,
        response_form=ResponseForm(formdata=None), decision_form=DecisionForm(formdata=None),
    )


def _is_staff_of(item) -> bool:
    if not current_user.is_provider_staff:
        return False
    try:
        return provider_of(db.session, current_user).id == item.provider_id
    except LinliError:
        return False


@bp.route("/complaints/<int:complaint_id>/photos/<int:photo_id>")
@login_required
def complaint_photo(complaint_id: int, photo_id: int):
    """The photo file for the complaint's resident, provider staff and officials; 404 otherwise."""
    photo = complaints.photo_for(db.session, current_user, complaint_id, photo_id)
    path = uploads.document_path(photo.stored_name)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=photo.content_type, as_attachment=False,
                         download_name=photo.original_name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- providers ---------------------------------------------------------------------


def render_provider_complaints(*, failed=None, status: int = 200):
    provider = provider_of(db.session, current_user)
    items = complaints.complaints_of_provider(db.session, provider.id)
    forms = {
        item.id: failed[1] if failed and failed[0] == item.id else ResponseForm(formdata=None)
        for item in items if item.status == ComplaintStatus.OPEN
    }
    for complaint_id, form in forms.items():  # the id its box has on the page (the error summary links to it)
        form.response.id = f"response-{complaint_id}"
    at = now()
    return render_template(
        "ratings/provider_complaints.html", provider=provider, complaints=items, forms=forms,
        overdue={item.id for item in items if complaints.is_overdue(item, at)},
    ), status


@bp.route("/provider/complaints")
@provider_staff_required
def provider_complaints():
    """The provider's complaints, open ones first by deadline, with a response form
    under each open one (200; 403 for staff without an organisation)."""
    return render_provider_complaints()


@bp.route("/provider/complaints/<int:complaint_id>/respond", methods=["POST"])
@provider_staff_required
def respond(complaint_id: int):
    """Respond once and redirect to the list; 404 another provider's complaint,
    409 already responded or decided, 422 empty or too long (nothing saved)."""
    form = ResponseForm()
    with form_action(form, lambda status: render_provider_complaints(failed=(complaint_id, form), status=status),
                     reraise=(404,)):
        complaints.respond(db.session, current_user, complaint_id, form.response.data)
    flash(_("Your response is sent to the resident and the officials."), "success")
    return redirect(url_for("ratings.provider_complaints"))


# --- officials ---------------------------------------------------------------------


def render_queue(shown: str, *, failed=None, status: int = 200):
    items = complaints.queue(db.session, shown)
    forms = {
        item.id: failed[1] if failed and failed[0] == item.id else DecisionForm(formdata=None)
        for item in items if item.status in complaints.UNDECIDED
    }
    for complaint_id, form in forms.items():
        form.reason.id = f"reason-{complaint_id}"
    at = now()
    return render_template(
        "ratings/official_complaints.html", complaints=items, shown=shown, forms=forms,
        filters=complaints.QUEUE_FILTERS, labels=_queue_labels(),
        counts=complaints.queue_counts(db.session),
        overdue={item.id for item in items if complaints.is_overdue(item, at)},
    ), status


@bp.route("/official/complaints")
@official_required
def official_complaints():
    """The complaints queue: safety first, then oldest first; ``?status=`` filters
    (default: waiting for a decision; 404 for an unknown filter); overdue provider
    responses are flagged (200)."""
    shown = request.args.get("status", "undecided")
    if shown not in complaints.QUEUE_FILTERS:
        abort(404)
    return render_queue(shown)


@bp.route("/official/complaints/<int:complaint_id>/decide", methods=["POST"])
@official_required
def decide(complaint_id: int):
    """Uphold or dismiss with a reason and redirect to the queue; 422 no reason or
    no outcome, 409 already decided, 404 no such complaint (nothing changes)."""
    form = DecisionForm()
    with form_action(form, lambda status: render_queue("undecided", failed=(complaint_id, form), status=status),
                     reraise=(404,)):
        item = complaints.decide(db.session, current_user, complaint_id, form.outcome.data, form.reason.data)
    flash(_("The complaint is decided: %(outcome)s.", outcome=item.status_label), "success")
    return redirect(url_for("ratings.official_complaints"))


# --- officials' lists as CSV (app/csv_export.py): the page's rows for the same filter -------


@bp.route("/official/complaints.csv")
@official_required
def official_complaints_csv():
    """The complaints the queue shows for ``?status=`` (every one, not only the first 200), in its order."""
    shown = request.args.get("status", "undecided")
    if shown not in complaints.QUEUE_FILTERS:
        abort(404)
    at = now()
    header = [_("Complaint"), _("Kind"), _("Status"), _("Provider"), _("Booking"), _("Service"), _("Filed at"),
              _("Respond by"), _("Response overdue"), _("Photos"), _("Description"), _("The provider's response"),
              _("Decided at"), _("Reason for the decision")]
    rows = ([c.id, c.kind_label, c.status_label, c.booking.provider.name, c.booking_id, c.booking.listing.title,
             format_local(c.created_at), format_local(c.respond_by),
             _("Yes") if complaints.is_overdue(c, at) else _("No"), len(c.photos), c.description, c.response,
             format_local(c.decided_at), c.decision_reason]
            for c in complaints.queue(db.session, shown, limit=None))
    return csv_response("complaints.csv", header, rows)


@bp.route("/official/ratings.csv")
@official_required
def official_ratings_csv():
    """Every rating the list shows for ``?shown=all|hidden|visible`` (all pages), newest first."""
    from ratings import services
    from ratings.models import Rating
    from providers.bookings.models import Booking

    shown = request.args.get("shown", "all")
    if shown not in services.OFFICIAL_FILTERS:
        abort(404)
    stmt = sa.select(Rating).options(joinedload(Rating.booking).joinedload(Booking.listing),
                                     joinedload(Rating.booking).joinedload(Booking.provider))
    if shown == "hidden":
        stmt = stmt.where(Rating.hidden_at.is_not(None))
    elif shown == "visible":
        stmt = stmt.where(Rating.hidden_at.is_(None))
    items = db.session.scalars(stmt.order_by(*services.NEWEST_FIRST)).unique()
    header = [_("Rating"), _("Provider"), _("Service"), _("Booking"), _("Rated at"),
              *(str(services.SCORE_LABELS[f]) for f in services.SCORE_FIELDS), _("Comment"),
              _("The provider's reply"), _("Shown"), _("Hidden at"), _("Reason for hiding")]
    rows = ([r.id, r.booking.provider.name, r.booking.listing.title, r.booking_id, format_local(r.created_at),
             *(getattr(r, f) for f in services.SCORE_FIELDS), r.comment, r.reply,
             _("Hidden") if r.is_hidden else _("Published"), format_local(r.hidden_at), r.hidden_reason]
            for r in items)
    return csv_response("ratings.csv", header, rows)
