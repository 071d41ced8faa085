"""Refunds: the cancellation rules and the movement of money back.

Rules (a paid booking that closes without service):
- resident cancels before the notice window (BOOKING_FREE_CANCEL_HOURS, recorded by the booking
  service as ``late_cancellation``): full refund;
- resident cancels inside it, or does not turn up: the provider keeps
  ``PaymentPolicy.late_cancel_fee_percent`` of what is left — ``round_fen(Decimal(left) * pct / 100)``,
  half-up to the fen — and the rest is refunded;
- the provider cancels, declines, lets the request expire, or a provider no-show is confirmed:
  always a full refund.

A refund is never larger than what is left of the payment (:class:`RefundTooLarge`, 409; the
database's CHECK on ``payment.refunded_fen`` is the last line).  Offline refunds are recorded as paid
back by the provider at once; Stripe refunds go through the Refund API after the commit, with the
idempotency key ``refund:<refund id>``, and are posted when Stripe says they succeeded.
Ledger: refund → Dr resident_clearing / Cr gateway_clearing:<gw>; fee kept → Dr resident_clearing /
Cr provider_payable:<id>.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.clock import now
from app.errors import Conflict
from app.money import round_fen
from billing import ledger
from billing.gateways import GatewayError
from billing.payment_models import Payment, PaymentStatus, Refund, RefundStatus
from providers.bookings.models import Booking, BookingStatus as S

FULL_REFUND = frozenset({S.CANCELLED_BY_PROVIDER, S.NO_SHOW_PROVIDER, S.DECLINED, S.EXPIRED})


class RefundTooLarge(Conflict):
    code = "refund-too-large"


def late_fee(amount_fen: int, percent: int) -> int:
    """The part kept by the provider: ``percent`` of ``amount_fen``, half-up to the fen."""
    return round_fen(Decimal(amount_fen) * Decimal(percent) / Decimal(100))


def refundable(payment: Payment) -> int:
    return payment.amount_fen - payment.refunded_fen


def refund_for_closed_booking(session: Session, booking: Booking, payment: Payment) -> Refund | None:
    """Apply the cancellation rules to a paid booking that closed; None when nothing is refunded."""
    from billing.policies import policy_for

    left = refundable(payment)
    if payment.status != PaymentStatus.SUCCEEDED or left <= 0:
        return None
    fee = 0
    if booking.status == S.NO_SHOW_RESIDENT or (booking.status == S.CANCELLED_BY_RESIDENT
                                                 and booking.late_cancellation):
        fee = late_fee(left, policy_for(session, booking.listing_id).late_cancel_fee_percent)
    elif booking.status not in FULL_REFUND and booking.status != S.CANCELLED_BY_RESIDENT:
        return None
    if fee:
        ledger.post(session, kind="late_cancel_fee", cause_type="booking", cause_id=booking.id,
                    idempotency_key=f"late_fee:{payment.id}", memo=f"booking {booking.id} {booking.status}",
                    lines=[("resident_clearing", fee), (ledger.provider_payable_code(booking.provider_id), -fee)])
    amount = left - fee
    if amount <= 0:
        return None
    reason = f"booking {booking.status.value}" + (f", fee {fee} fen kept" if fee else "")
    return create_refund(session, payment, amount, reason=reason, fee_kept=fee)


def create_refund(session: Session, payment: Payment, amount_fen: int, *, reason: str = "",
                  fee_kept: int = 0) -> Refund:
    """A refund of ``amount_fen``; RefundTooLarge (409) when more than is left, nothing changed."""
    if not isinstance(amount_fen, int) or amount_fen <= 0:
        raise RefundTooLarge(_l("A refund must be a positive amount."), field="amount")
    if payment.status != PaymentStatus.SUCCEEDED:
        raise Conflict(_l("Only a completed payment can be refunded."), field="amount")
    if amount_fen + fee_kept > refundable(payment):
        raise RefundTooLarge(_l("A refund cannot be larger than what is left of the payment."), field="amount")
    refund = Refund(payment_id=payment.id, amount_fen=amount_fen, status=RefundStatus.PENDING,
                    reason=reason[:300], idempotency_key=f"pending:{uuid.uuid4()}", created_at=now())
    session.add(refund)
    session.flush()
    refund.idempotency_key = f"refund:{refund.id}"
    # Reserve the amount now: the CHECK refuses more than was paid, even concurrently.
    session.execute(sa.update(Payment).where(Payment.id == payment.id)
                    .values(refunded_fen=Payment.refunded_fen + amount_fen)
                    .execution_options(synchronize_session=False))
    session.flush()
    session.expire(payment, ["refunded_fen"])
    if payment.gateway == "offline":
        mark_refund_succeeded(session, refund)  # paid back by the provider
    elif has_app_context():
        g.setdefault("linli_refunds_to_submit", []).append(refund.id)
    return refund


def mark_refund_succeeded(session: Session, refund: Refund, gateway_ref: str | None = None) -> bool:
    """Post the refund (idempotent by the key ``refund:<id>``); False when already done."""
    if gateway_ref and not refund.gateway_ref:
        refund.gateway_ref = gateway_ref
    if refund.status == RefundStatus.SUCCEEDED:
        return False
    refund.status = RefundStatus.SUCCEEDED
    refund.succeeded_at = now()
    session.flush()
    payment = refund.payment
    ledger.post(session, kind="refund", cause_type="refund", cause_id=refund.id,
                idempotency_key=refund.idempotency_key, memo=f"payment {payment.id}",
                lines=[("resident_clearing", refund.amount_fen), (ledger.gateway_code(payment.gateway), -refund.amount_fen)])
    return True


def submit_refund(session: Session, refund: Refund) -> None:
    """Ask the gateway to pay the refund (after the commit that created it); safe to repeat."""
    if refund.status != RefundStatus.PENDING or refund.payment.gateway == "offline":
        return
    gateway = current_app.extensions["linli.gateway"]
    ref = gateway.refund(payment_intent_id=refund.payment.payment_intent_id, amount_fen=refund.amount_fen,
                         idempotency_key=refund.idempotency_key)
    refund.gateway_ref = ref
    status = gateway.refund_status(ref) if hasattr(gateway, "refund_status") else "pending"
    if status == "succeeded":
        mark_refund_succeeded(session, refund, ref)
    elif status in ("failed", "canceled"):
        refund.status = RefundStatus.FAILED
    session.flush()


def submit_pending_refunds(session: Session, ids: list[int] | None = None, *, limit: int | None = None) -> int:
    """Submit pending gateway refunds (those named, or all, oldest first, at most ``limit``).

    Each refund is read again under a row lock (on PostgreSQL one that another run holds is
    skipped) and sent only while still pending and unsent, then committed on its own: one run
    submits a refund at most once, and a concurrent run finds it sent.  Where rows cannot be
    locked (SQLite) a second sender repeats the call with the same ``refund:<id>`` key, which
    Stripe answers with the same refund.  A gateway error leaves the refund pending (logged)
    for the next run.  Returns how many were sent.
    """
    unsent = (Refund.status == RefundStatus.PENDING, Refund.gateway_ref.is_(None))
    stmt = sa.select(Refund.id).where(*unsent).order_by(Refund.id)
    if ids is not None:
        if not ids:
            return 0
        stmt = stmt.where(Refund.id.in_(ids))
    if limit is not None:
        stmt = stmt.limit(limit)
    sent = 0
    for refund_id in list(session.scalars(stmt)):
        refund = session.scalar(sa.select(Refund).where(Refund.id == refund_id, *unsent)
                                .with_for_update(skip_locked=True).execution_options(populate_existing=True))
        if refund is None:
            continue  # sent meanwhile, or being sent by another run
        try:
            submit_refund(session, refund)
            session.commit()
            sent += 1
        except GatewayError as error:
            session.rollback()
            current_app.logger.warning("refund %s not submitted (%s), left pending: %s", refund_id,
                                       "will retry" if error.retryable else "refused", error)
    return sent
