"""Issue 12, items 9 and 10: every signed Stripe event is checked before it has any effect.

Item 9: a signed ``charge.refunded`` for a 1-fen charge marked a 12000-fen payment paid.
Every event type the webhook applies is now checked against the payment — the kind of
object, a Stripe payment, the payment and booking ids in the metadata, the currency,
the amount, a charge that succeeded and its refunds — and a mismatch is stored as
"refused: …", logged as an error, answered 200 and changes nothing.

Item 10: an event Linli cannot read (``data.object`` a list, a field of the wrong type,
a body nested 1,100 deep) is a 400 problem document and nothing is stored.

Signed events are posted to the app (the Stripe gateway pointed at the local stub) as
tests/test_stripe_webhooks.py does; tests/test_stripe_webhook_localstripe.py replays
the probe with localstripe's own objects.
"""

from __future__ import annotations

import copy
import json
import logging

import pytest
import sqlalchemy as sa

from billing import payments
from billing.gateways.stripe_gateway import StripeGateway
from billing.ledger import balance, gateway_code, is_balanced
from billing.models import LedgerTransaction
from billing.payment_models import GatewayEvent, Payment, PaymentStatus, Refund, RefundStatus
from billing.refunds import create_refund
from tests.billing_helpers import WEBHOOK_SECRET, accepted_booking, event, gateway, post_event, sign
from tests.stripe_fixtures import stripe_stub, stripe_stub_server  # noqa: F401

# The assertions read the English messages.
pytestmark = pytest.mark.usefixtures("english_messages")


@pytest.fixture
def stripe_app(app, stripe_stub):  # noqa: F811
    gw = StripeGateway(secret_key="sk_test_linli", api_base=stripe_stub.base_url)
    with gateway(app, gw, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET):
        yield app


@pytest.fixture
def paid_with_refund(stripe_app, db_session):
    """A paid 12000-fen Stripe payment with a pending 5000-fen refund sent as ``re_ours``."""
    payment = stripe_payment(db_session)
    payments.record_success(db_session, payment)
    refund = create_refund(db_session, payment, 5000)
    refund.gateway_ref = "re_ours"
    db_session.commit()
    return payment, refund


def stripe_payment(session) -> Payment:
    booking, _ = accepted_booking()
    payment = payments.live_payment(session, booking.id)
    payment.payment_intent_id = f"pi_checks_{payment.id}"
    session.commit()
    return payment


def metadata(payment: Payment) -> dict:
    return {"payment_id": str(payment.id), "booking_id": str(payment.booking_id)}


def valid_object(kind: str, payment: Payment) -> dict:
    """What Stripe sends for ``payment`` with an event of type ``kind``."""
    if kind == "checkout.session.completed":
        return {"id": f"cs_checks_{payment.id}", "object": "checkout.session", "payment_status": "paid",
                "payment_intent": payment.payment_intent_id, "amount_total": payment.amount_fen,
                "currency": "cny", "client_reference_id": str(payment.id), "metadata": metadata(payment)}
    if kind == "payment_intent.succeeded":
        return {"id": payment.payment_intent_id, "object": "payment_intent", "status": "succeeded",
                "amount": payment.amount_fen, "amount_received": payment.amount_fen, "currency": "cny",
                "metadata": metadata(payment), "last_payment_error": None}
    if kind == "payment_intent.payment_failed":
        return {"id": payment.payment_intent_id, "object": "payment_intent", "status": "requires_payment_method",
                "amount": payment.amount_fen, "amount_received": 0, "currency": "cny",
                "metadata": metadata(payment), "last_payment_error": {"message": "Your card was declined."}}
    assert kind == "charge.refunded"
    return {"id": f"ch_checks_{payment.id}", "object": "charge", "payment_intent": payment.payment_intent_id,
            "status": "succeeded", "paid": True, "amount": payment.amount_fen, "amount_refunded": 5000,
            "currency": "cny", "metadata": {},
            "refunds": {"object": "list", "data": [
                {"id": "re_ours", "object": "refund", "amount": 5000, "currency": "cny",
                 "charge": f"ch_checks_{payment.id}", "status": "succeeded", "metadata": {}}]}}


TYPES = ["checkout.session.completed", "payment_intent.succeeded", "payment_intent.payment_failed",
         "charge.refunded"]


def other_payment(session) -> Payment:
    return stripe_payment(session)


# (name, event types it applies to, change to the valid object) — each is refused.
def _set(**values):
    def change(obj, payment, session):
        obj.update(values)
    return change


def _metadata(**values):
    def change(obj, payment, session):
        obj["metadata"] = {**obj["metadata"], **values}
    return change


def _drop_metadata(key):
    def change(obj, payment, session):
        obj["metadata"].pop(key)
    return change


def _wrong_kind(obj, payment, session):
    obj["object"] = "invoice"  # found by its intent or metadata, but not what the event is about


def _offline(obj, payment, session):
    payment.gateway = "offline"
    session.commit()


def _names_another_payment(obj, payment, session):
    obj["metadata"] = {**obj["metadata"], "payment_id": str(other_payment(session).id)}


def _no_intent(obj, payment, session):
    obj.update(payment_intent=None, metadata={"payment_id": str(payment.id)})  # found by its metadata


def _refund_item(**values):
    def change(obj, payment, session):
        obj["refunds"]["data"][0].update(values)
    return change


def _refund_of_another_payment(obj, payment, session):
    other = other_payment(session)
    payments.record_success(session, other)
    theirs = create_refund(session, other, 5000)
    theirs.gateway_ref = "re_theirs"
    session.commit()
    obj["refunds"]["data"][0]["id"] = "re_theirs"


MISMATCHES = [
    ("the wrong kind of object", TYPES, _wrong_kind),
    ("an offline payment", TYPES, _offline),
    ("no payment_id in the metadata", TYPES[:3], _drop_metadata("payment_id")),
    ("another payment_id in the metadata", TYPES, _names_another_payment),
    ("another booking_id in the metadata", TYPES, _metadata(booking_id="999999")),
    ("another currency", TYPES, _set(currency="usd")),
    ("a 1-fen amount", TYPES[:1], _set(amount_total=1)),
    ("a 1-fen amount", TYPES[1:], _set(amount=1)),
    ("a 1-fen amount received", TYPES[1:2], _set(amount_received=1)),
    ("a larger amount", TYPES[1:], _set(amount=12001)),
    ("another client_reference_id", TYPES[:1], _set(client_reference_id="999999")),
    ("an intent that did not succeed", TYPES[1:2], _set(status="processing")),
    ("a charge that failed", TYPES[3:], _set(status="failed", paid=False)),
    ("a charge without an intent", TYPES[3:], _no_intent),
    ("more refunded than charged", TYPES[3:], _set(amount_refunded=12001)),
    ("a refund in another currency", TYPES[3:], _refund_item(currency="usd")),
    ("a refund of another charge", TYPES[3:], _refund_item(charge="ch_someone_else")),
    ("a refund of another amount than ours", TYPES[3:], _refund_item(amount=6000)),
    ("a refund larger than the charge", TYPES[3:], _refund_item(amount=12001)),
    ("a refund that is another payment's", TYPES[3:], _refund_of_another_payment),
]
CASES = [pytest.param(kind, change, id=f"{kind}: {name}") for name, kinds, change in MISMATCHES for kind in kinds]


def state(session) -> dict:
    """Everything an event may change: payments, refunds and the ledger."""
    session.expire_all()
    return {
        "payments": session.execute(sa.select(
            Payment.id, Payment.status, Payment.amount_fen, Payment.refunded_fen, Payment.checkout_session_id,
            Payment.payment_intent_id, Payment.failure_reason, Payment.succeeded_at).order_by(Payment.id)).all(),
        "refunds": session.execute(sa.select(Refund.id, Refund.status, Refund.gateway_ref, Refund.succeeded_at)
                                   .order_by(Refund.id)).all(),
        "ledger": session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)),
    }


def stored(session) -> list[GatewayEvent]:
    return session.scalars(sa.select(GatewayEvent).order_by(GatewayEvent.id)).all()


def subject(kind: str, session, refund_fixture) -> Payment:
    """A pending payment, or (for charge.refunded) a paid one with a refund sent."""
    if kind == "charge.refunded":
        return refund_fixture()[0]
    return stripe_payment(session)


@pytest.fixture
def make_paid_with_refund(request):
    return lambda: request.getfixturevalue("paid_with_refund")


# --- the valid events are applied (the checks refuse only what is wrong) --------------------


@pytest.mark.parametrize("kind", TYPES)
def test_the_valid_event_of_each_type_is_applied(kind, stripe_app, client, db_session, make_paid_with_refund):
    payment = subject(kind, db_session, make_paid_with_refund)
    response = post_event(client, event(f"evt_ok_{kind}", kind, valid_object(kind, payment)))
    assert response.status_code == 200
    expected = {"checkout.session.completed": "succeeded", "payment_intent.succeeded": "succeeded",
                "payment_intent.payment_failed": "failed", "charge.refunded": "refunds posted: 1"}[kind]
    assert response.json["outcome"] == expected
    assert is_balanced(db_session)


def test_a_refunded_charge_for_a_pending_payment_records_it_when_it_matches(stripe_app, client, db_session):
    payment = stripe_payment(db_session)
    charge = valid_object("charge.refunded", payment) | {"amount_refunded": 0, "refunds": {"data": []}}
    assert post_event(client, event("evt_charge_ok", "charge.refunded", charge)).json["outcome"] == "refunds posted: 0"
    assert payment.status == PaymentStatus.SUCCEEDED
    assert balance(db_session, gateway_code("stripe")) == 12000


# --- item 9: each mismatch is refused, recorded and changes nothing ------------------------


@pytest.mark.parametrize(("kind", "change"), CASES)
def test_a_mismatched_event_is_refused_recorded_and_changes_nothing(
        kind, change, stripe_app, client, db_session, make_paid_with_refund, caplog):
    payment = subject(kind, db_session, make_paid_with_refund)
    obj = valid_object(kind, payment)
    change(obj, payment, db_session)
    before = state(db_session)
    events_before = len(stored(db_session))
    with caplog.at_level(logging.ERROR):
        response = post_event(client, event("evt_mismatch", kind, obj))
    assert response.status_code == 200, response.get_data(as_text=True)
    outcome = response.json["outcome"]
    assert outcome.startswith("refused: "), outcome
    assert state(db_session) == before
    recorded = stored(db_session)
    assert len(recorded) == events_before + 1
    assert recorded[-1].event_id == "evt_mismatch" and recorded[-1].outcome == outcome
    assert any(r.levelno == logging.ERROR and "evt_mismatch" in r.getMessage() for r in caplog.records)
    # Stripe redelivers it: still nothing changes.
    again = post_event(client, event("evt_mismatch", kind, obj))
    assert again.status_code == 200 and again.json["outcome"] == "duplicate"
    assert state(db_session) == before


def test_the_probe_a_1_fen_refunded_charge_no_longer_pays_12000(stripe_app, client, db_session):
    """Payment 2 of the probe: ``charge.refunded`` of a 1-fen charge → ``succeeded 12000``."""
    payment = stripe_payment(db_session)
    charge = {"id": "ch_probe", "object": "charge", "payment_intent": "pi_probe_1fen", "amount": 1,
              "amount_refunded": 1, "currency": "cny", "status": "succeeded", "paid": True,
              "metadata": {"payment_id": str(payment.id)}, "refunds": {"data": []}}
    response = post_event(client, event("evt_probe", "charge.refunded", charge))
    assert response.status_code == 200
    assert response.json["outcome"] == "refused: amount 1 cny differs from the payment's 12000 cny"
    db_session.expire_all()
    assert payment.status == PaymentStatus.PENDING and payment.payment_intent_id == f"pi_checks_{payment.id}"
    assert balance(db_session, gateway_code("stripe")) == 0


def test_a_refused_session_records_neither_its_session_nor_its_intent(stripe_app, client, db_session):
    """checkout.session.completed used to write the session and intent ids before the amount check."""
    booking, _ = accepted_booking()
    payment = payments.live_payment(db_session, booking.id)
    obj = {"id": "cs_unpaid", "object": "checkout.session", "payment_status": "unpaid",
           "payment_intent": "pi_new", "amount_total": 1, "currency": "cny", "metadata": metadata(payment)}
    response = post_event(client, event("evt_cs_unpaid", "checkout.session.completed", obj))
    assert response.json["outcome"].startswith("refused: amount_total 1 cny")
    db_session.expire_all()
    assert payment.checkout_session_id is None and payment.payment_intent_id is None


def test_a_refused_refund_event_leaves_the_refund_pending(paid_with_refund, client, db_session):
    payment, refund = paid_with_refund
    obj = valid_object("charge.refunded", payment)
    obj["refunds"]["data"][0]["amount"] = 12000
    response = post_event(client, event("evt_refund_big", "charge.refunded", obj))
    assert response.json["outcome"] == ("refused: refund re_ours of 12000 cny differs from refund "
                                        f"{refund.id}'s 5000 cny")
    db_session.expire_all()
    assert refund.status == RefundStatus.PENDING and balance(db_session, gateway_code("stripe")) == 12000


# --- item 10: an event that cannot be read is a 400 and nothing is stored ------------------


def _list_object(body: dict) -> None:
    body["data"]["object"] = [body["data"]["object"]]


SHAPES = [
    ("data.object is a list", _list_object),
    ("data.object is a string", lambda b: b["data"].update(object="pi_x")),
    ("data is missing", lambda b: b.pop("data")),
    ("data is a list", lambda b: b.update(data=[b["data"]])),
    ("the id is missing", lambda b: b.pop("id")),
    ("the id is a number", lambda b: b.update(id=12)),
    ("the type is a list", lambda b: b.update(type=["charge.refunded"])),
    ("the amount is a string", lambda b: b["data"]["object"].update(amount="12000", amount_total="12000")),
    ("the amount is a boolean", lambda b: b["data"]["object"].update(amount=True, amount_total=True)),
    ("the currency is missing", lambda b: b["data"]["object"].pop("currency")),
    ("the currency is a number", lambda b: b["data"]["object"].update(currency=156)),
    ("the metadata is a list", lambda b: b["data"]["object"].update(metadata=[["payment_id", "1"]])),
    ("a metadata value is a number", lambda b: b["data"]["object"].update(metadata={"payment_id": 1})),
    ("the object's id is a dict", lambda b: b["data"]["object"].update(id={"id": "x"})),
]
SHAPE_CASES = [pytest.param(kind, change, id=f"{kind}: {name}") for name, change in SHAPES for kind in TYPES]


def _refunds_not_a_list(body):
    body["data"]["object"]["refunds"]["data"] = {"re_ours": {}}


def _refund_amount_text(body):
    body["data"]["object"]["refunds"]["data"][0]["amount"] = "5000"


def _refund_item_a_list(body):
    body["data"]["object"]["refunds"]["data"] = [["re_ours", 5000]]


SHAPE_CASES += [pytest.param("charge.refunded", change, id=f"charge.refunded: {name}") for name, change in [
    ("refunds.data is not a list", _refunds_not_a_list),
    ("a refund's amount is a string", _refund_amount_text),
    ("a refund is a list", _refund_item_a_list),
    ("refunds is a list", lambda b: b["data"]["object"].update(refunds=[])),
]]


def assert_unreadable(response) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["detail"].startswith(("the event cannot be read", "The JSON body"))


@pytest.mark.parametrize(("kind", "change"), SHAPE_CASES)
def test_an_event_of_the_wrong_shape_is_a_400_and_nothing_is_stored(
        kind, change, stripe_app, client, db_session, make_paid_with_refund, caplog):
    payment = subject(kind, db_session, make_paid_with_refund)
    body = json.loads(event("evt_shape", kind, valid_object(kind, payment)))
    change(body)
    before = state(db_session)
    events_before = len(stored(db_session))
    with caplog.at_level(logging.ERROR):
        response = post_event(client, json.dumps(body).encode())
    assert_unreadable(response)
    assert state(db_session) == before and len(stored(db_session)) == events_before
    assert any(r.levelno == logging.ERROR and "nothing stored" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("body", [b"[]", b'"evt"', b"12", b"null", b'[{"id": "evt_in_a_list"}]'],
                         ids=["list", "string", "number", "null", "a list of events"])
def test_a_signed_body_that_is_not_an_event_object_is_a_400(body, stripe_app, client, db_session):
    assert_unreadable(post_event(client, body))
    assert stored(db_session) == []


def test_an_unhandled_type_with_a_list_object_is_a_400_too(stripe_app, client, db_session):
    body = json.dumps({"id": "evt_other", "type": "customer.created", "data": {"object": []}}).encode()
    assert_unreadable(post_event(client, body))
    assert stored(db_session) == []


def test_a_signed_event_nested_1100_deep_is_a_400_and_nothing_is_stored(stripe_app, client, db_session):
    payment = stripe_payment(db_session)
    obj = valid_object("payment_intent.succeeded", payment)
    deep = "[" * 1100 + "]" * 1100
    body = event("evt_deep", "payment_intent.succeeded", obj).replace(b'"last_payment_error": null',
                                                                     b'"last_payment_error": ' + deep.encode())
    assert len(body) > 2200
    response = post_event(client, body)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert "nested too deeply" in response.json["detail"]
    assert stored(db_session) == [] and payment.status == PaymentStatus.PENDING


def test_an_unsigned_deep_body_is_refused_before_the_signature_is_read(stripe_app, client, db_session):
    body = b"[" * 100_000 + b"]" * 100_000
    response = post_event(client, body, "t=1,v1=00")
    assert response.status_code == 400 and "nested too deeply" in response.json["detail"]
    assert stored(db_session) == []


def test_a_body_that_is_not_json_is_a_415(stripe_app, client, db_session):
    payment = stripe_payment(db_session)
    body = event("evt_form", "payment_intent.succeeded", valid_object("payment_intent.succeeded", payment))
    response = client.post("/billing/stripe/webhook", data=body, content_type="text/plain",
                           headers={"Stripe-Signature": sign(body)})
    assert response.status_code == 415 and response.mimetype == "application/problem+json"
    assert stored(db_session) == [] and payment.status == PaymentStatus.PENDING


def test_a_deep_copy_of_a_valid_event_is_still_applied(stripe_app, client, db_session):
    """The shape checks accept what Stripe sends: an expanded intent and extra fields."""
    payment = stripe_payment(db_session)
    obj = copy.deepcopy(valid_object("checkout.session.completed", payment))
    obj["payment_intent"] = {"id": payment.payment_intent_id, "object": "payment_intent"}
    obj["customer_details"] = {"address": {"country": "CN"}, "email": None}
    response = post_event(client, event("evt_expanded", "checkout.session.completed", obj))
    assert response.json["outcome"] == "succeeded"
