"""No gateway call while a row lock is held or a transaction is open.

Every call to the payment gateway (checkout, refund, payout transfer) happens after the
commit that made its row, and its answer is recorded in a short transaction of its own.
The gateway here is a stand-in (the Gateway protocol) that, WHILE it is being called,
looks at the database from a connection of its own:

- the rows the call is about (booking, payment, refund or payout) are already committed
  (that connection sees them);
- none of them is locked: on PostgreSQL ``SELECT … FOR UPDATE NOWAIT`` on each succeeds; on
  SQLite a write transaction (``BEGIN IMMEDIATE``, no waiting) can start, so the app holds no
  write lock;
- the app's session has no transaction open.

The app runs on a database of its own (real commits: a lock held by the request would
really be held).  A gateway failure leaves the row pending; the user is told, and the
retry (the resident paying again, the refund or payout job) sends it with the same key.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.clock import FrozenClock
from app.auth.services import issue_token
from app.extensions import db
from app.scheduler import run_job
from billing import payments, settlements
from billing.gateways import CheckoutStart, GatewayError
from billing.jobs import send_payouts, submit_refunds
from billing.payment_models import PayAt, Payment, PaymentPolicy, PaymentStatus, Payout, PayoutAccount, PayoutStatus, Refund
from providers.bookings.jobs import expire_requests
from providers.bookings.models import Booking, BookingStatus
from tests import factories
from tests.billing_helpers import accepted_booking
from tests.conftest import PASSWORD, START, scratch_database
from tests.test_settlements import NOVEMBER, completed_booking, to_december

pytestmark = [pytest.mark.no_db_session]


class LockProbe:
    """A gateway (the :class:`billing.gateways.Gateway` protocol) that checks, while it is
    called, that what the call is about is committed and not locked; ``down`` makes it fail."""

    name = "stripe"

    def __init__(self, app):
        self.app = app
        self.url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        self.down = False
        self.calls: list[tuple[str, str]] = []  # (method, idempotency key or payment id)
        self.findings: list[str] = []  # anything held or missing while a call was made

    # --- the protocol ---------------------------------------------------------------------
    def start_checkout(self, *, payment_id, booking_id, amount_fen, currency, description, success_url,
                       cancel_url):
        self._look("start_checkout", f"checkout:{payment_id}", booking=booking_id, payment=payment_id)
        return CheckoutStart(redirect_url=f"https://checkout.example/c/pay/cs_probe_{payment_id}",
                             checkout_session_id=f"cs_probe_{payment_id}")

    def refund(self, *, payment_intent_id, amount_fen, idempotency_key):
        refund_id = int(idempotency_key.split(":")[1])
        payment_id, booking_id = self._row("SELECT refund.payment_id, payment.booking_id FROM refund "
                                           "JOIN payment ON payment.id = refund.payment_id "
                                           "WHERE refund.id = :id", refund_id) or (None, None)
        self._look("refund", idempotency_key, refund=refund_id, payment=payment_id, booking=booking_id)
        return f"re_probe_{refund_id}"

    def refund_status(self, ref):
        return "succeeded"

    def transfer(self, *, amount_fen, currency, destination, idempotency_key, description):
        payout_id = int(idempotency_key.split(":")[1])
        self._look("transfer", idempotency_key, payout=payout_id)
        return f"tr_probe_{payout_id}"

    # --- the look from outside ------------------------------------------------------------
    def _look(self, method: str, key: str, **rows) -> None:
        self.calls.append((method, key))
        if db.session().in_transaction():
            self.findings.append(f"{method}: the app's session has a transaction open")
        for table, row_id in rows.items():
            if row_id is None or self._row(f"SELECT id FROM {table} WHERE id = :id", row_id) is None:
                self.findings.append(f"{method}: {table} {row_id} is not committed")
        self.findings.extend(f"{method}: {held}" for held in self._held(rows))
        if self.down:
            raise GatewayError("the probe gateway is down")

    def _row(self, sql: str, row_id: int):
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text(sql), {"id": row_id}).first()
        finally:
            engine.dispose()

    def _held(self, rows: dict) -> list[str]:
        if self.url.get_backend_name() == "sqlite":
            conn = sqlite3.connect(self.url.database, timeout=0, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
                return []
            except sqlite3.OperationalError as error:
                return [f"the database's write lock is held ({error})"]
            finally:
                conn.close()
        held = []
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                for table, row_id in rows.items():
                    if row_id is None:
                        continue
                    try:
                        conn.execute(sa.text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE NOWAIT"),
                                     {"id": row_id})
                    except sa.exc.OperationalError:
                        held.append(f"{table} {row_id} is locked")
                    conn.rollback()
        finally:
            engine.dispose()
        return held


@pytest.fixture(scope="module")
def probe_app(tmp_path_factory):
    app = create_app({
        "TESTING": True, "WTF_CSRF_ENABLED": False, "SERVER_NAME": None,
        "SQLALCHEMY_DATABASE_URI": scratch_database(tmp_path_factory, "gwlocks"),
        "UPLOAD_DIR": str(tmp_path_factory.mktemp("gwlocks-uploads")),
        "SECRET_KEY": "gwlocks-test-secret-key-long-enough-12345",
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 1024, "ARGON2_PARALLELISM": 1,
        "CLOCK": FrozenClock(START), "CATALOGUE_CACHE_SECONDS": 0,
    })
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def probe(probe_app):
    previous = probe_app.extensions["linli.gateway"]
    gateway = probe_app.extensions["linli.gateway"] = LockProbe(probe_app)
    probe_app.extensions["linli.clock"].set(START)
    yield gateway
    probe_app.extensions["linli.gateway"] = previous


def login(app, user):
    client = app.test_client()
    client.set_cookie("linli_lang", "en")
    response = client.post("/login", data={"phone": user.phone, "password": PASSWORD})
    assert response.status_code == 302
    return client


def paid_booking(app):
    """An accepted booking paid through the (probe) gateway; returns (booking id, resident)."""
    with app.app_context():
        booking, _staff = accepted_booking()
        payment = payments.live_payment(db.session, booking.id)
        assert payment.gateway == "stripe"
        payments.record_success(db.session, payment, payment_intent_id=f"pi_probe_{payment.id}")
        db.session.commit()
        resident = booking.resident
        return booking.id, resident


def refund_of(app, booking_id) -> tuple[str, str | None, int]:
    with app.app_context():
        refund = db.session.scalar(sa.select(Refund).join(Payment).where(Payment.booking_id == booking_id))
        return refund.status.value, refund.gateway_ref, refund.id


def test_paying_commits_the_payment_then_opens_the_checkout_with_nothing_locked(probe_app, probe):
    with probe_app.app_context():
        booking = factories.booking()  # requested; paid at acceptance, so no payment yet
        booking_id, resident = booking.id, booking.resident
        assert payments.live_payment(db.session, booking_id) is None
    client = login(probe_app, resident)

    response = client.post(f"/bookings/{booking_id}/pay")

    assert response.status_code == 303
    assert [method for method, _ in probe.calls] == ["start_checkout"]
    assert probe.findings == []  # the new payment row was committed and nothing was locked
    with probe_app.app_context():
        payment = payments.live_payment(db.session, booking_id)
        assert response.headers["Location"].endswith(f"cs_probe_{payment.id}")
        assert payment.checkout_session_id == f"cs_probe_{payment.id}"  # recorded after the call
        assert payment.status == PaymentStatus.PENDING  # paid only from the webhook


def test_a_gateway_failure_at_checkout_keeps_the_payment_and_says_nothing_was_charged(probe_app, probe):
    with probe_app.app_context():
        booking = factories.booking()
        booking_id, resident = booking.id, booking.resident
    client = login(probe_app, resident)
    probe.down = True

    failed = client.post(f"/bookings/{booking_id}/pay")

    assert failed.status_code == 502
    assert "Nothing was charged" in failed.get_data(as_text=True)
    with probe_app.app_context():
        payment = payments.live_payment(db.session, booking_id)
        assert payment.status == PaymentStatus.PENDING and payment.checkout_session_id is None
        payment_id = payment.id
    probe.down = False
    again = client.post(f"/bookings/{booking_id}/pay")
    assert again.status_code == 303
    # The same payment, so the same idempotency key: the gateway's retry, not a second checkout.
    assert probe.calls == [("start_checkout", f"checkout:{payment_id}")] * 2
    assert probe.findings == []


def test_a_cancellation_commits_its_refund_then_sends_it_with_the_booking_unlocked(probe_app, probe):
    booking_id, resident = paid_booking(probe_app)
    client = login(probe_app, resident)

    response = client.post(f"/bookings/{booking_id}/cancel", data={"reason": "plans changed"})

    assert response.status_code == 302
    status, ref, refund_id = refund_of(probe_app, booking_id)
    assert probe.calls == [("refund", f"refund:{refund_id}")]
    assert probe.findings == []  # booking, payment and refund committed and unlocked during the call
    assert (status, ref) == ("succeeded", f"re_probe_{refund_id}")  # the answer, recorded after it


def test_an_api_cancellation_sends_its_refund_after_the_commit_too(probe_app, probe):
    booking_id, resident = paid_booking(probe_app)
    with probe_app.app_context():
        _, raw = issue_token(db.session, db.session.get(type(resident), resident.id), "probe")
        db.session.commit()
    client = probe_app.test_client()

    response = client.post(f"/api/v1/bookings/{booking_id}/actions/cancel", json={},
                           headers={"Authorization": f"Bearer {raw}"})

    assert response.status_code == 200, response.get_data(as_text=True)
    status, ref, refund_id = refund_of(probe_app, booking_id)
    assert probe.calls == [("refund", f"refund:{refund_id}")]
    assert probe.findings == []
    assert (status, ref) == ("succeeded", f"re_probe_{refund_id}")


def test_a_refund_made_by_a_scheduler_job_is_sent_after_that_job_commits(probe_app, probe):
    clock = probe_app.extensions["linli.clock"]
    with probe_app.app_context():
        listing = factories.listing()
        db.session.add(PaymentPolicy(listing_id=listing.id, pay_at=PayAt.BOOKING, late_cancel_fee_percent=20))
        db.session.commit()
        booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=3))
        payment = payments.live_payment(db.session, booking.id)
        payments.record_success(db.session, payment, payment_intent_id=f"pi_probe_{payment.id}")
        db.session.commit()
        booking_id, respond_by = booking.id, booking.respond_by
    clock.set(respond_by + timedelta(minutes=1))

    assert run_job(probe_app, expire_requests) >= 1  # (with the other tests' unanswered requests)

    with probe_app.app_context():
        assert db.session.get(Booking, booking_id).status == BookingStatus.EXPIRED
    status, ref, refund_id = refund_of(probe_app, booking_id)
    assert probe.calls == [("refund", f"refund:{refund_id}")]
    assert probe.findings == []
    assert (status, ref) == ("succeeded", f"re_probe_{refund_id}")


def test_a_refund_the_gateway_refused_stays_pending_and_the_job_sends_it(probe_app, probe):
    booking_id, resident = paid_booking(probe_app)
    client = login(probe_app, resident)
    probe.down = True

    response = client.post(f"/bookings/{booking_id}/cancel", data={"reason": "plans changed"})

    assert response.status_code == 302  # the cancellation stands
    page = client.get(f"/bookings/{booking_id}").get_data(as_text=True)
    assert "Your booking is cancelled." in page
    assert "Refund on its way" in page  # not yet "refunded" as if it were done
    status, ref, refund_id = refund_of(probe_app, booking_id)
    assert (status, ref) == ("pending", None)
    probe.down = False
    assert run_job(probe_app, submit_refunds) == 1
    assert probe.calls == [("refund", f"refund:{refund_id}")] * 2
    assert probe.findings == []
    assert refund_of(probe_app, booking_id)[:2] == ("succeeded", f"re_probe_{refund_id}")
    assert run_job(probe_app, submit_refunds) == 0


def test_the_payout_job_calls_the_gateway_with_the_payout_unlocked(probe_app, probe):
    clock = probe_app.extensions["linli.clock"]
    with probe_app.app_context():
        provider = factories.provider()
        staff = factories.staff(provider)
        db.session.add(PayoutAccount(provider_id=provider.id, stripe_account_id="acct_probe"))
        db.session.commit()
        completed_booking(clock, factories.listing(provider, price_fen=12000), staff, pay="gateway")
        to_december(clock)
        settlement = settlements.settle(db.session, provider.id, NOVEMBER)
        db.session.commit()
        payout_id = db.session.scalar(sa.select(Payout.id).where(Payout.settlement_id == settlement.id))
    probe.down = True
    assert run_job(probe_app, send_payouts) == 0
    with probe_app.app_context():
        payout = db.session.get(Payout, payout_id)
        assert (payout.status, payout.attempts) == (PayoutStatus.FAILED, 1) and payout.last_error
    probe.down = False

    assert run_job(probe_app, send_payouts) == 1

    assert probe.calls == [("transfer", f"payout:{payout_id}")] * 2
    assert probe.findings == []
    with probe_app.app_context():
        payout = db.session.get(Payout, payout_id)
        assert (payout.status, payout.gateway_ref, payout.attempts) == (PayoutStatus.PAID, f"tr_probe_{payout_id}", 2)


def test_the_probe_notices_a_lock_held_during_a_call(probe_app, probe):
    """Calling the gateway the old way — inside the transaction that locked the booking — is
    caught by the probe on both databases."""
    with probe_app.app_context():
        booking = factories.booking()
        locked = db.session.scalar(sa.select(Booking).where(Booking.id == booking.id).with_for_update())
        locked.note = "written under the lock"
        db.session.flush()
        probe.start_checkout(payment_id=0, booking_id=booking.id, amount_fen=1, currency="cny",
                             description="x", success_url="x", cancel_url="x")
        db.session.rollback()
    assert "start_checkout: the app's session has a transaction open" in probe.findings
    held = [f for f in probe.findings if "locked" in f or "write lock" in f]
    assert held, probe.findings
