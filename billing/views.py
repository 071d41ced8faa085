"""Payment pages: a resident pays a booking; provider staff confirm an offline payment; the
resident of an accepted booking looks up the provider's phone.

Every write is a POST with CSRF that does its work and redirects (Post/Redirect/Get) to a
page that can be reloaded and bookmarked: ``GET /bookings/<id>/pay`` (how to pay the
booking's live payment) and ``GET /bookings/<id>/provider-phone`` (the number, when this
resident asked for it for this booking within :data:`PHONE_SHOWN_FOR`, as the audit trail
records; else the masked number and the button that asks).  The booking must be the user's
own (or their provider's): anyone else's booking is a 404.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from app import audit
from app.access import provider_staff_required, resident_required
from app.clock import now
from app.errors import Conflict, LinliError
from app.extensions import db
from app.uow import after_commit, form_action
from app.urls import external_url
from billing import checkout, payments
from billing.gateways import CheckoutStart
from billing.payment_models import PaymentStatus, PayoutAccount
from providers import registration
from providers.bookings import services as booking_services
from providers.bookings.privacy import SERVING, mask_phone

bp = Blueprint("billing", __name__, template_folder="templates")

# How long the provider's number stays shown after the resident asked for it (a reload, the
# way back from the phone app); then the page asks again, and that look is recorded too.
PHONE_SHOWN_FOR = timedelta(minutes=30)
PHONE_SHOWN = "booking.provider_phone_shown"


def _error(error: LinliError):
    db.session.rollback()
    flash(str(error), "error")
    return render_template("errors/generic.html", error=error), error.status


class _ErrorPage:
    """For :func:`app.uow.form_action`: a refusal is flashed and answered with the error page."""

    def __init__(self):
        self.error: LinliError | None = None

    def show(self, error: LinliError) -> None:
        self.error = error
        flash(str(error), "error")

    def render(self, status: int):
        return render_template("errors/generic.html", error=self.error), status


@bp.post("/bookings/<int:booking_id>/pay")
@resident_required
def pay(booking_id: int):
    """Redirect (303) to the gateway's checkout page, or, offline, to the page that says how
    to pay (:func:`payment_page`).  404 for another's booking; 409 when there is nothing to
    pay (a purchase programme pays it, or it is paid or closed); 502 when the gateway fails
    (the pending payment stays; nothing was charged).

    The payment row is committed before the gateway is called, and the call runs after that
    commit with no row locked (billing/checkout.py)."""
    if not FlaskForm().validate_on_submit():
        return _error(Conflict(_l("The form expired. Reload the page and try again.")))
    started: list[CheckoutStart] = []
    page = _ErrorPage()
    with form_action(None, page.render, show=page.show):
        booking = booking_services.resident_booking(db.session, current_user, booking_id, for_update=True)
        # From LINLI_PUBLIC_URL, never the request's Host (app/urls.py).
        back = external_url("bookings.resident_booking", booking_id=booking.id)
        order = checkout.checkout_order(db.session, booking, back_url=back)

        def open_checkout() -> None:
            start = checkout.open_checkout(order)
            if start is not None:
                started.append(start)
                checkout.record_checkout(db.session, order, start)
                db.session.commit()

        after_commit(db.session, open_checkout)
    if not started:
        return render_template("billing/pay_offline.html", booking=None, payment=None, failed=True), 502
    if started[0].redirect_url:
        return redirect(started[0].redirect_url, code=303)
    return redirect(url_for("billing.payment_page", booking_id=booking_id), code=303)


@bp.get("/bookings/<int:booking_id>/pay")
@resident_required
def payment_page(booking_id: int):
    """How to pay the resident's booking (200): offline, whom to pay, how much and how
    (cash, the provider's bank account); online, a button to the gateway's page; a payment
    already made says so.  404 for another's booking; 409 when it has no payment to make
    (a purchase programme pays it, nothing is due yet, or it is closed)."""
    booking = booking_services.resident_booking(db.session, current_user, booking_id)
    payment = payments.live_payment(db.session, booking.id)
    if payment is None:
        return _error(Conflict(_l("There is nothing to pay for this booking.")))
    return render_template("billing/pay_offline.html", booking=booking, payment=payment,
                           paid=payment.status == PaymentStatus.SUCCEEDED, online=payment.gateway != "offline",
                           account=db.session.get(PayoutAccount, booking.provider_id), failed=False)
@bp.post("/provider/bookings/<int:booking_id>/payment-received")
@provider_staff_required
def payment_received(booking_id: int):
    """The provider confirms it received an offline payment; redirect to the booking.
    404 for another provider's booking; 409 when already confirmed or paid online."""
    if not FlaskForm().validate_on_submit():
        return _error(Conflict(_l("The form expired. Reload the page and try again.")))
    page = _ErrorPage()
    with form_action(None, page.render, show=page.show):
        provider = registration.provider_of(db.session, current_user)
        booking = booking_services.provider_booking(db.session, provider.id, booking_id, for_update=True)
        payments.confirm_offline_receipt(db.session, booking)
    flash(_("The payment is recorded as received."), "success")
    return redirect(f"/provider/bookings/{booking_id}", code=303)


@bp.post("/bookings/<int:booking_id>/provider-phone")
@resident_required
def provider_phone(booking_id: int):
    """Show the provider's phone to the booking's resident while the booking is accepted or
    in service: the look is recorded in the audit trail (PIPL) and the resident is redirected
    (303) to :func:`provider_phone_page`, which then shows the number.  404 another's
    booking; 409 any other status (nothing recorded)."""
    if not FlaskForm().validate_on_submit():
        return _error(Conflict(_l("The form expired. Reload the page and try again.")))
    page = _ErrorPage()
    with form_action(None, page.render, show=page.show):
        booking = _serving_booking(booking_id)
        audit.record(db.session, actor=current_user._get_current_object(), action=PHONE_SHOWN,
                     object_type="booking", object_id=booking.id, after={"provider": booking.provider_id})
    return redirect(url_for("billing.provider_phone_page", booking_id=booking_id), code=303)


@bp.get("/bookings/<int:booking_id>/provider-phone")
@resident_required
def provider_phone_page(booking_id: int):
    """The provider's number with a tap-to-call link when this resident asked for it for this
    booking in the last :data:`PHONE_SHOWN_FOR` (200; reading it records nothing); else the
    masked number and the button that asks.  404 another's booking; 409 a booking that is
    not accepted or in service."""
    try:
        booking = _serving_booking(booking_id)
    except Conflict as error:
        return _error(error)
    shown = db.session.scalar(sa.select(sa.literal(True)).where(
        audit.AuditEvent.actor_id == current_user.id, audit.AuditEvent.action == PHONE_SHOWN,
        audit.AuditEvent.object_type == "booking", audit.AuditEvent.object_id == booking.id,
        audit.AuditEvent.at >= now() - PHONE_SHOWN_FOR).limit(1))
    return render_template("billing/provider_phone.html", booking=booking,
                           phone=booking.provider.contact_phone if shown else None)


def _serving_booking(booking_id: int):
    booking = booking_services.resident_booking(db.session, current_user, booking_id)
    if booking.status not in SERVING:
        raise Conflict(_l("The provider's number is shown only while the booking is accepted or in service."))
    return booking


def masked_phone(phone: str | None) -> str:
    """A phone number as the booking page shows it before it is asked for: 138****5678."""
    return mask_phone(phone)


def payment_for(booking):
    """The booking's latest payment (for the status block), or None."""
    return payments.latest_payment(db.session, booking.id)
