"""POST /billing/stripe/webhook: Stripe's events, verified, checked and applied once.

The signature is checked on the RAW body with the signing secret
(``stripe.WebhookSignature.verify_header``, tolerance 300 s): forged or stale → 400,
nothing stored.  The body is bounded before it is parsed (app/jsonguard.py: size,
UTF-8, nesting depth; a body that is not JSON → 415).  Then, in this order:

1. **Shape** (:func:`shape_problem`): the event is an object with an ``id``, a ``type``
   and ``data.object`` an object; for the types handled here the object has the fields
   read below, each of the JSON type Stripe sends.  An event that cannot be read →
   400, nothing stored, an error logged: Stripe retries it for three days, time to
   find out why (an API version that changed a field) and have it applied then.
2. **The payment** it is about: by intent, by checkout session, or by our metadata.
   None → recorded "ignored: unknown payment", 200 (an event of the account that is
   not ours: there is nothing to retry).
3. **Match** (:func:`mismatch`), before any effect: the kind of object for the event
   type, a Stripe payment, the ``payment_id`` / ``booking_id`` in the metadata (the
   payment id required on checkout sessions and payment intents, which Linli always
   creates with it), the currency, the amount (``amount_total``, ``amount`` /
   ``amount_received``, the charge's ``amount``), a charge that succeeded and each
   refund in it against ours.  A mismatch is stored as "refused: <why>", logged as an
   error, answered 200, and changes nothing else: the same event redelivered can only
   be refused again (or be a duplicate), and a failing endpoint is eventually
   disabled by Stripe, which would stop the events that are right.
4. **Effects** (:func:`apply_event`).

Each event is stored as a GatewayEvent (``event_id`` unique) in the SAME transaction as
its effects: a replay answers 200 and does nothing; two deliveries racing end with one
effect (the unique constraint).  Every handler is idempotent and order-free (a refund
before the success applies the success first; a failure after a success is ignored),
so events in any order end in the same state.  A database failure is not caught:
Stripe sees a 5xx and retries.  Exempt from CSRF (Stripe cannot send a token; the
signature authenticates it).
"""

from __future__ import annotations

import json

import sqlalchemy as sa
import stripe
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from app.access import public
from app.errors import problem
from app.extensions import csrf, db
from billing.payment_models import GatewayEvent, Payment, PaymentStatus, Refund
from billing.payments import record_failure, record_success
from billing.refunds import mark_refund_succeeded

bp = Blueprint("billing_webhooks", __name__)
TOLERANCE_SECONDS = 300

# The event types applied here and the kind of object each is about.
HANDLED = {
    "checkout.session.completed": "checkout.session",
    "payment_intent.succeeded": "payment_intent",
    "payment_intent.payment_failed": "payment_intent",
    "charge.refunded": "charge",
}
# Linli creates these with ``metadata.payment_id`` (billing/gateways/stripe_gateway.py).
NAMED_IN_METADATA = {"checkout.session", "payment_intent"}


# --- 1. shape -----------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value) -> bool:
    return isinstance(value, str)


def _is_str_or_none(value) -> bool:
    return value is None or isinstance(value, str)


def _is_ref(value) -> bool:
    """An id, an expanded object with an id, or nothing."""
    return value is None or isinstance(value, str) or (isinstance(value, dict) and _is_str(value.get("id")))


def _is_metadata(value) -> bool:
    return value is None or (isinstance(value, dict) and all(isinstance(v, str) for v in value.values()))


def _is_error(value) -> bool:
    return value is None or (isinstance(value, dict) and _is_str_or_none(value.get("message")))


# field → (required, test), per kind of object; every field read by this module is here.
_COMMON = {"id": (True, _is_str), "object": (True, _is_str), "metadata": (False, _is_metadata),
           "currency": (True, _is_str)}
FIELDS = {
    "checkout.session": {**_COMMON, "amount_total": (True, _is_int), "payment_status": (True, _is_str),
                         "payment_intent": (False, _is_ref), "client_reference_id": (False, _is_str_or_none)},
    "payment_intent": {**_COMMON, "amount": (True, _is_int), "amount_received": (False, _is_int),
                       "status": (False, _is_str), "last_payment_error": (False, _is_error)},
    "charge": {**_COMMON, "amount": (True, _is_int), "payment_intent": (False, _is_ref),
               "status": (False, _is_str), "paid": (False, lambda v: isinstance(v, bool)),
               "amount_refunded": (False, _is_int), "refunds": (False, lambda v: v is None or isinstance(v, dict))},
}
REFUND_FIELDS = {"id": (True, _is_str), "amount": (True, _is_int), "status": (False, _is_str_or_none),
                 "currency": (False, _is_str), "charge": (False, _is_ref), "metadata": (False, _is_metadata)}


def _fields_problem(obj: dict, fields: dict, where: str) -> str | None:
    for name, (required, test) in fields.items():
        if name not in obj or (obj[name] is None and not required):
            if required:
                return f"{where} has no {name}"
            continue
        if not test(obj[name]):
            return f"{where}.{name} is not of the expected type"
    return None


def shape_problem(event) -> str | None:
    """Why the event cannot be read (a sentence), or None."""
    if not isinstance(event, dict):
        return "the event is not an object"
    if not _is_str(event.get("id")) or not event["id"] or len(event["id"]) > 120:
        return "the event has no id"
    if not _is_str(event.get("type")):
        return "the event has no type"
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return "the event's data.object is not an object"
    if event["type"] not in HANDLED:
        return None
    obj = data["object"]
    kind = obj.get("object")
    found = _fields_problem(obj, FIELDS.get(kind, {"object": (True, _is_str)}), "data.object")
    if found or kind != "charge" or obj.get("refunds") is None:
        return found
    items = obj["refunds"].get("data")
    if items is None:
        return None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        return "data.object.refunds.data is not a list of objects"
    for item in items:
        found = _fields_problem(item, REFUND_FIELDS, "data.object.refunds.data[]")
        if found:
            return found
    return None


# --- 2. the payment -----------------------------------------------------------------------


def _ref_id(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


def _intent_id(obj: dict) -> str | None:
    if obj.get("object") == "payment_intent":
        return obj.get("id")
    return _ref_id(obj.get("payment_intent"))


def _payment(session, obj: dict) -> Payment | None:
    """The payment an event's object is about: by intent, by session, or by our metadata."""
    intent = _intent_id(obj)
    if intent:
        found = session.scalar(sa.select(Payment).where(Payment.payment_intent_id == intent))
        if found is not None:
            return found
    if obj.get("object") == "checkout.session":
        found = session.scalar(sa.select(Payment).where(Payment.checkout_session_id == obj.get("id")))
        if found is not None:
            return found
    raw = (obj.get("metadata") or {}).get("payment_id")
    if raw and raw.isascii() and raw.isdigit() and len(raw) < 10:
        return session.get(Payment, int(raw))
    return None


# --- 3. match -----------------------------------------------------------------------------


def _money(amount: int, currency: str) -> str:
    return f"{amount} {currency.lower()}"


def _refunds_of(obj: dict) -> list[dict]:
    return (obj.get("refunds") or {}).get("data") or []


def _our_refund(session, item: dict) -> Refund | None:
    refund = session.scalar(sa.select(Refund).where(Refund.gateway_ref == item["id"]))
    if refund is None:
        key = (item.get("metadata") or {}).get("linli_refund")
        refund = session.get(Refund, int(key)) if key and key.isascii() and key.isdigit() and len(key) < 10 else None
    return refund


def mismatch(session, kind: str, obj: dict, payment: Payment) -> str | None:
    """Why the object does not fit the payment (a sentence), or None.  Reads only."""
    expected = HANDLED[kind]
    if obj["object"] != expected:
        return f"a {kind} event about a {obj['object']!r} object, not a {expected}"
    if payment.gateway != "stripe":
        return f"payment {payment.id} is paid through {payment.gateway!r}, not Stripe"
    metadata = obj.get("metadata") or {}
    if expected in NAMED_IN_METADATA and "payment_id" not in metadata:
        return f"the {expected} names no payment_id in its metadata"
    for key, ours in (("payment_id", payment.id), ("booking_id", payment.booking_id)):
        if key in metadata and metadata[key] != str(ours):
            return f"metadata {key} {metadata[key]!r} is not payment {payment.id}'s ({ours})"
    reference = obj.get("client_reference_id")
    if expected == "checkout.session" and reference is not None and reference != str(payment.id):
        return f"client_reference_id {reference!r} is not payment {payment.id}"
    if obj["currency"].lower() != payment.currency.lower():
        return f"currency {obj['currency']!r} differs from the payment's {payment.currency!r}"
    amounts = {"checkout.session": ["amount_total"], "charge": ["amount"],
               "payment_intent": ["amount"] + (["amount_received"] if kind == "payment_intent.succeeded" else [])}
    for field in amounts[expected]:
        if field in obj and obj[field] != payment.amount_fen:
            return (f"{field} {_money(obj[field], obj['currency'])} differs from the payment's "
                    f"{_money(payment.amount_fen, payment.currency)}")
    if kind == "payment_intent.succeeded" and obj.get("status", "succeeded") != "succeeded":
        return f"a payment_intent.succeeded event for an intent that is {obj['status']!r}"
    if expected == "charge":
        return _charge_mismatch(session, obj, payment)
    return None


def _charge_mismatch(session, obj: dict, payment: Payment) -> str | None:
    """A refunded charge shows a successful payment (its success is applied when missing):
    it must have succeeded, name an intent, and hold only refunds that fit ours."""
    if obj.get("status", "succeeded") != "succeeded" or obj.get("paid") is False:
        return f"the charge did not succeed (status {obj.get('status')!r})"
    if not _intent_id(obj):
        return "the charge names no payment intent"
    if obj.get("amount_refunded", 0) > obj["amount"]:
        return "the charge's amount_refunded is larger than its amount"
    for item in _refunds_of(obj):
        if item.get("currency") is not None and item["currency"].lower() != payment.currency.lower():
            return f"refund {item['id']} is in {item['currency']!r}, not {payment.currency!r}"
        if item.get("charge") is not None and _ref_id(item["charge"]) != obj["id"]:
            return f"refund {item['id']} belongs to another charge"
        if item["amount"] > obj["amount"]:
            return f"refund {item['id']} is larger than the charge"
        refund = _our_refund(session, item)
        if refund is None:
            continue
        if refund.payment_id != payment.id:
            return f"refund {item['id']} is refund {refund.id} of another payment"
        if item.get("status") in (None, "succeeded") and item["amount"] != refund.amount_fen:
            return (f"refund {item['id']} of {_money(item['amount'], payment.currency)} differs from "
                    f"refund {refund.id}'s {_money(refund.amount_fen, payment.currency)}")
    return None


# --- 4. effects ---------------------------------------------------------------------------


def apply_event(session, event: dict) -> str:
    """Check and apply one verified event of a readable shape; return the outcome recorded
    with it ("refused: …" changes nothing)."""
    kind = event["type"]
    obj = event["data"]["object"]
    if kind not in HANDLED:
        return "ignored: type not handled"
    payment = _payment(session, obj)
    if payment is None:
        return "ignored: unknown payment"
    why = mismatch(session, kind, obj, payment)
    if why is not None:
        current_app.logger.error("Stripe event %s (%s) refused for payment %s: %s",
                                 event["id"], kind, payment.id, why)
        return f"refused: {why}"
    if kind == "checkout.session.completed":
        if not payment.checkout_session_id:
            payment.checkout_session_id = obj["id"]
        if obj["payment_status"] != "paid":
            if _intent_id(obj) and not payment.payment_intent_id:
                payment.payment_intent_id = _intent_id(obj)
            return "waiting for the payment"
    if kind in ("checkout.session.completed", "payment_intent.succeeded"):
        return "succeeded" if record_success(session, payment, payment_intent_id=_intent_id(obj)) else "no change"
    if kind == "payment_intent.payment_failed":
        error = obj.get("last_payment_error") or {}
        if payment.payment_intent_id is None:
            payment.payment_intent_id = obj["id"]
        return "failed" if record_failure(session, payment, error.get("message") or "failed") else "no change"
    # charge.refunded: the charge had succeeded, whatever order the events came in.
    if payment.status != PaymentStatus.SUCCEEDED:
        record_success(session, payment, payment_intent_id=_intent_id(obj))
    done = 0
    for item in _refunds_of(obj):
        if item.get("status") not in (None, "succeeded"):
            continue
        refund = _our_refund(session, item)
        if refund is not None:
            done += mark_refund_succeeded(session, refund, item["id"])
    return f"refunds posted: {done}"


def _refuse(status: int, message: str):
    return problem(status, "Unsupported Media Type" if status == 415 else "Bad Request", message)


@bp.post("/billing/stripe/webhook")
@csrf.exempt
@public
def stripe_webhook():
    """Verify, check and apply a Stripe event. 200 when stored (applied, ignored, refused or a
    replay); 400 when not authentic or not readable, 415 when not JSON: nothing stored."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET") or ""
    if not secret:
        return _refuse(400, "webhooks are not configured")
    if not request.is_json:  # app/jsonguard.py bounds JSON bodies only: Stripe sends nothing else
        return _refuse(415, "a Stripe event is sent as application/json")
    payload = request.get_data(cache=False)
    signature = request.headers.get("Stripe-Signature", "")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=TOLERANCE_SECONDS)
        event = json.loads(payload.decode("utf-8"))
    except (ValueError, stripe.SignatureVerificationError):
        return _refuse(400, "invalid signature or payload")
    why = shape_problem(event)
    if why is not None:
        current_app.logger.error("Stripe event not readable, nothing stored: %s", why)
        return _refuse(400, f"the event cannot be read: {why}")
    event_id = event["id"]
    session = db.session
    if session.scalar(sa.select(GatewayEvent.id).where(GatewayEvent.event_id == event_id)) is not None:
        return jsonify(outcome="duplicate"), 200
    stored = GatewayEvent(gateway="stripe", event_id=event_id, type=event["type"][:80],
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
