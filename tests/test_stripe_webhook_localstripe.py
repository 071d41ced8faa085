"""Issue 12, item 9, replayed with localstripe: a 1-fen charge does not pay a 12000-fen booking.

The probe charged 1 fen on an intent carrying a 12000-fen payment's metadata, refunded it
and sent the signed ``charge.refunded``: the payment became ``succeeded 12000``.  Here
localstripe charges the 1 fen and delivers its own signed ``payment_intent.succeeded``
to Linli on a live server; the ``charge.refunded`` is built from localstripe's charge
(localstripe sends no refund events, see tests/test_stripe_live_webhooks.py) and signed
with the endpoint's secret.  Both are stored as refused and the payment stays pending.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
import sqlalchemy as sa

from app.extensions import db
from billing import payments
from billing.ledger import balance, gateway_code
from billing.models import LedgerTransaction
from billing.payment_models import GatewayEvent, Payment, PaymentStatus
from tests.billing_helpers import accepted_booking, sign
from tests.stripe_fixtures import localstripe, localstripe_app, served_webhook, wait_for_delivery  # noqa: F401

pytestmark = [pytest.mark.no_db_session]


@pytest.fixture(scope="module")
def checks_app(tmp_path_factory, localstripe):  # noqa: F811
    app = localstripe_app(tmp_path_factory, localstripe, "hookchecks")
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def live_webhook(checks_app, localstripe):  # noqa: F811
    """The app served on a loopback port, registered as localstripe's webhook endpoint."""
    with served_webhook(checks_app, localstripe) as url:
        yield url


def wait_for(condition, what: str):
    return wait_for_delivery(condition, what)


def events_for(payment_id: int) -> list[GatewayEvent]:
    found = db.session.scalars(sa.select(GatewayEvent).order_by(GatewayEvent.id)).all()
    return [e for e in found if (e.payload["data"]["object"].get("metadata") or {}).get("payment_id")
            == str(payment_id)]


def test_a_1_fen_charge_with_a_payments_metadata_is_refused_twice(checks_app, live_webhook, localstripe):  # noqa: F811
    with checks_app.app_context():
        gw = checks_app.extensions["linli.gateway"]
        booking, _ = accepted_booking()
        payment = payments.live_payment(db.session, booking.id)
        payment_id = payment.id
        assert payment.gateway == "stripe" and payment.amount_fen == 12000
        intent = gw.client.v1.payment_intents.create(params={
            "amount": 1, "currency": "cny", "payment_method": "pm_card_visa", "payment_method_types": ["card"],
            "metadata": {"payment_id": str(payment_id), "booking_id": str(booking.id)}})
        assert gw.client.v1.payment_intents.confirm(intent.id).status == "succeeded"
        [delivered] = wait_for(lambda: events_for(payment_id), "payment_intent.succeeded")
        assert delivered.type == "payment_intent.succeeded"
        assert delivered.outcome == "refused: amount 1 cny differs from the payment's 12000 cny"

        # The probe's next step: refund the fen and send the signed charge.refunded.
        refund = gw.client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1})
        charge_id = gw.client.v1.payment_intents.retrieve(intent.id).latest_charge
        charge_id = getattr(charge_id, "id", charge_id)
        request = urllib.request.Request(f"{localstripe}/v1/charges/{charge_id}",
                                         headers={"Authorization": "Bearer sk_test_linli"})
        with urllib.request.urlopen(request, timeout=10) as response:
            charge = json.load(response)
        assert charge["amount"] == 1 and charge["refunds"]["data"][0]["id"] == refund.id
        charge["metadata"] = {"payment_id": str(payment_id)}
        body = json.dumps({"id": f"evt_probe_{payment_id}", "object": "event", "type": "charge.refunded",
                           "created": int(time.time()), "data": {"object": charge}}).encode()
        post = urllib.request.Request(live_webhook, data=body, method="POST", headers={
            "Content-Type": "application/json", "Stripe-Signature": sign(body)})
        with urllib.request.urlopen(post, timeout=10) as response:
            assert response.status == 200
            assert json.load(response)["outcome"] == "refused: amount 1 cny differs from the payment's 12000 cny"

        db.session.rollback()
        payment = db.session.get(Payment, payment_id)
        assert payment.status == PaymentStatus.PENDING and payment.payment_intent_id is None
        assert [e.outcome.split(":")[0] for e in events_for(payment_id)] == ["refused", "refused"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == 0
        assert balance(db.session, gateway_code("stripe")) == 0
        db.session.remove()
