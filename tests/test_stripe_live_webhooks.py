"""Signed webhooks delivered by localstripe itself to Linli running on a real HTTP server.

localstripe (resources.py / webhooks.py) signs each event as Stripe does
(``Stripe-Signature: t=<event.created>,v1=HMAC-SHA256(secret, "t.body")``) and POSTs it
about a second after the change to every endpoint registered with
``POST /_config/webhooks/<id>``.  The app verifies it with its own secret; nothing
here weakens that.  What localstripe sends, compared with Stripe:

- ``payment_intent.succeeded`` / ``payment_intent.payment_failed`` with the intent as the
  object, but without ``amount_received`` (the app then compares ``amount``, which Stripe
  also sends) and with ``api_version`` 2017-08-15: the app reads neither difference wrongly.
- NO event at all for refunds (no ``charge.refunded``, ``refund.*``): its Refund API answers
  ``succeeded`` at once, which the app records from the API answer.  The ``charge.refunded``
  path is therefore exercised with localstripe's own charge object (as ``GET /v1/charges/<id>``
  returns it, refunds included), signed here with the endpoint's secret and POSTed to the
  same live server.

The live server needs committed data (a SAVEPOINT of the per-test transaction is invisible
to its threads), so this module uses a scratch database of its own; waiting for a delivery
polls the database with a deadline.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa
import stripe

from app.extensions import db
from billing import payments
from billing.jobs import submit_refunds
from billing.ledger import balance, gateway_code, is_balanced
from billing.models import LedgerTransaction
from billing.payment_models import GatewayEvent, Payment, PaymentStatus, Refund, RefundStatus
from providers.bookings import services
from tests.billing_helpers import accepted_booking, sign
from tests.stripe_fixtures import localstripe, localstripe_app, served_webhook, wait_for_delivery  # noqa: F401

pytestmark = [pytest.mark.no_db_session]


@pytest.fixture(scope="module")
def hooks_app(tmp_path_factory, localstripe):  # noqa: F811
    app = localstripe_app(tmp_path_factory, localstripe, "hooks")
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def live_webhook(hooks_app, localstripe):  # noqa: F811
    """The app served on a loopback port, registered as localstripe's webhook endpoint."""
    with served_webhook(hooks_app, localstripe) as url:
        yield url


def wait_for(condition, what: str):
    return wait_for_delivery(condition, what)


def stored_events(payment_id: int, kind: str) -> list[GatewayEvent]:
    found = db.session.scalars(sa.select(GatewayEvent).where(GatewayEvent.type == kind)
                               .order_by(GatewayEvent.id)).all()
    return [e for e in found if (e.payload["data"]["object"].get("metadata") or {}).get("payment_id")
            == str(payment_id)]


def ledger_count(kind: str, cause_type: str, cause_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction).where(
        LedgerTransaction.kind == kind, LedgerTransaction.cause_type == cause_type,
        LedgerTransaction.cause_id == cause_id))


def intent_for(gw, payment: Payment, card: str = "pm_card_visa"):
    """A payment intent for the payment, made as Checkout makes it (our metadata on the
    intent), then confirmed: localstripe charges the card and sends the event."""
    intent = gw.client.v1.payment_intents.create(params={
        "amount": payment.amount_fen, "currency": payment.currency, "payment_method": card,
        "payment_method_types": ["card"],
        "metadata": {"payment_id": str(payment.id), "booking_id": str(payment.booking_id)}})
    assert intent.status == "requires_confirmation"
    return intent


def paid_booking(app):
    """An accepted booking whose Stripe payment localstripe's delivered event recorded."""
    gw = app.extensions["linli.gateway"]
    booking, staff = accepted_booking()
    payment = payments.live_payment(db.session, booking.id)
    assert payment.gateway == "stripe" and payment.payment_intent_id is None
    intent = intent_for(gw, payment)
    assert gw.client.v1.payment_intents.confirm(intent.id).status == "succeeded"
    payment_id = payment.id
    wait_for(lambda: db.session.get(Payment, payment_id).status == PaymentStatus.SUCCEEDED,
             "payment_intent.succeeded")
    return booking, staff, db.session.get(Payment, payment_id), intent.id


def test_delivered_payment_intent_succeeded_records_the_payment_once(hooks_app, live_webhook):
    with hooks_app.app_context():
        gw = hooks_app.extensions["linli.gateway"]
        _, _, payment, intent_id = paid_booking(hooks_app)
        assert payment.payment_intent_id == intent_id  # learnt from the event (metadata → payment)
        [stored] = stored_events(payment.id, "payment_intent.succeeded")
        assert stored.outcome == "succeeded" and stored.event_id.startswith("evt_")
        sent = gw.client.v1.events.list(params={"type": "payment_intent.succeeded"}).data
        assert stored.event_id in {e.id for e in sent}  # the very event localstripe created
        assert ledger_count("payment", "payment", payment.id) == 1
        assert is_balanced(db.session)
        # Stripe may deliver again: the stored event id makes the repeat a no-op.
        body = json.dumps(stored.payload).encode()
        again = urllib.request.Request(live_webhook, data=body, method="POST", headers={
            "Content-Type": "application/json", "Stripe-Signature": sign(body)})
        with urllib.request.urlopen(again, timeout=10) as response:
            assert json.load(response) == {"outcome": "duplicate"}
        db.session.rollback()
        assert ledger_count("payment", "payment", payment.id) == 1
        assert len(stored_events(payment.id, "payment_intent.succeeded")) == 1
        db.session.remove()


def test_delivered_payment_failure_keeps_the_payment_pending(hooks_app, live_webhook):
    with hooks_app.app_context():
        gw = hooks_app.extensions["linli.gateway"]
        booking, _ = accepted_booking()
        payment = payments.live_payment(db.session, booking.id)
        payment_id = payment.id
        intent = intent_for(gw, payment, card="pm_card_chargeCustomerFail")
        with pytest.raises(stripe.CardError):
            gw.client.v1.payment_intents.confirm(intent.id)
        wait_for(lambda: db.session.get(Payment, payment_id).failure_reason, "payment_intent.payment_failed")
        payment = db.session.get(Payment, payment_id)
        assert payment.status == PaymentStatus.PENDING and payment.payment_intent_id == intent.id
        [stored] = stored_events(payment_id, "payment_intent.payment_failed")
        assert stored.outcome == "failed"
        assert ledger_count("payment", "payment", payment_id) == 0
        db.session.remove()


def test_refund_through_the_refund_api_and_charge_refunded_apply_once(hooks_app, live_webhook, localstripe):  # noqa: F811
    with hooks_app.app_context():
        gw = hooks_app.extensions["linli.gateway"]
        booking, staff, payment, intent_id = paid_booking(hooks_app)
        services.cancel_by_provider(db.session, booking, staff, reason="the worker is ill")
        db.session.commit()
        [refund] = payment.refunds
        refund_id = refund.id
        assert refund.amount_fen == 12000 and refund.gateway_ref is None
        # A pending answer (as Stripe gives for some methods) leaves the posting to the event.
        gw.refund_status = lambda ref: "pending"
        try:
            assert submit_refunds(db.session) == 1
        finally:
            del gw.refund_status
        refund = db.session.get(Refund, refund_id)
        assert refund.status == RefundStatus.PENDING and refund.gateway_ref.startswith("re_")
        [remote] = gw.client.v1.refunds.list(params={"payment_intent": intent_id}).data
        assert remote.id == refund.gateway_ref and remote.status == "succeeded"
        assert gw.client.v1.events.list(params={"type": "charge.refunded"}).data == []  # see the docstring

        # localstripe's charge, as its API returns it, in the event Stripe would send.
        charge_id = gw.client.v1.payment_intents.retrieve(intent_id).latest_charge
        charge_id = getattr(charge_id, "id", charge_id)
        request = urllib.request.Request(f"{localstripe}/v1/charges/{charge_id}",
                                         headers={"Authorization": "Bearer sk_test_linli"})
        with urllib.request.urlopen(request, timeout=10) as response:
            charge = json.load(response)
        assert charge["refunds"]["data"][0]["id"] == refund.gateway_ref and charge["amount_refunded"] == 12000
        body = json.dumps({"id": f"evt_refund_{refund_id}", "object": "event", "type": "charge.refunded",
                           "created": int(time.time()), "data": {"object": charge}}).encode()
        outcomes = []
        for wrong in (True, False, False):
            signed = sign(body, secret="whsec_wrong") if wrong else sign(body)
            post = urllib.request.Request(live_webhook, data=body, method="POST", headers={
                "Content-Type": "application/json", "Stripe-Signature": signed})
            try:
                with urllib.request.urlopen(post, timeout=10) as response:
                    outcomes.append(json.load(response)["outcome"])
            except urllib.error.HTTPError as error:
                outcomes.append(error.code)
        assert outcomes == [400, "refunds posted: 1", "duplicate"]
        db.session.rollback()
        refund = db.session.get(Refund, refund_id)
        assert refund.status == RefundStatus.SUCCEEDED
        assert ledger_count("refund", "refund", refund_id) == 1
        assert db.session.get(Payment, payment.id).refunded_fen == 12000
        assert balance(db.session, gateway_code("stripe")) == sum(
            p.amount_fen - p.refunded_fen for p in db.session.scalars(sa.select(Payment).where(
                Payment.status == PaymentStatus.SUCCEEDED)))
        assert is_balanced(db.session)
        db.session.remove()
