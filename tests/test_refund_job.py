"""The scheduler job that submits pending gateway refunds (billing.jobs.submit_refunds).

Refunds created outside a request (a scheduler job expiring a paid request) or whose
submission failed stay pending until this job sends them, each with its key
``refund:<id>``.  Run against localstripe (a real Refund API: it keeps every refund it
creates, so "one refund at Stripe" is read from its refund list).  localstripe ignores
idempotency keys, so these tests show that OUR side sends a refund once; Stripe's key
handling is the second line.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
import stripe

from app.extensions import db
from app.scheduler import build_scheduler, registered_jobs
from billing import payments
from billing.gateways.stripe_gateway import StripeGateway
from billing.jobs import REFUND_BATCH, submit_refunds
from billing.ledger import balance, gateway_code, is_balanced
from billing.payment_models import PayAt, Payment, PaymentPolicy, PaymentStatus, Refund, RefundStatus
from providers.bookings.jobs import expire_requests
from providers.bookings.models import BookingStatus
from tests import factories
from tests.billing_helpers import WEBHOOK_SECRET, gateway, provider_and_staff
from tests.conftest import on_postgres
from tests.stripe_fixtures import localstripe, localstripe_app  # noqa: F401

DEAD = "http://127.0.0.1:9"  # nobody listens on port 9


def localstripe_gateway(base: str) -> StripeGateway:
    return StripeGateway(secret_key="sk_test_linli", api_base=base)


def dead_gateway() -> StripeGateway:
    gw = StripeGateway(secret_key="sk_test_linli", api_base=DEAD)
    gw.client = stripe.StripeClient("sk_test_linli", base_addresses={"api": DEAD}, max_network_retries=0)
    return gw


def paid_intent(gw: StripeGateway, amount: int = 12000) -> str:
    """A succeeded payment intent at localstripe (what a completed Checkout leaves behind)."""
    intent = gw.client.v1.payment_intents.create(params={
        "amount": amount, "currency": "cny", "payment_method": "pm_card_visa", "confirm": True})
    assert intent.status == "succeeded"
    return intent.id


def remote_refunds(gw: StripeGateway, intent_id: str) -> list:
    return list(gw.client.v1.refunds.list(params={"payment_intent": intent_id}).data)


def expired_paid_request(session, gw: StripeGateway, clock):
    """A request on a pay-at-booking listing, paid through Stripe, then expired by the
    scheduler's job: its full refund is created outside any request."""
    provider, _ = provider_and_staff()
    listing = factories.listing(provider)
    session.add(PaymentPolicy(listing_id=listing.id, pay_at=PayAt.BOOKING, late_cancel_fee_percent=20))
    session.commit()
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=3))
    payment = payments.live_payment(session, booking.id)
    assert payment is not None and payment.gateway == "stripe"
    payments.record_success(session, payment, payment_intent_id=paid_intent(gw))
    session.commit()
    clock.set(booking.respond_by + timedelta(minutes=1))
    assert expire_requests(session) == 1
    session.commit()
    assert booking.status == BookingStatus.EXPIRED
    [refund] = payment.refunds
    assert refund.status == RefundStatus.PENDING and refund.gateway_ref is None
    return booking, payment, refund


def test_the_job_is_registered_every_few_minutes(app):
    assert submit_refunds in [job for job, _ in registered_jobs()]
    [job] = [j for j in build_scheduler(app).get_jobs() if j.id == "submit_refunds"]
    assert job.trigger.interval == timedelta(minutes=5) and job.max_instances == 1


def test_job_submits_a_refund_created_by_another_job(app, db_session, clock, localstripe):  # noqa: F811
    gw = localstripe_gateway(localstripe)
    with gateway(app, gw, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET):
        _, payment, refund = expired_paid_request(db_session, gw, clock)
        assert submit_refunds(db_session) == 1
    assert refund.status == RefundStatus.SUCCEEDED and refund.gateway_ref.startswith("re_")
    [remote] = remote_refunds(gw, payment.payment_intent_id)
    assert remote.id == refund.gateway_ref and remote.amount == 12000 == refund.amount_fen
    assert payment.refunded_fen == 12000
    assert balance(db_session, gateway_code("stripe")) == 0 and is_balanced(db_session)


def test_running_twice_sends_one_refund(app, db_session, clock, localstripe):  # noqa: F811
    gw = localstripe_gateway(localstripe)
    with gateway(app, gw, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET):
        _, payment, refund = expired_paid_request(db_session, gw, clock)
        assert submit_refunds(db_session) == 1
        assert submit_refunds(db_session) == 0
    assert len(remote_refunds(gw, payment.payment_intent_id)) == 1
    assert balance(db_session, gateway_code("stripe")) == 0 and is_balanced(db_session)


def test_gateway_down_leaves_it_pending_and_the_next_run_sends_it(app, db_session, clock, localstripe,  # noqa: F811
                                                                   caplog):
    gw = localstripe_gateway(localstripe)
    with gateway(app, gw, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET):
        _, payment, refund = expired_paid_request(db_session, gw, clock)
    with gateway(app, dead_gateway()), caplog.at_level(logging.WARNING):
        assert submit_refunds(db_session) == 0
    assert f"refund {refund.id} not submitted" in caplog.text
    db_session.refresh(refund)
    assert refund.status == RefundStatus.PENDING and refund.gateway_ref is None
    assert remote_refunds(gw, payment.payment_intent_id) == []
    assert balance(db_session, gateway_code("stripe")) == 12000  # nothing posted yet
    with gateway(app, gw):
        assert submit_refunds(db_session) == 1
    assert refund.status == RefundStatus.SUCCEEDED
    [remote] = remote_refunds(gw, payment.payment_intent_id)
    assert remote.id == refund.gateway_ref
    assert balance(db_session, gateway_code("stripe")) == 0 and is_balanced(db_session)


def test_one_refusal_does_not_stop_the_others(app, db_session, clock, localstripe):  # noqa: F811
    gw = localstripe_gateway(localstripe)
    with gateway(app, gw, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET):
        _, broken_payment, broken = expired_paid_request(db_session, gw, clock)
        broken_payment.payment_intent_id = "pi_unknown_at_stripe"
        db_session.commit()
        _, payment, refund = expired_paid_request(db_session, gw, clock)
        assert submit_refunds(db_session) == 1
    assert broken.status == RefundStatus.PENDING and broken.gateway_ref is None
    assert refund.status == RefundStatus.SUCCEEDED


def test_a_run_takes_a_bounded_batch_oldest_first(app, db_session, monkeypatch):
    sent: list[int] = []

    class Recorder:
        name = "stripe"

        def refund(self, *, payment_intent_id, amount_fen, idempotency_key):
            sent.append(idempotency_key)
            return f"re_fake_{len(sent)}"

        def refund_status(self, ref):
            return "pending"

    ids = []
    for n in range(3):
        payment = Payment(booking_id=factories.booking().id, gateway="stripe", amount_fen=100, currency="cny",
                          status=PaymentStatus.SUCCEEDED, refunded_fen=100, payment_intent_id=f"pi_batch_{n}")
        db_session.add(payment)
        db_session.flush()
        refund = Refund(payment_id=payment.id, amount_fen=100, idempotency_key=f"pending:batch{n}")
        db_session.add(refund)
        db_session.flush()
        refund.idempotency_key = f"refund:{refund.id}"
        ids.append(refund.id)
    db_session.commit()
    monkeypatch.setattr("billing.jobs.REFUND_BATCH", 2)
    with gateway(app, Recorder()):
        assert submit_refunds(db_session) == 2
        assert sent == [f"refund:{ids[0]}", f"refund:{ids[1]}"]
        assert submit_refunds(db_session) == 1  # the third; the first two are sent (pending at Stripe)
    assert sent[2] == f"refund:{ids[2]}" and len(sent) == 3
    assert REFUND_BATCH >= 10


# --- concurrent runs: real commits in a database of their own ----------------------


@pytest.fixture(scope="module")
def refunds_app(tmp_path_factory, localstripe):  # noqa: F811
    app = localstripe_app(tmp_path_factory, localstripe, "refunds")
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.no_db_session
@pytest.mark.skipif(not on_postgres(), reason="row locks (SKIP LOCKED) are PostgreSQL's; SQLite relies on "
                    "Stripe's idempotency keys, which localstripe does not implement")
def test_concurrent_runs_send_each_refund_once(refunds_app):
    app = refunds_app
    gw = app.extensions["linli.gateway"]
    with app.app_context():
        clock = app.extensions["linli.clock"]
        _, payment, refund = expired_paid_request(db.session, gw, clock)
        intent_id, refund_id = payment.payment_intent_id, refund.id
        db.session.remove()

    inside, other_done = threading.Event(), threading.Event()
    real_refund = gw.refund
    calls: list[str] = []

    def slow_refund(**kwargs):
        calls.append(kwargs["idempotency_key"])
        inside.set()  # the first run holds the refund's row lock now
        assert other_done.wait(10)
        return real_refund(**kwargs)

    results: dict[str, int] = {}

    def run(name: str) -> None:
        with app.app_context():
            try:
                results[name] = submit_refunds(db.session)
            finally:
                db.session.remove()

    gw.refund = slow_refund
    try:
        first = threading.Thread(target=run, args=("first",))
        first.start()
        assert inside.wait(10)
        run("second")  # meanwhile: skips the locked refund
        other_done.set()
        first.join(20)
    finally:
        gw.refund = real_refund
    assert results == {"first": 1, "second": 0}
    assert calls == [f"refund:{refund_id}"]
    assert len(remote_refunds(gw, intent_id)) == 1
    with app.app_context():
        stored = db.session.get(Refund, refund_id)
        assert stored.status == RefundStatus.SUCCEEDED
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 1
