"""The Stripe gateway against real peers: Checkout (stub), payment intents and refunds (localstripe),
and start-up configuration errors."""

from __future__ import annotations

import pytest
import stripe

from app import create_app
from app.config import ConfigError
from billing import payments
from billing.gateways import GatewayError, build_gateway
from billing.gateways.stripe_gateway import StripeGateway
from billing.payment_models import PaymentStatus
from billing.refunds import create_refund
from tests.billing_helpers import WEBHOOK_SECRET, accepted_booking, gateway
from tests.stripe_fixtures import localstripe, stripe_stub, stripe_stub_server  # noqa: F401
from tests.forms import submit

GOOD = {"LINLI_PAYMENT_GATEWAY": "stripe", "STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x",
        "STRIPE_CURRENCY": "cny", "STRIPE_PAYMENT_METHODS": ("card", "alipay", "wechat_pay")}


@pytest.mark.parametrize("change, message", [
    ({"STRIPE_SECRET_KEY": ""}, "STRIPE_SECRET_KEY"),
    ({"STRIPE_SECRET_KEY": "pk_test_public"}, "STRIPE_SECRET_KEY"),
    ({"STRIPE_WEBHOOK_SECRET": ""}, "STRIPE_WEBHOOK_SECRET"),
    ({"STRIPE_PAYMENT_METHODS": ("card", "bitcoin")}, "STRIPE_PAYMENT_METHODS"),
    ({"STRIPE_CURRENCY": "yuan"}, "STRIPE_CURRENCY"),
    ({"LINLI_PAYMENT_GATEWAY": "paypal"}, "LINLI_PAYMENT_GATEWAY"),
])
def test_wrong_stripe_configuration_stops_start_up(change, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        build_gateway({**GOOD, **change})
    with pytest.raises(ConfigError, match=message):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", **GOOD, **change})


def test_offline_is_the_default_and_stripe_builds_with_good_keys():
    assert build_gateway({}).name == "offline"
    assert isinstance(build_gateway(GOOD), StripeGateway)


def test_checkout_session_request_on_the_stub(app, auth, client, db_session, stripe_stub):  # noqa: F811
    gw = StripeGateway(secret_key="sk_test_linli", api_base=stripe_stub.base_url)
    with gateway(app, gw, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET):
        booking, _ = accepted_booking()
        payment = payments.live_payment(db_session, booking.id)
        auth.login(booking.resident)
        response = submit(client, f"/bookings/{booking.id}", action=f"/bookings/{booking.id}/pay")
        assert response.status_code == 303
        assert response.headers["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
        again = submit(client, f"/bookings/{booking.id}", action=f"/bookings/{booking.id}/pay")  # same key: the same session
        assert again.headers["Location"] == response.headers["Location"]
    [first, second] = stripe_stub.requests_to("/v1/checkout/sessions")
    _, _, form, headers = first
    assert headers["Idempotency-Key"] == f"checkout:{payment.id}" == second[3]["Idempotency-Key"]
    assert form["line_items[0][price_data][unit_amount]"] == "12000"
    assert form["line_items[0][price_data][currency]"] == "cny"
    assert [form[f"payment_method_types[{i}]"] for i in range(3)] == ["card", "alipay", "wechat_pay"]
    assert form["payment_method_options[wechat_pay][client]"] == "web"
    assert form["metadata[payment_id]"] == str(payment.id)
    assert payment.checkout_session_id == response.headers["Location"].rsplit("/", 1)[1]
    assert payment.status == PaymentStatus.PENDING  # recorded only from the webhook


def test_gateway_failure_at_checkout_is_502_and_nothing_changes(app, auth, client, db_session):
    gw = StripeGateway(secret_key="sk_test_linli", api_base="http://127.0.0.1:9")
    with gateway(app, gw):
        booking, _ = accepted_booking()
        auth.login(booking.resident)
        gw.client = stripe.StripeClient("sk_test_linli", base_addresses={"api": "http://127.0.0.1:9"},
                                        max_network_retries=0)  # port 9: nobody listens
        response = submit(client, f"/bookings/{booking.id}", action=f"/bookings/{booking.id}/pay")
    assert response.status_code == 502
    assert payments.live_payment(db_session, booking.id).checkout_session_id is None


def test_payment_intent_and_refund_on_localstripe(app, db_session, localstripe):  # noqa: F811
    gw = StripeGateway(secret_key="sk_test_linli", api_base=localstripe)
    intent = gw.client.v1.payment_intents.create(params={
        "amount": 12000, "currency": "cny", "payment_method": "pm_card_visa", "confirm": True,
    })
    assert intent.status == "succeeded"
    with gateway(app, gw):
        booking, _ = accepted_booking()
        payment = payments.live_payment(db_session, booking.id)
        payments.record_success(db_session, payment, payment_intent_id=intent.id)
        refund = create_refund(db_session, payment, 4000, reason="goodwill")
        db_session.commit()
        from billing.jobs import send_refunds

        assert send_refunds(db_session, [refund.id]) == 1
    assert refund.gateway_ref.startswith("re_") and refund.status.value == "succeeded"
    remote = gw.client.v1.refunds.retrieve(refund.gateway_ref)
    assert remote.amount == 4000 and remote.payment_intent == intent.id
    with pytest.raises(GatewayError):
        gw.refund(payment_intent_id="pi_does_not_exist", amount_fen=100, idempotency_key="refund:x")
