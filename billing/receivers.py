"""Billing's answers to booking changes (the ``booking_changed`` signal).

They run inside the booking's transaction, so a payment, an earning or a
refund is written together with the state change that causes it.  Each
booking's change goes to the rules of its funding (billing/funding.py): the
resident-paid rules are here; other funding registers its own.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from billing.funding import EARNS_MONEY, RELEASES_MONEY, FundingRules, registry
from billing.payment_models import PaymentStatus
from billing.payments import cancel_pending, create_payment, live_payment, payment_due, post_earning
from billing.policies import fix_for_booking
from billing.refunds import refund_for_closed_booking
from billing.settlement_sources import RESIDENT_SOURCES
from providers.bookings.models import Funding


def on_booking_changed(session: Session, *, booking, old, new, actor) -> None:
    """Hand the change to the rules of the booking's funding."""
    registry.rules_for(booking).booking_changed(session, booking=booking, old=old, new=new, actor=actor)


def resident_paid_changed(session: Session, *, booking, old, new, actor) -> None:
    """A resident-paid booking: a payment when it is due, the earning on completion, a
    cancelled payment or a refund when it closes unserved.  When it is requested, the
    listing's payment policy is fixed on it first (what it pays when, the fee it may keep)."""
    if old is None:
        fix_for_booking(session, booking)
    if payment_due(session, booking, new):
        create_payment(session, booking)
        return
    payment = live_payment(session, booking.id)
    if payment is None:
        return
    if new in EARNS_MONEY:
        post_earning(session, booking, payment)
    elif new in RELEASES_MONEY:
        if payment.status == PaymentStatus.PENDING:
            cancel_pending(session, booking)
        else:
            refund_for_closed_booking(session, booking, payment)


RESIDENT_PAID = FundingRules(Funding.RESIDENT, booking_changed=resident_paid_changed,
                             settlement_sources=RESIDENT_SOURCES)
