"""Billing's answers to booking changes (the ``booking_changed`` signal).

They run inside the booking's transaction, so a payment, an earning or a
refund is written together with the state change that causes it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from billing.payments import cancel_pending, create_payment, live_payment, payment_due, post_earning
from billing.payment_models import PaymentStatus
from billing.refunds import refund_for_closed_booking
from providers.bookings.models import BookingStatus as S
from providers.bookings.services import booking_changed

CLOSED_UNSERVED = frozenset({S.DECLINED, S.EXPIRED, S.CANCELLED_BY_RESIDENT, S.CANCELLED_BY_PROVIDER,
                             S.NO_SHOW_PROVIDER, S.NO_SHOW_RESIDENT})


def on_booking_changed(session: Session, *, booking, old, new, actor) -> None:
    from billing.programmes.entitlements import on_booking_changed as entitlement_changed

    if entitlement_changed(session, booking=booking, old=old, new=new, actor=actor):
        return  # paid by a purchase programme: no payment, no refund
    if new in (S.REQUESTED, S.ACCEPTED):
        if payment_due(session, booking, new):
            create_payment(session, booking)
        return
    payment = live_payment(session, booking.id)
    if payment is None:
        return
    if new == S.COMPLETED:
        post_earning(session, booking, payment)
    elif new in CLOSED_UNSERVED:
        if payment.status == PaymentStatus.PENDING:
            cancel_pending(session, booking)
        else:
            refund_for_closed_booking(session, booking, payment)


def connect() -> None:
    """Connect once (blinker keeps one connection per receiver, however often called)."""
    booking_changed.connect(on_booking_changed)
