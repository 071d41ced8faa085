"""Payment pages: a resident pays a booking; provider staff confirm an offline payment.

Both are POSTs with CSRF; the booking must be the user's own (or their provider's):
anyone else's booking is a 404.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from app.access import provider_staff_required, resident_required
from app.errors import Conflict, LinliError
from app.extensions import db
from billing import payments
from billing.funding import PAYABLE
from billing.gateways import GatewayError
from billing.payment_models import PaymentStatus
from providers import registration
from providers.bookings import services as booking_services

bp = Blueprint("billing", __name__, template_folder="templates")


def _error(error: LinliError):
    db.session.rollback()
    flash(str(error), "error")
    return render_template("errors/generic.html", error=error), error.status


@bp.post("/bookings/<int:booking_id>/pay")
@resident_required
def pay(booking_id: int):
    """Redirect (303) to the gateway's checkout page, or show how to pay offline.
    404 for another's booking; 409 when there is nothing to pay (a purchase programme pays
    it, or it is paid or closed); 502 when the gateway fails."""
    if not FlaskForm().validate_on_submit():
        return _error(Conflict(_l("The form expired. Reload the page and try again.")))
    try:
        booking = booking_services.resident_booking(db.session, current_user, booking_id, for_update=True)
        payments.refuse_unless_resident_paid(booking)
        payment = payments.live_payment(db.session, booking.id)
        if payment is None and booking.status in PAYABLE and booking.price_fen > 0 and not payments.latest_payment(
                db.session, booking.id):
            payment = payments.create_payment(db.session, booking)
        if payment is None or payment.status != PaymentStatus.PENDING:
            raise Conflict(_l("There is nothing to pay for this booking."))
        gateway = current_app.extensions["linli.gateway"]
        back = url_for("bookings.resident_booking", booking_id=booking.id, _external=True)
        start = gateway.start_checkout(
            payment_id=payment.id, booking_id=booking.id, amount_fen=payment.amount_fen,
            currency=payment.currency, description=booking.listing.title,
            success_url=back + "?paid=1", cancel_url=back)
    except LinliError as error:
        return _error(error)
    except GatewayError as error:
        db.session.rollback()
        current_app.logger.warning("checkout for booking %s failed: %s", booking_id, error)
        return render_template("billing/pay_offline.html", booking=None, payment=None,
                               failed=True), 502
    if start.checkout_session_id and not payment.checkout_session_id:
        payment.checkout_session_id = start.checkout_session_id
    db.session.commit()
    if start.redirect_url:
        return redirect(start.redirect_url, code=303)
    return render_template("billing/pay_offline.html", booking=booking, payment=payment, failed=False)


@bp.post("/provider/bookings/<int:booking_id>/payment-received")
@provider_staff_required
def payment_received(booking_id: int):
    """The provider confirms it received an offline payment; redirect to the booking.
    404 for another provider's booking; 409 when already confirmed or paid online."""
    if not FlaskForm().validate_on_submit():
        return _error(Conflict(_l("The form expired. Reload the page and try again.")))
    try:
        provider = registration.provider_of(db.session, current_user)
        booking = booking_services.provider_booking(db.session, provider.id, booking_id, for_update=True)
        payments.confirm_offline_receipt(db.session, booking)
    except LinliError as error:
        return _error(error)
    db.session.commit()
    flash(_("The payment is recorded as received."), "success")
    return redirect(f"/provider/bookings/{booking_id}", code=303)


def payment_for(booking):
    """The booking's latest payment (for the status block), or None."""
    return payments.latest_payment(db.session, booking.id)
