"""Checkout: the resident pays a booking on the gateway's page.

Three steps, and the gateway is called in none of the transactions:

1. :func:`checkout_order` (in the page's transaction, under the booking's row lock) finds the
   booking's pending payment or creates it; the page commits, so the payment row exists before
   the gateway is asked anything;
2. :func:`open_checkout` (an :func:`app.uow.after_commit` callback) asks the gateway for its
   page with the key ``checkout:<payment id>``, no transaction open and no row locked;
3. :func:`record_checkout` writes the gateway's session id on the payment in a short
   transaction of its own.

A gateway failure leaves the pending payment as it is: the resident is told that nothing was
charged, and paying again asks with the same key (Stripe answers with the same session).  A
session id that could not be recorded costs nothing: the webhook finds the payment by the
``payment_id`` in its metadata.  The payment itself is recorded only from a verified webhook.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.errors import Conflict
from billing import payments
from billing.funding import PAYABLE
from billing.gateways import CheckoutStart, GatewayError, get_gateway
from billing.payment_models import Payment, PaymentStatus
from providers.bookings.models import Booking



@dataclass(frozen=True)
class CheckoutOrder:
    """What the gateway is asked for (read in the page's transaction, used after its commit)."""

    payment_id: int
    booking_id: int
    amount_fen: int
    currency: str
    description: str
    success_url: str
    cancel_url: str


def checkout_order(session: Session, booking: Booking, *, back_url: str) -> CheckoutOrder:
    """The checkout to open for ``booking`` (locked by the caller), creating its pending payment
    when none was ever made; Conflict (409) when there is nothing to pay.  Flushes."""
    payments.refuse_unless_resident_paid(booking)
    payment = payments.live_payment(session, booking.id)
    if payment is None and booking.status in PAYABLE and booking.price_fen > 0 and not payments.latest_payment(
            session, booking.id):
        payment = payments.create_payment(session, booking)
    if payment is None or payment.status != PaymentStatus.PENDING:
        raise Conflict(_l("There is nothing to pay for this booking."))
    return CheckoutOrder(payment_id=payment.id, booking_id=booking.id, amount_fen=payment.amount_fen,
                         currency=payment.currency, description=booking.listing.title,
                         success_url=back_url + "?paid=1", cancel_url=back_url)


def open_checkout(order: CheckoutOrder) -> CheckoutStart | None:
    """Ask the gateway for its checkout page (call it with no transaction open); None when the
    gateway failed (logged: nothing was charged, the payment stays pending)."""
    try:
        return get_gateway().start_checkout(
            payment_id=order.payment_id, booking_id=order.booking_id, amount_fen=order.amount_fen,
            currency=order.currency, description=order.description,
            success_url=order.success_url, cancel_url=order.cancel_url)
    except GatewayError as error:
        current_app.logger.warning("checkout for booking %s failed: %s", order.booking_id, error)
        return None


def record_checkout(session: Session, order: CheckoutOrder, start: CheckoutStart) -> None:
    """Write the gateway's session id on the payment unless it has one (flushes)."""
    if not start.checkout_session_id:
        return
    session.execute(sa.update(Payment)
                    .where(Payment.id == order.payment_id, Payment.checkout_session_id.is_(None))
                    .values(checkout_session_id=start.checkout_session_id)
                    .execution_options(synchronize_session=False))
    session.flush()
