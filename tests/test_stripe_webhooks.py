"""The Stripe webhook: signatures on the raw body, replays, order, unknown payments."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from billing import payments
from billing.gateways.stripe_gateway import StripeGateway
from billing.ledger import balance, gateway_code, is_balanced
from billing.models import LedgerTransaction
from billing.payment_models import GatewayEvent, PaymentStatus
from tests.billing_helpers import WEBHOOK_SECRET, accepted_booking, event, gateway, post_event, sign
from tests.stripe_fixtures import stripe_stub, stripe_stub_server  # noqa: F401


@pytest.fixture
def stripe_app(app, stripe_stub):  # noqa: F811
    gw = StripeGateway(secret_key="sk_test_linli", api_base=stripe_stub.base_url)
    with gateway(app, gw, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET):
        yield app


def stripe_payment(session):
    booking, _ = accepted_booking()
    payment = payments.live_payment(session, booking.id)
    payment.payment_intent_id = f"pi_test_{payment.id}"
    session.commit()
    return booking, payment


def intent(payment, status="succeeded", amount=None):
    return {"id": payment.payment_intent_id, "object": "payment_intent", "status": status,
            "amount": amount or payment.amount_fen, "amount_received": amount or payment.amount_fen,
            "currency": "cny", "metadata": {"payment_id": str(payment.id)},
            "last_payment_error": {"message": "Your card was declined."} if status != "succeeded" else None}


def events(session):
    return session.scalars(sa.select(GatewayEvent).order_by(GatewayEvent.id)).all()


def test_succeeded_event_records_the_payment(stripe_app, client, db_session):
    booking, payment = stripe_payment(db_session)
    assert payment.gateway == "stripe"
    response = post_event(client, event("evt_1", "payment_intent.succeeded", intent(payment)))
    assert response.status_code == 200 and response.json["outcome"] == "succeeded"
    assert payment.status == PaymentStatus.SUCCEEDED
    assert balance(db_session, gateway_code("stripe")) == 12000
    assert is_balanced(db_session)


def test_forged_signature_is_400_and_nothing_stored(stripe_app, client, db_session):
    _, payment = stripe_payment(db_session)
    body = event("evt_forged", "payment_intent.succeeded", intent(payment))
    assert post_event(client, body, sign(body, secret="whsec_wrong")).status_code == 400
    assert post_event(client, body, "").status_code == 400
    tampered = body.replace(b'"succeeded"', b'"succeeded" ', 1)
    assert post_event(client, tampered, sign(body)).status_code == 400
    assert events(db_session) == [] and payment.status == PaymentStatus.PENDING


def test_stale_timestamp_is_400(stripe_app, client, db_session):
    _, payment = stripe_payment(db_session)
    body = event("evt_stale", "payment_intent.succeeded", intent(payment))
    assert post_event(client, body, sign(body, at=int(time.time()) - 301)).status_code == 400
    assert events(db_session) == [] and payment.status == PaymentStatus.PENDING


def test_replayed_event_has_one_effect(stripe_app, client, db_session):
    _, payment = stripe_payment(db_session)
    body = event("evt_twice", "payment_intent.succeeded", intent(payment))
    assert post_event(client, body).json["outcome"] == "succeeded"
    again = post_event(client, body)
    assert again.status_code == 200 and again.json["outcome"] == "duplicate"
    assert len(events(db_session)) == 1
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == 1
    assert balance(db_session, gateway_code("stripe")) == 12000


def test_failed_after_succeeded_leaves_it_paid(stripe_app, client, db_session):
    _, payment = stripe_payment(db_session)
    post_event(client, event("evt_ok", "payment_intent.succeeded", intent(payment)))
    late = post_event(client, event("evt_fail", "payment_intent.payment_failed", intent(payment, "requires_payment_method")))
    assert late.json["outcome"] == "no change"
    assert payment.status == PaymentStatus.SUCCEEDED and is_balanced(db_session)


def test_failed_then_succeeded_ends_paid(stripe_app, client, db_session):
    _, payment = stripe_payment(db_session)
    post_event(client, event("evt_f", "payment_intent.payment_failed", intent(payment, "requires_payment_method")))
    assert payment.status == PaymentStatus.PENDING and payment.failure_reason == "Your card was declined."
    post_event(client, event("evt_s", "payment_intent.succeeded", intent(payment)))
    assert payment.status == PaymentStatus.SUCCEEDED and payment.failure_reason is None


def test_charge_refunded_before_succeeded_ends_consistent(stripe_app, client, db_session):
    booking, payment = stripe_payment(db_session)
    # Record a pending 5000 refund as if sent to Stripe, then deliver the events out of order.
    payments.record_success(db_session, payment)
    from billing.refunds import create_refund

    refund = create_refund(db_session, payment, 5000)
    refund.gateway_ref = "re_test_1"
    db_session.commit()
    charge = {"id": "ch_1", "object": "charge", "payment_intent": payment.payment_intent_id,
              "amount": 12000, "amount_refunded": 5000, "currency": "cny",
              "refunds": {"data": [{"id": "re_test_1", "amount": 5000, "status": "succeeded"}]}}
    assert post_event(client, event("evt_r", "charge.refunded", charge)).json["outcome"] == "refunds posted: 1"
    assert post_event(client, event("evt_s2", "payment_intent.succeeded", intent(payment))).json["outcome"] == "no change"
    assert refund.status.value == "succeeded"
    assert balance(db_session, gateway_code("stripe")) == 7000
    assert is_balanced(db_session)


def test_charge_refunded_first_applies_the_success(stripe_app, client, db_session):
    _, payment = stripe_payment(db_session)
    charge = {"id": "ch_2", "object": "charge", "payment_intent": payment.payment_intent_id,
              "amount": 12000, "currency": "cny", "refunds": {"data": []}}
    post_event(client, event("evt_r2", "charge.refunded", charge))
    post_event(client, event("evt_s3", "payment_intent.succeeded", intent(payment)))
    assert payment.status == PaymentStatus.SUCCEEDED
    assert balance(db_session, gateway_code("stripe")) == 12000 and is_balanced(db_session)


def test_unknown_payment_is_200_ignored_and_recorded(stripe_app, client, db_session):
    obj = {"id": "pi_nobody", "object": "payment_intent", "amount": 100, "currency": "cny", "metadata": {}}
    response = post_event(client, event("evt_unknown", "payment_intent.succeeded", obj))
    assert response.status_code == 200 and response.json["outcome"].startswith("ignored")
    [stored] = events(db_session)
    assert stored.outcome == "ignored: unknown payment"


def test_amount_mismatch_is_refused(stripe_app, client, db_session):
    _, payment = stripe_payment(db_session)
    response = post_event(client, event("evt_amt", "payment_intent.succeeded", intent(payment, amount=1)))
    assert response.json["outcome"].startswith("refused") and payment.status == PaymentStatus.PENDING


def test_checkout_session_completed_paid(stripe_app, client, db_session):
    _, payment = stripe_payment(db_session)
    session_obj = {"id": "cs_test_x", "object": "checkout.session", "payment_status": "paid",
                   "payment_intent": payment.payment_intent_id, "amount_total": 12000, "currency": "cny",
                   "metadata": {"payment_id": str(payment.id)}}
    assert post_event(client, event("evt_cs", "checkout.session.completed", session_obj)).json["outcome"] == "succeeded"
    assert payment.checkout_session_id == "cs_test_x"


def test_csrf_does_not_block_the_webhook(stripe_app, client, db_session, csrf_enabled):
    _, payment = stripe_payment(db_session)
    assert post_event(client, event("evt_csrf", "payment_intent.succeeded", intent(payment))).status_code == 200
    db.session.rollback()
