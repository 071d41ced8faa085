"""The carer's pages: today's visits with check-in and check-out, and the visit photos.

- ``/provider/today``: the staff member's provider's visits of today (the local,
  Asia/Shanghai day), each with the form it needs now.
- ``POST /provider/visits/<id>/check-in`` and ``…/complete`` (the check-out): the same services
  as the booking page's buttons (which post these forms here), one commit each;
  a refusal re-renders the page it came from with the message beside the field.
  A wrong code is committed before it is shown (the attempt counts).
- ``/visits/<booking_id>/photos/<photo_id>``: a photo, for the staff of that
  booking's provider and for officials (each official view is recorded as
  ``visit.evidence_viewed``); 404 for everyone else.

Every page here sets the device cookie (:mod:`providers.visits.device`).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, after_this_request, current_app, flash, g, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import audit, headers
from app.access import login_required, provider_staff_required
from app.clock import now, today
from app.errors import LinliError
from app.extensions import db
from app.uow import form_action
from providers import registration, uploads
from providers.bookings import actions, services
from providers.bookings.actions import Party
from providers.bookings.agenda import period, provider_bookings_between
from providers.bookings.models import Booking, BookingStatus
from providers.visits import device, forms, photos
from providers.visits.models import PhotoStage, VisitPhoto, VisitRecord
from providers.visits.services import VisitFacts, WrongCode, minimum_end

bp = Blueprint("visits", __name__, template_folder="templates")

S = BookingStatus
SHOWN = (S.ACCEPTED, S.IN_SERVICE, S.COMPLETED)
DONE = actions.get(Party.PROVIDER, "complete").done


def _user():
    return current_user._get_current_object()


def _with_device_cookie() -> str:
    digest = device.current_digest()
    after_this_request(device.set_cookie)
    return digest


def _allow_location() -> None:
    """The site forbids the Geolocation API everywhere (app/headers.py); a page that renders
    a check-in or check-out form allows it for itself, so the phone can say where it is."""
    headers.allow_geolocation()


def visit_forms(booking: Booking) -> dict:
    """The check-in or check-out form a page shows for ``booking`` (the failed one, with its
    errors, when this request's post was refused)."""
    failed = g.get("visit_failed")
    if failed is not None and failed[0] == booking.id:
        return {failed[1]: failed[2]}
    if booking.status == S.ACCEPTED:
        return {"check_in": forms.check_in_form(booking)}
    if booking.status == S.IN_SERVICE:
        return {"check_out": forms.check_out_form(booking)}
    return {}


def visit_context(booking: Booking) -> dict:
    """What the carer's forms need: the forms, whether check-in is open, the early mark."""
    check_in = actions.get(Party.PROVIDER, "check-in")
    _allow_location()
    return {
        "forms": visit_forms(booking),
        "check_in_from": check_in.opens_later(booking) if booking.status == S.ACCEPTED else None,
        "early_until": minimum_end(booking) if booking.status == S.IN_SERVICE else None,
        "now": now(),
    }


def _today_bookings(provider_id: int) -> list[Booking]:
    first, end = period("day", today()).utc_bounds()
    return [b for b in provider_bookings_between(db.session, provider_id, first, end) if b.status in SHOWN]


def _render_today(status: int = 200):
    provider = registration.provider_of(db.session, current_user)
    bookings = _today_bookings(provider.id)
    records = {r.booking_id: r for r in db.session.scalars(
        sa.select(VisitRecord).where(VisitRecord.booking_id.in_([b.id for b in bookings])))} if bookings else {}
    return render_template("visits/today.html", provider=provider, bookings=bookings, records=records,
                           day=today()), status


@bp.route("/provider/today")
@provider_staff_required
def today_visits():
    """The carer's phone page: today's visits, each with its check-in or check-out form."""
    _with_device_cookie()
    _allow_location()
    return _render_today()


def _render_back(booking_id: int, back: str, status: int):
    if back == "booking":
        from providers.bookings.staff_views import render_provider_booking

        provider_id = registration.provider_of(db.session, current_user).id
        return render_provider_booking(services.provider_booking(db.session, provider_id, booking_id),
                                       status=status)
    return _render_today(status)


def _photo(form, name: str, stage: PhotoStage):
    return photos.prepare(getattr(form, name).data, stage, field=name)


def _facts(form, digest: str, **extra) -> VisitFacts:
    return VisitFacts(lat=form.lat.data, lon=form.lon.data, accuracy=form.accuracy.data, device=digest, **extra)


def _post(booking_id: int, kind: str):
    provider_id = registration.provider_of(db.session, current_user).id
    booking = services.provider_booking(db.session, provider_id, booking_id, for_update=True)
    form = forms.check_in_form(booking, submitted=True) if kind == "check_in" else \
        forms.check_out_form(booking, submitted=True)
    back = "booking" if form.back.data == "booking" else "today"
    digest = _with_device_cookie()

    def render(status: int):
        g.visit_failed = (booking_id, kind, form)
        return _render_back(booking_id, back, status)

    if not form.validate_on_submit():
        return render(422)
    with form_action(form, render, keep=WrongCode):
        if kind == "check_in":
            facts = _facts(form, digest, photos=tuple(p for p in [_photo(form, "before_photo", PhotoStage.BEFORE)] if p))
            services.check_in(db.session, booking, _user(), facts)
        else:
            taken = [_photo(form, "before_photo", PhotoStage.BEFORE), _photo(form, "after_photo", PhotoStage.AFTER)]
            facts = _facts(form, digest, tasks=tuple(form.tasks.data or ()), code=form.code.data or "",
                           short_reason=form.short_reason.data or "", photos=tuple(p for p in taken if p))
            services.complete(db.session, booking, _user(), facts)
    record = db.session.get(VisitRecord, booking_id)
    if kind == "check_in":
        flash(_("You checked in: the service has started."), "success")
    elif record is not None and record.is_verified:
        flash(" ".join((str(DONE), _("The visit is verified by the %(how)s.", how=record.verified_label))),
              "success")
    else:
        flash(" ".join((str(DONE), _("The visit is not verified yet: the resident can confirm it."))), "success")
    if back == "booking":
        return redirect(url_for("bookings.provider_booking", booking_id=booking_id))
    return redirect(url_for("visits.today_visits"))


@bp.route("/provider/visits/<int:booking_id>/check-in", methods=["POST"])
@provider_staff_required
def check_in(booking_id: int):
    """Check in with the device's location (optional) and an arrival photo (optional);
    redirect, or the page again with the error (422/409), nothing written."""
    return _post(booking_id, "check_in")


# The path says "complete", as the booking's action does (the check-out completes the booking).
@bp.route("/provider/visits/<int:booking_id>/complete", methods=["POST"])
@provider_staff_required
def check_out(booking_id: int):
    """Check out with the location, tasks, visit code, reason when early and photos;
    redirect, or the page with the error (a wrong code is counted, nothing else written)."""
    return _post(booking_id, "check_out")


def _photo_for(booking_id: int, photo_id: int) -> VisitPhoto:
    """The photo, if the current user may see it (staff of the booking's provider, officials)."""
    photo = db.session.scalar(sa.select(VisitPhoto).where(VisitPhoto.id == photo_id,
                                                          VisitPhoto.booking_id == booking_id))
    booking = db.session.get(Booking, booking_id)
    if photo is None or booking is None:
        abort(404)
    if current_user.is_official:
        return photo
    if current_user.is_provider_staff:
        try:
            if registration.provider_of(db.session, current_user).id == booking.provider_id:
                return photo
        except LinliError:
            pass
    abort(404)


@bp.route("/visits/<int:booking_id>/photos/<int:photo_id>")
@login_required
def photo(booking_id: int, photo_id: int):
    """A visit photo (never cached); every view — the provider's staff or an official — is
    recorded in the audit log (PIPL: personal data logged when seen)."""
    found = _photo_for(booking_id, photo_id)
    path = uploads.document_path(found.stored_name)
    if not path.is_file():
        abort(404)
    audit.record(db.session, actor=_user(), action="visit.evidence_viewed", object_type="booking",
                 object_id=booking_id, after={"photo": found.id})
    db.session.commit()
    response = send_file(path, mimetype=found.content_type, as_attachment=False, max_age=0,
                         download_name=f"visit-{booking_id}-{found.stage.value}{path.suffix}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _booking_panel(booking: Booking) -> str:
    """The visit's part of a booking page (the slot "bookings.booking.after")."""
    record = db.session.get(VisitRecord, booking.id)
    if not current_user.is_authenticated:
        return ""
    viewer = "resident" if current_user.id == booking.resident_id else \
        "official" if current_user.is_official else "staff"
    if record is None and viewer != "staff":
        return ""
    shown_photos = list(db.session.scalars(sa.select(VisitPhoto).where(VisitPhoto.booking_id == booking.id)
                                           .order_by(VisitPhoto.id))) if viewer != "resident" else []
    return render_template("visits/_record.html", booking=booking, record=record, viewer=viewer,
                           photos=shown_photos, radius=int(current_app.config["VISIT_RADIUS_M"]))


def init_app(app, found) -> None:
    found.pages(bp)
    found.slot("bookings.booking.after", _booking_panel)
    found.template_global("visit_context", visit_context)
