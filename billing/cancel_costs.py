"""What cancelling would cost, as the pages state it before anyone cancels.

The amounts come from the function the refund itself keeps by
(:func:`billing.refunds.fee_kept`) on the fee policy fixed on the booking
(:mod:`billing.policies`), so a page never quotes a fee the refund then differs
from.  The booking pages read them through the registry facts
``booking.cancel_cost`` and ``listing.late_cancel_fee`` (billing/__init__.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from billing.payment_models import BookingFeePolicy, PaymentStatus
from billing.payments import live_payment
from billing.policies import policy_for
from billing.refunds import fee_kept, late_fee
from providers.bookings.cancellation import CancelCost, late_if_cancelled_at
from providers.bookings.models import Booking
from providers.models import Listing


def cancel_cost(session: Session, booking: Booking, at: datetime):
    """What the resident cancelling ``booking`` at ``at`` would cost (a
    :class:`providers.bookings.cancellation.CancelCost`), by the function the refund uses
    (:func:`billing.refunds.fee_kept`) on the policy fixed on the booking and its live
    payment; None for a booking the resident does not pay (no policy fixed on it)."""
    fixed = session.get(BookingFeePolicy, booking.id)
    if fixed is None:
        return None
    payment = live_payment(session, booking.id)
    paid = payment is not None and payment.status == PaymentStatus.SUCCEEDED
    late_fen = (fee_kept(session, booking, payment, late=True) if paid
                else late_fee(booking.price_fen, fixed.late_cancel_fee_percent))
    return CancelCost(percent=fixed.late_cancel_fee_percent,
                      now_fen=fee_kept(session, booking, payment, late=late_if_cancelled_at(booking, at)),
                      late_fen=late_fen, paid=paid)


def listing_late_fee(session: Session, listing: Listing) -> tuple[int, int]:
    """``(fee_fen, percent)``: what a late cancellation of a booking of ``listing`` made now
    keeps of its price (the listing's current policy, fixed on the booking when it is made)."""
    percent = policy_for(session, listing.id).late_cancel_fee_percent
    return late_fee(listing.price_fen, percent), percent
