"""Payment pages: a resident pays a booking; provider staff confirm an offline payment; the
resident of an accepted booking looks up the provider's phone.

All are POSTs with CSRF; the booking must be the user's own (or their provider's):
anyone else's booking is a 404.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from app import audit
from app.access import provider_staff_required, resident_required
from app.errors import Conflict, LinliError
from app.extensions import db
from app.uow import after_commit, form_action
from app.urls import external_url
from billing import checkout, payments
from billing.gateways import CheckoutStart
from billing.payment_models import Payment, PayoutAccount
from providers import registration
from providers.bookings import services as booking_services
from providers.bookings.privacy import SERVING, mask_phone

bp = Blueprint("billing", __name__, template_folder="templates")


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
    """Redirect (303) to the gateway's checkout page, or show how to pay offline.
    404 for another's booking; 409 when there is nothing to pay (a purchase programme pays it,
    or it is paid or closed); 502 when the gateway fails
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
    return render_template("billing/pay_offline.html", booking=booking,
                           payment=db.session.get(Payment, order.payment_id),
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
    """The provider's phone, in full with a tap-to-call link, for the booking's resident while
    the booking is accepted or in service (200); the look is recorded in the audit trail
    (PIPL).  404 another's booking; 409 any other status (nothing recorded)."""
    if not FlaskForm().validate_on_submit():
        return _error(Conflict(_l("The form expired. Reload the page and try again.")))
    page = _ErrorPage()
    with form_action(None, page.render, show=page.show):
        booking = booking_services.resident_booking(db.session, current_user, booking_id)
        if booking.status not in SERVING:
            raise Conflict(_l("The provider's number is shown only while the booking is accepted or in service."))
        audit.record(db.session, actor=current_user._get_current_object(), action="booking.provider_phone_shown",
                     object_type="booking", object_id=booking.id, after={"provider": booking.provider_id})
        phone = booking.provider.contact_phone
    return render_template("billing/provider_phone.html", booking=booking, phone=phone)


def masked_phone(phone: str | None) -> str:
    """A phone number as the booking page shows it before it is asked for: 138****5678."""
    return mask_phone(phone)


def payment_for(booking):
    """The booking's latest payment (for the status block), or None."""
    return payments.latest_payment(db.session, booking.id)
