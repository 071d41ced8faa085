"""POST /billing/stripe/webhook: Stripe's events, verified and applied once.

The signature is checked on the RAW body with the signing secret
(``stripe.Webhook.construct_event``, tolerance 300 s): forged or stale → 400,
nothing stored.  Each event is stored as a GatewayEvent (``event_id`` unique)
in the SAME transaction as its effects: a replay answers 200 and does nothing;
two deliveries racing end with one effect (the unique constraint).  Every
handler is idempotent and order-free (a refund before the success applies the
success first; a failure after a success is ignored), so events in any order
end in the same state.  An event for an unknown payment is recorded with outcome
"ignored".  A database failure is not caught: Stripe sees a 5xx and retries.
Exempt from CSRF (Stripe cannot send a token; the signature authenticates it).
"""

from __future__ import annotations

import json

import sqlalchemy as sa
import stripe
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from app.access import public
from app.extensions import csrf, db
from billing.payment_models import GatewayEvent, Payment, PaymentStatus, Refund
from billing.payments import record_failure, record_success
from billing.refunds import mark_refund_succeeded

bp = Blueprint("billing_webhooks", __name__)
TOLERANCE_SECONDS = 300


def _payment(session, obj: dict) -> Payment | None:
    """The payment an event's object is about: by intent, by session, or by our metadata."""
    intent = obj.get("payment_intent") if obj.get("object") != "payment_intent" else obj.get("id")
    if isinstance(intent, dict):
        intent = intent.get("id")
    if intent:
        found = session.scalar(sa.select(Payment).where(Payment.payment_intent_id == intent))
        if found is not None:
            return found
    if obj.get("object") == "checkout.session":
        found = session.scalar(sa.select(Payment).where(Payment.checkout_session_id == obj.get("id")))
        if found is not None:
            return found
    raw = (obj.get("metadata") or {}).get("payment_id")
    if raw and str(raw).isdigit():
        return session.get(Payment, int(raw))
    return None


def _intent_id(obj: dict) -> str | None:
    if obj.get("object") == "payment_intent":
        return obj.get("id")
    intent = obj.get("payment_intent")
    return intent.get("id") if isinstance(intent, dict) else intent


def _amount_matches(payment: Payment, obj: dict) -> bool:
    amount = obj.get("amount_received", obj.get("amount_total", obj.get("amount")))
    currency = (obj.get("currency") or payment.currency).lower()
    return amount == payment.amount_fen and currency == payment.currency.lower()


def apply_event(session, event: dict) -> str:
    """Apply one verified event; return the outcome recorded with it."""
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    if kind not in ("checkout.session.completed", "payment_intent.succeeded",
                    "payment_intent.payment_failed", "charge.refunded"):
        return "ignored: type not handled"
    payment = _payment(session, obj)
    if payment is None:
        return "ignored: unknown payment"
    if kind == "checkout.session.completed":
        if obj.get("id") and not payment.checkout_session_id:
            payment.checkout_session_id = obj["id"]
        if obj.get("payment_status") != "paid":
            if _intent_id(obj) and not payment.payment_intent_id:
                payment.payment_intent_id = _intent_id(obj)
            return "waiting for the payment"
    if kind in ("checkout.session.completed", "payment_intent.succeeded"):
        if not _amount_matches(payment, obj):
            return "ignored: amount or currency differs from the payment"
        return "succeeded" if record_success(session, payment, payment_intent_id=_intent_id(obj)) else "no change"
    if kind == "payment_intent.payment_failed":
        error = obj.get("last_payment_error") or {}
        if payment.payment_intent_id is None:
            payment.payment_intent_id = obj.get("id")
        return "failed" if record_failure(session, payment, error.get("message") or "failed") else "no change"
    # charge.refunded: the charge had succeeded, whatever order the events came in.
    if payment.status != PaymentStatus.SUCCEEDED:
        record_success(session, payment, payment_intent_id=_intent_id(obj))
    done = 0
    for item in ((obj.get("refunds") or {}).get("data") or []):
        if item.get("status") not in (None, "succeeded"):
            continue
        refund = session.scalar(sa.select(Refund).where(Refund.gateway_ref == item.get("id")))
        if refund is None:
            key = (item.get("metadata") or {}).get("linli_refund")
            refund = session.get(Refund, int(key)) if key and str(key).isdigit() else None
        if refund is not None and refund.payment_id == payment.id:
            done += mark_refund_succeeded(session, refund, item.get("id"))
    return f"refunds posted: {done}"


@bp.post("/billing/stripe/webhook")
@csrf.exempt
@public
def stripe_webhook():
    """Verify and apply a Stripe event. 200 when stored (or a replay); 400 when not authentic."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET") or ""
    payload = request.get_data(cache=False)
    signature = request.headers.get("Stripe-Signature", "")
    if not secret:
        return jsonify(error="webhooks are not configured"), 400
    try:
        stripe.Webhook.construct_event(payload, signature, secret, tolerance=TOLERANCE_SECONDS)
        event = json.loads(payload)
    except (ValueError, stripe.SignatureVerificationError):
        return jsonify(error="invalid signature or payload"), 400
    event_id = event.get("id")
    if not event_id:
        return jsonify(error="no event id"), 400
    session = db.session
    if session.scalar(sa.select(GatewayEvent.id).where(GatewayEvent.event_id == event_id)) is not None:
        return jsonify(outcome="duplicate"), 200
    stored = GatewayEvent(gateway="stripe", event_id=event_id, type=str(event.get("type", ""))[:80],
                          payload=event, outcome="")
    session.add(stored)
    try:
        session.flush()
        stored.outcome = apply_event(session, event)[:200]
        session.commit()
    except IntegrityError:
        session.rollback()
        if session.scalar(sa.select(GatewayEvent.id).where(GatewayEvent.event_id == event_id)) is not None:
            return jsonify(outcome="duplicate"), 200
        raise
    return jsonify(outcome=stored.outcome), 200
