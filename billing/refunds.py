"""Refunds: the cancellation rules and the movement of money back.

Rules (a paid booking that closes without service):
- resident cancels before the notice window (BOOKING_FREE_CANCEL_HOURS, recorded by the booking
  service as ``late_cancellation``): full refund;
- resident cancels inside it, or does not turn up: the provider keeps the
  ``late_cancel_fee_percent`` fixed when the booking was made (``booking_fee_policy``,
  :func:`billing.policies.policy_of_booking`; a later change of the listing's policy does not
  apply) of what is left — ``round_fen(Decimal(left) * pct / 100)``,
  half-up to the fen — and the rest is refunded;
- the provider cancels, declines, lets the request expire, or a provider no-show is confirmed:
  always a full refund.

A refund is never larger than what is left of the payment (:class:`RefundTooLarge`, 409; the
database's CHECK on ``payment.refunded_fen`` is the last line).  Offline refunds are recorded as paid
back by the provider at once.  A gateway refund is a row first: :func:`create_refund` adds it
(pending, unsent) in the caller's transaction and asks, with :func:`app.uow.after_commit`, for it to
be sent once that transaction has committed.  Sending (``billing.jobs.send_refunds``, also the
scheduler's retry job) reads the refund (:func:`refund_order`), calls the Refund API with no
transaction open and no row locked (:func:`ask_gateway`, idempotency key ``refund:<refund id>``),
and records the answer in a short transaction of its own (:func:`record_answer`).  A refund whose
call failed stays pending and unsent, and the job sends it again; it is posted when the gateway
says it succeeded.  These functions flush and never commit.
Ledger: refund → Dr resident_clearing / Cr gateway_clearing:<gw>; fee kept → Dr resident_clearing /
Cr provider_payable:<id>.  The kept fee is also a fact of the refund (``refund.late_fee_fen``; when the
provider keeps everything that was left, a refund of 0 records it), which settlement reads.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.clock import now
from app.errors import Conflict
from app.money import round_fen
from app.uow import after_commit
from billing import ledger
from billing.gateways import get_gateway
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


def fee_kept(session: Session, booking: Booking, payment: Payment | None, *, late: bool) -> int:
    """What the provider keeps of ``payment`` when ``booking`` closes, late (a late
    cancellation, a resident no-show) or not: the percentage fixed on the booking of what
    is left of a completed payment; 0 when not late or nothing is paid.  The refund keeps
    this and the pages quote it (:func:`billing.cancel_costs.cancel_cost`)."""
    from billing.policies import policy_of_booking

    if not late or payment is None or payment.status != PaymentStatus.SUCCEEDED or refundable(payment) <= 0:
        return 0
    return late_fee(refundable(payment), policy_of_booking(session, booking).late_cancel_fee_percent)


def refund_for_closed_booking(session: Session, booking: Booking, payment: Payment) -> Refund | None:
    """Apply the cancellation rules to a paid booking that closed; None when nothing is refunded."""
    left = refundable(payment)
    if payment.status != PaymentStatus.SUCCEEDED or left <= 0:
        return None
    late = booking.status == S.NO_SHOW_RESIDENT or (booking.status == S.CANCELLED_BY_RESIDENT
                                                     and booking.late_cancellation)
    if not late and booking.status not in FULL_REFUND and booking.status != S.CANCELLED_BY_RESIDENT:
        return None
    fee = fee_kept(session, booking, payment, late=late)
    if fee:
        ledger.post(session, kind="late_cancel_fee", cause_type="booking", cause_id=booking.id,
                    idempotency_key=f"late_fee:{payment.id}", memo=f"booking {booking.id} {booking.status}",
                    lines=[("resident_clearing", fee), (ledger.provider_payable_code(booking.provider_id), -fee)])
    amount = left - fee
    reason = f"booking {booking.status.value}" + (f", fee {fee} fen kept" if fee else "")
    if amount <= 0:
        return _keep_all(session, payment, fee, reason) if fee else None
    return create_refund(session, payment, amount, reason=reason, fee_kept=fee)


def _keep_all(session: Session, payment: Payment, fee: int, reason: str) -> Refund:
    """The provider keeps all that was left: a refund of nothing, done at once (no gateway
    call, nothing posted back), that records the kept fee."""
    refund = Refund(payment_id=payment.id, amount_fen=0, late_fee_fen=fee, status=RefundStatus.SUCCEEDED,
                    reason=reason[:300], idempotency_key=f"late_fee:{payment.id}", created_at=now(),
                    succeeded_at=now())
    session.add(refund)
    session.flush()
    return refund


def create_refund(session: Session, payment: Payment, amount_fen: int, *, reason: str = "",
                  fee_kept: int = 0) -> Refund:
    """A refund of ``amount_fen``; RefundTooLarge (409) when more than is left, nothing changed."""
    if not isinstance(amount_fen, int) or amount_fen <= 0:
        raise RefundTooLarge(_l("A refund must be a positive amount."), field="amount")
    if payment.status != PaymentStatus.SUCCEEDED:
        raise Conflict(_l("Only a completed payment can be refunded."), field="amount")
    if amount_fen + fee_kept > refundable(payment):
        raise RefundTooLarge(_l("A refund cannot be larger than what is left of the payment."), field="amount")
    refund = Refund(payment_id=payment.id, amount_fen=amount_fen, late_fee_fen=fee_kept, status=RefundStatus.PENDING,
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
    elif has_app_context():  # sent once this transaction has committed (the job retries a failure)
        after_commit(session, partial(_send_after_commit, session, refund.id))
    return refund


def _send_after_commit(session: Session, refund_id: int) -> None:
    """The refund job's sender (``billing.jobs.send_refunds``), which billing's ``init_app``
    files under ``linli.refund_sender``: looked up, not imported, so jobs may import this module."""
    send = current_app.extensions.get("linli.refund_sender")
    if send is not None:
        send(session, [refund_id])


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


UNSENT = (Refund.status == RefundStatus.PENDING, Refund.gateway_ref.is_(None))


@dataclass(frozen=True)
class RefundOrder:
    """What the gateway is asked for one refund (read before the call, no row held)."""

    refund_id: int
    payment_intent_id: str | None
    amount_fen: int
    idempotency_key: str


def unsent_refunds(session: Session, ids: list[int] | None = None, *, limit: int | None = None) -> list[int]:
    """Ids of gateway refunds still pending and unsent (those named, or all), oldest first."""
    stmt = (sa.select(Refund.id).join(Payment, Payment.id == Refund.payment_id)
            .where(*UNSENT, Payment.gateway != "offline").order_by(Refund.id))
    if ids is not None:
        if not ids:
            return []
        stmt = stmt.where(Refund.id.in_(ids))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def refund_order(session: Session, refund_id: int) -> RefundOrder | None:
    """The call to make for a refund still pending and unsent; None when it was sent meanwhile."""
    row = session.execute(
        sa.select(Refund.id, Payment.payment_intent_id, Refund.amount_fen, Refund.idempotency_key)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Refund.id == refund_id, *UNSENT, Payment.gateway != "offline")).first()
    return RefundOrder(*row) if row is not None else None


def ask_gateway(order: RefundOrder) -> tuple[str | None, str]:
    """Call the gateway's Refund API (outside any transaction); its reference and the refund's status.

    Raises :class:`billing.gateways.GatewayError` when the gateway refuses or cannot be reached.
    """
    gateway = get_gateway()
    ref = gateway.refund(payment_intent_id=order.payment_intent_id, amount_fen=order.amount_fen,
                         idempotency_key=order.idempotency_key)
    status = gateway.refund_status(ref) if hasattr(gateway, "refund_status") else "pending"
    return ref, status


def record_answer(session: Session, order: RefundOrder, ref: str | None, status: str) -> Refund:
    """Record the gateway's answer on the refund, read again under its row lock (flushes).

    Posted at once when the gateway says it succeeded (unless a webhook posted it meanwhile);
    failed when it says failed or canceled; otherwise left pending with its reference for the
    ``charge.refunded`` event.
    """
    refund = session.scalar(sa.select(Refund).where(Refund.id == order.refund_id)
                            .with_for_update().execution_options(populate_existing=True))
    if ref and not refund.gateway_ref:
        refund.gateway_ref = ref
    if refund.status == RefundStatus.PENDING:
        if status == "succeeded":
            mark_refund_succeeded(session, refund, ref)
        elif status in ("failed", "canceled"):
            refund.status = RefundStatus.FAILED
    session.flush()
    return refund
