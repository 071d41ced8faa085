"""Payments for bookings: when one is due, creating it, and recording receipt.

A resident-paid booking is paid at booking or at acceptance (the listing's
PaymentPolicy as it was when the booking was made: ``booking_fee_policy``;
default acceptance).  A booking a purchase programme pays is never paid by the
resident: :func:`refuse_unless_resident_paid` (409) guards every way a payment
is made.  Offline: the provider confirms receipt.  Stripe: the
resident goes through a Checkout Session and the payment is recorded ONLY from a
verified webhook (billing/webhooks.py calls :func:`record_success`).

Ledger: payment received → Dr gateway_clearing:<gw> / Cr resident_clearing;
service earned (booking completed and paid) → Dr resident_clearing / Cr provider_payable:<id>.
Services flush, never commit.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.clock import now
from app.errors import Conflict, IllegalTransition, NotFound
from billing import ledger
from billing.funding import EARNS_MONEY, HOLDS_MONEY, funding_of
from billing.payment_models import PayAt, Payment, PaymentStatus
from billing.policies import policy_for  # noqa: F401  (its home is billing/policies.py)
from billing.policies import policy_of_booking
from providers.bookings.models import Booking, BookingStatus, Funding

LIVE = (PaymentStatus.PENDING, PaymentStatus.SUCCEEDED)


def live_payment(session: Session, booking_id: int) -> Payment | None:
    """The booking's pending or paid payment (at most one, by a unique index)."""
    return session.scalar(sa.select(Payment).where(Payment.booking_id == booking_id, Payment.status.in_(LIVE)))


def latest_payment(session: Session, booking_id: int) -> Payment | None:
    return session.scalar(sa.select(Payment).where(Payment.booking_id == booking_id)
                          .order_by(Payment.id.desc()).limit(1))


def gateway_name() -> str:
    return current_app.extensions["linli.gateway"].name


class NotResidentPaid(Conflict):
    code = "not-resident-paid"


def refuse_unless_resident_paid(booking: Booking) -> None:
    """Payments are for resident-paid bookings only: 409 (nothing created) for a booking
    that a purchase programme pays."""
    if funding_of(booking).kind is not Funding.RESIDENT:
        raise NotResidentPaid(_l("This booking is paid by a purchase programme: there is nothing for you to pay."))


def payment_due(session: Session, booking: Booking, new: BookingStatus) -> bool:
    """Is a payment due now that the resident-paid booking became ``new``?  When it is paid
    is the policy fixed when the booking was made (a later change of the listing's policy
    neither skips nor doubles its payment)."""
    if booking.price_fen <= 0 or funding_of(booking).kind is not Funding.RESIDENT:
        return False
    pay_at = policy_of_booking(session, booking).pay_at
    return (new == BookingStatus.REQUESTED and pay_at == PayAt.BOOKING) or (
        new == BookingStatus.ACCEPTED and pay_at == PayAt.ACCEPTANCE)


def create_payment(session: Session, booking: Booking) -> Payment:
    """The pending payment for a resident-paid booking (the existing live one if there is
    one); NotResidentPaid (409) for a programme-funded booking."""
    refuse_unless_resident_paid(booking)
    existing = live_payment(session, booking.id)
    if existing is not None:
        return existing
    payment = Payment(booking_id=booking.id, gateway=gateway_name(), amount_fen=booking.price_fen,
                      currency=current_app.config.get("STRIPE_CURRENCY", "cny"), status=PaymentStatus.PENDING,
                      refunded_fen=0, created_at=now())
    session.add(payment)
    session.flush()
    return payment


def record_success(session: Session, payment: Payment, *, payment_intent_id: str | None = None) -> bool:
    """Mark the payment succeeded and post it; False when it already was (idempotent)."""
    if payment_intent_id and not payment.payment_intent_id:
        payment.payment_intent_id = payment_intent_id
    if payment.status == PaymentStatus.SUCCEEDED:
        return False
    payment.status = PaymentStatus.SUCCEEDED
    payment.failure_reason = None
    payment.succeeded_at = now()
    session.flush()
    ledger.post(session, kind="payment", cause_type="payment", cause_id=payment.id,
                idempotency_key=f"payment:{payment.id}", memo=f"booking {payment.booking_id}",
                lines=[(ledger.gateway_code(payment.gateway), payment.amount_fen),
                       ("resident_clearing", -payment.amount_fen)])
    booking = session.get(Booking, payment.booking_id)
    if booking.status in EARNS_MONEY:
        post_earning(session, booking, payment)
    elif booking.status not in HOLDS_MONEY:
        from billing.refunds import refund_for_closed_booking  # closed before the money arrived

        refund_for_closed_booking(session, booking, payment)
    return True


def record_failure(session: Session, payment: Payment, reason: str) -> bool:
    """A failed attempt; ignored once the payment succeeded (events may arrive in any order)."""
    if payment.status != PaymentStatus.PENDING:
        return False
    payment.failure_reason = (reason or "failed")[:300]
    session.flush()
    return True


def post_earning(session: Session, booking: Booking, payment: Payment) -> None:
    """Service earned: what the resident paid (less refunds) becomes payable to the provider."""
    amount = payment.amount_fen - payment.refunded_fen
    if amount <= 0 or payment.status != PaymentStatus.SUCCEEDED:
        return
    ledger.post(session, kind="earning", cause_type="booking", cause_id=booking.id,
                idempotency_key=f"earning:{payment.id}", memo=f"booking {booking.id} completed",
                lines=[("resident_clearing", amount), (ledger.provider_payable_code(booking.provider_id), -amount)])


def confirm_offline_receipt(session: Session, booking: Booking) -> Payment:
    """The provider says it received the resident's money (offline gateway only)."""
    payment = live_payment(session, booking.id)
    if payment is None and funding_of(booking).kind is not Funding.RESIDENT:
        raise NotFound(_l("This booking is paid by a purchase programme; there is nothing to confirm."))
    if payment is None and booking.price_fen > 0 and booking.status in (
            BookingStatus.ACCEPTED, BookingStatus.IN_SERVICE, BookingStatus.COMPLETED):
        payment = create_payment(session, booking)
    if payment is None:
        raise NotFound(_l("There is no payment to confirm for this booking."))
    if payment.gateway != "offline":
        raise IllegalTransition(_l("This booking is paid online; its payment is recorded by the gateway."))
    if payment.status == PaymentStatus.SUCCEEDED:
        raise Conflict(_l("The payment for this booking is already confirmed."))
    record_success(session, payment)
    return payment


def cancel_pending(session: Session, booking: Booking) -> None:
    """The booking closed before anything was paid: its pending payment is cancelled."""
    payment = live_payment(session, booking.id)
    if payment is not None and payment.status == PaymentStatus.PENDING:
        payment.status = PaymentStatus.CANCELLED
        session.flush()
