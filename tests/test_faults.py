"""The database goes away in the middle of the work: each piece of work ends whole or not at all.

PostgreSQL only: the backend serving the app's connection is terminated
(``pg_terminate_backend``) at a chosen statement or just before a COMMIT
(tests/fault_helpers.py), in an app on a database of its own
(``<test db>_fault``) that really commits.  For a booking (page and API), a
Stripe webhook, the monthly settlement and an evaluation run:

- the caller gets a clean answer (503, a page or a JSON problem; a CLI exits
  non-zero) and nothing half-written is left;
- the retry, on the same app and connection pool, completes the work exactly once;
- a webhook sent while the database refuses connections gets a 503, so the
  gateway redelivers it, and the redelivery is applied once.

Not tested (not deterministic from here): a COMMIT that the server applies but whose
acknowledgement is lost.  The booking views answer from what they read before the
commit, so only that moment remains in which a made booking can be answered 503.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from app.clock import local
from app.extensions import db
from app.scheduler import run_job
from billing.gateways.stripe_gateway import StripeGateway
from billing.jobs import send_payouts, settle_previous_month
from billing.settlements import Period
from providers.bookings.forms import slot_value
from tests.billing_helpers import WEBHOOK_SECRET, gateway, post_event
from tests.conftest import START, on_postgres
from tests.fault_arrangements import (NO_BOOKING, ONE_BOOKING, booking_rows, booking_shop, logged_in, payment_state,
                                      run_state, settlement_state, stripe_earnings, stripe_payment, succeeded,
                                      supervised_providers, transfers)
from tests.fault_helpers import KillPoint, database_down, fault_app, killer_for
from tests.stripe_fixtures import stripe_stub, stripe_stub_server  # noqa: F401
from tests.forms import open_page

pytestmark = [
    pytest.mark.no_db_session,
    pytest.mark.postgres_only,
    pytest.mark.skipif(not on_postgres(), reason="fault tests kill PostgreSQL backends (pg_terminate_backend); "
                                                 "run with LINLI_TEST_ON_POSTGRES=1 and TEST_DATABASE_URL"),
]


@pytest.fixture(scope="module")
def fapp(tmp_path_factory):
    app = fault_app(tmp_path_factory, "fault", STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def clock(fapp):
    """The app's clock, at START for each test.  Tests arrange and read in app contexts of
    their own (``with fapp.app_context()``), never around a request: each request has its
    own context and session, as in production."""
    clock = fapp.extensions["linli.clock"]
    clock.set(START)
    yield clock
    clock.set(START)


@pytest.fixture
def killer(fapp):
    with killer_for(fapp) as k:
        yield k


@pytest.fixture
def stripe_app(fapp, stripe_stub):  # noqa: F811
    with gateway(fapp, StripeGateway(secret_key="sk_test_linli", api_base=stripe_stub.base_url)):
        yield fapp


# --- a) a booking, through the page and through the API -------------------------------------

BOOKING_KILLS = [
    KillPoint("loading the resident", "SELECT user_account"),
    KillPoint("claiming the slot row", "INSERT INTO booking_slot"),
    KillPoint("taking a place", "UPDATE booking_slot"),
    KillPoint("writing the booking", "INSERT INTO booking ("),
    KillPoint("writing its history", "INSERT INTO booking_event"),
    KillPoint("creating the payment", "INSERT INTO payment"),
    KillPoint("notifying the provider", "INSERT INTO notification"),
    KillPoint("just before the commit", "COMMIT", after="INSERT INTO booking ("),
]


def book_page(page, starts):
    """Book with the booking page's form (opened before any kill is armed, as the resident
    had it open; the retry presses the button on the same page again)."""
    return page.submit(fields={"starts_at": slot_value(starts), "address": "3号楼"})


def book_api(client, listing_id, starts, token):
    return client.post("/api/v1/bookings", json={"listing_id": listing_id, "starts_at": starts.isoformat(),
                                                 "address": "3号楼"}, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("point", BOOKING_KILLS, ids=str)
def test_a_booking_page_killed_midway_is_a_503_writes_nothing_and_the_retry_books_once(fapp, clock, killer, point):
    listing_id, phone, starts = booking_shop(fapp)
    client = logged_in(fapp, phone)
    page = open_page(client, f"/listings/{listing_id}/book?day={local(starts).date().isoformat()}")  # its day's times

    with killer.armed(point):
        response = book_page(page, starts)
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert response.headers["Retry-After"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert booking_rows(fapp, listing_id) == NO_BOOKING

    retry = book_page(page, starts)
    assert retry.status_code == 302 and "/bookings/" in retry.headers["Location"]
    assert booking_rows(fapp, listing_id) == ONE_BOOKING
    assert client.get(retry.headers["Location"]).status_code == 200


API_BOOKING_KILLS = [
    KillPoint("recording the token's use", "UPDATE api_token"),
    KillPoint("writing the booking", "INSERT INTO booking ("),
    KillPoint("creating the payment", "INSERT INTO payment"),
    KillPoint("just before the booking's commit", "COMMIT", after="INSERT INTO booking ("),
]


@pytest.mark.parametrize("point", API_BOOKING_KILLS, ids=str)
def test_an_api_booking_killed_midway_is_a_503_problem_and_the_retry_books_once(fapp, clock, killer, point):
    listing_id, token, starts = booking_shop(fapp, token=True)
    client = fapp.test_client()

    with killer.armed(point):
        response = book_api(client, listing_id, starts, token)
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 503 and response.headers["Retry-After"]
    assert booking_rows(fapp, listing_id) == NO_BOOKING

    retry = book_api(client, listing_id, starts, token)
    assert retry.status_code == 201, retry.get_data(as_text=True)
    assert booking_rows(fapp, listing_id) == ONE_BOOKING


AFTER_COMMIT = KillPoint("the database gone right after the commit", "COMMIT", down_after=True,
                         after="INSERT INTO booking (")


def test_a_booking_page_committed_just_before_the_database_goes_is_answered_as_made(fapp, clock, killer):
    """Nothing after the commit needs the database: the resident is told the booking is
    made (not a 503 that would invite a second booking), and it is there once."""
    listing_id, phone, starts = booking_shop(fapp)
    client = logged_in(fapp, phone)
    page = open_page(client, f"/listings/{listing_id}/book?day={local(starts).date().isoformat()}")  # its day's times
    with killer.armed(AFTER_COMMIT):
        response = book_page(page, starts)
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        assert client.get("/bookings").status_code == 503  # the database is really gone
    assert booking_rows(fapp, listing_id) == ONE_BOOKING
    assert client.get(response.headers["Location"]).status_code == 200


def test_an_api_booking_committed_just_before_the_database_goes_is_answered_201(fapp, clock, killer):
    listing_id, token, starts = booking_shop(fapp, token=True)
    with killer.armed(AFTER_COMMIT):
        response = book_api(fapp.test_client(), listing_id, starts, token)
        assert response.status_code == 201, response.get_data(as_text=True)[:300]
    assert response.get_json()["status"] == "requested"
    assert booking_rows(fapp, listing_id) == ONE_BOOKING


# --- b) a Stripe webhook ------------------------------------------------------------------------


WEBHOOK_KILLS = [
    KillPoint("checking for a replay", "SELECT gateway_event.id"),
    KillPoint("storing the event", "INSERT INTO gateway_event"),
    KillPoint("marking the payment paid", "UPDATE payment"),
    KillPoint("posting the ledger transaction", "INSERT INTO ledger_transaction"),
    KillPoint("between the two ledger entries", "INSERT INTO ledger_entry", nth=2),
    KillPoint("recording the outcome", "UPDATE gateway_event"),
    KillPoint("just before the commit", "COMMIT", after="UPDATE gateway_event"),
]


@pytest.mark.parametrize("point", WEBHOOK_KILLS, ids=str)
def test_a_webhook_killed_midway_is_a_503_applies_nothing_and_is_applied_once_redelivered(
        stripe_app, clock, killer, point):
    payment_id, intent = stripe_payment(stripe_app)
    client = stripe_app.test_client()
    body = succeeded(f"evt_kill_{payment_id}", payment_id, intent)

    with killer.armed(point):
        response = post_event(client, body)
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert payment_state(stripe_app, payment_id, f"evt_kill_{payment_id}") == ("pending", 0, 0, [])

    redelivered = post_event(client, body)
    assert (redelivered.status_code, redelivered.get_json()["outcome"]) == (200, "succeeded")
    assert payment_state(stripe_app, payment_id, f"evt_kill_{payment_id}") == ("succeeded", 1, 1, [])
    again = post_event(client, body)
    assert (again.status_code, again.get_json()["outcome"]) == (200, "duplicate")
    assert payment_state(stripe_app, payment_id, f"evt_kill_{payment_id}") == ("succeeded", 1, 1, [])


def test_a_webhook_applied_just_before_the_database_goes_is_a_duplicate_when_redelivered(stripe_app, clock, killer):
    payment_id, intent = stripe_payment(stripe_app)
    client = stripe_app.test_client()
    body = succeeded(f"evt_after_{payment_id}", payment_id, intent)
    with killer.armed(KillPoint("the database gone right after the commit", "COMMIT", down_after=True,
                                after="UPDATE gateway_event")):
        response = post_event(client, body)
    assert response.status_code in (200, 503)  # applied; whether the answer got out is the gateway's worry
    redelivered = post_event(client, body)
    assert (redelivered.status_code, redelivered.get_json()["outcome"]) == (200, "duplicate")
    assert payment_state(stripe_app, payment_id, f"evt_after_{payment_id}") == ("succeeded", 1, 1, [])


# --- e) a webhook while the database is down -----------------------------------------------------


def test_a_webhook_while_the_database_is_down_is_a_503_and_applied_once_when_it_is_back(stripe_app, clock):
    payment_id, intent = stripe_payment(stripe_app)
    client = stripe_app.test_client()
    body = succeeded(f"evt_down_{payment_id}", payment_id, intent)
    _listing, phone, _starts = booking_shop(stripe_app)
    resident = logged_in(stripe_app, phone)

    with database_down(stripe_app):
        response = post_event(client, body)
        assert response.status_code == 503 and response.mimetype == "application/problem+json"
        assert response.get_json()["title"] == "Service Unavailable" and response.headers["Retry-After"]
        assert post_event(client, body).status_code == 503  # the gateway's early retries fail too
        # The rest of the site says so too: pages rendered without the database (the
        # resident, who cannot be loaded, sees the page as a visitor), problems under /api/.
        for who, path in ((client, "/catalogue"), (resident, "/bookings")):
            page = who.get(path)
            assert page.status_code == 503 and page.mimetype == "text/html", path
            assert "Traceback" not in page.get_data(as_text=True)
        assert client.get("/api/v1/listings/1/slots").status_code == 503
        assert client.get("/healthz").status_code == 503
    assert payment_state(stripe_app, payment_id, f"evt_down_{payment_id}") == ("pending", 0, 0, [])

    redelivered = post_event(client, body)  # the pool's dead connections are replaced unseen
    assert (redelivered.status_code, redelivered.get_json()["outcome"]) == (200, "succeeded")
    assert (post_event(client, body).get_json()["outcome"]) == "duplicate"
    assert payment_state(stripe_app, payment_id, f"evt_down_{payment_id}") == ("succeeded", 1, 1, [])


# --- c) the monthly settlement ------------------------------------------------------------------
# `flask settle` settles each provider in a transaction of its own and commits it, then sends
# each Stripe payout and commits it on its own (billing/jobs.py).  Three providers, each owed
# 114 yuan.  Each case: where the connection dies, each provider's state after the kill, and
# (payouts) how many transfers were paid and sent by then.

ABSENT, SETTLED, PAID = "absent", "settled", "paid"
SETTLEMENT_KILLS = [
    (KillPoint("choosing the providers", "SELECT booking.provider_id"), [ABSENT] * 3, {}),
    (KillPoint("claiming the first provider's month", "INSERT INTO settlement ("), [ABSENT] * 3, {}),
    (KillPoint("just before the first provider's commit", "COMMIT"), [ABSENT] * 3, {}),
    (KillPoint("the second provider's line", "INSERT INTO settlement_line", nth=2), [SETTLED, ABSENT, ABSENT], {}),
    (KillPoint("between the second fee transaction's two entries", "INSERT INTO ledger_entry", nth=4),
     [SETTLED, ABSENT, ABSENT], {}),
    (KillPoint("the last payout row", "INSERT INTO payout ", nth=3), [SETTLED, SETTLED, ABSENT], {}),
    # After the three settlements' commits: the first payout is sent and committed; the
    # second is sent to Stripe, then its connection dies before it is recorded.
    (KillPoint("recording the second payout", "UPDATE payout", nth=2), [PAID, SETTLED, SETTLED],
     {"paid": 1, "sent": 2}),
    (KillPoint("just before the second payout's commit", "COMMIT", nth=5), [PAID, SETTLED, SETTLED],
     {"paid": 1, "sent": 2}),
]


def month(index: int) -> Period:
    """A month of its own for each test (December 2026 onwards), so their settlements never meet."""
    period = Period(2026, 12)
    for _ in range(index):
        period = period.next()
    return period


@pytest.mark.parametrize("index", range(len(SETTLEMENT_KILLS)), ids=[str(p) for p, _, _ in SETTLEMENT_KILLS])
def test_a_settlement_killed_midway_leaves_each_provider_whole_and_the_rerun_finishes_once(
        stripe_app, clock, killer, stripe_stub, index):  # noqa: F811
    point, after_kill, left = SETTLEMENT_KILLS[index]
    period = month(index)
    providers = stripe_earnings(stripe_app, clock, period)
    runner = stripe_app.test_cli_runner()

    with killer.armed(point):
        result = runner.invoke(args=["settle", "--period", period.key])
    assert result.exit_code != 0 and isinstance(result.exception, OperationalError)
    # Providers settled before the kill are whole; the one being settled left nothing.
    assert list(settlement_state(stripe_app, providers, period).values()) == after_kill
    assert transfers(stripe_stub) == left.get("sent", 0)

    rerun = runner.invoke(args=["settle", "--period", period.key])
    assert rerun.exit_code == 0, rerun.output
    assert f"{after_kill.count(ABSENT)} provider(s) settled now" in rerun.output  # only the rest
    assert set(settlement_state(stripe_app, providers, period).values()) == {"paid"}
    # A payout sent before the kill is sent again with the same idempotency key: paid once.
    assert transfers(stripe_stub) == 3
    assert len(stripe_stub.requests_to("/v1/transfers")) == 3 + (left.get("sent", 0) - left.get("paid", 0))
    again = runner.invoke(args=["settle", "--period", period.key])
    assert again.exit_code == 0 and "Nothing new to settle" in again.output
    assert set(settlement_state(stripe_app, providers, period).values()) == {"paid"}
    assert transfers(stripe_stub) == 3


def test_the_scheduled_settlement_and_payout_jobs_killed_midway_finish_once_on_their_next_run(
        stripe_app, clock, killer, stripe_stub):  # noqa: F811
    period = month(len(SETTLEMENT_KILLS))
    providers = stripe_earnings(stripe_app, clock, period)

    with killer.armed(KillPoint("the second provider's settlement", "INSERT INTO settlement (", nth=2)):
        with pytest.raises(OperationalError):
            run_job(stripe_app, settle_previous_month)
    assert list(settlement_state(stripe_app, providers, period).values()) == [SETTLED, ABSENT, ABSENT]
    assert run_job(stripe_app, settle_previous_month) == 2  # the first provider's month stands
    assert set(settlement_state(stripe_app, providers, period).values()) == {"settled"}

    with killer.armed(KillPoint("the third payout's ledger entry", "INSERT INTO ledger_entry", nth=5)):
        with pytest.raises(OperationalError):
            run_job(stripe_app, send_payouts)
    assert list(settlement_state(stripe_app, providers, period).values()) == ["paid", "paid", "settled"]
    assert run_job(stripe_app, send_payouts) == 1
    assert set(settlement_state(stripe_app, providers, period).values()) == {"paid"}
    assert transfers(stripe_stub) == 3
    assert run_job(stripe_app, settle_previous_month) == 0 and run_job(stripe_app, send_payouts) == 0


# --- d) an evaluation run -----------------------------------------------------------------------

EVALUATION_KILLS = [
    KillPoint("claiming the as-of day", "INSERT INTO supervision_run"),
    KillPoint("writing the snapshots", "INSERT INTO supervision_snapshot"),
    KillPoint("writing the penalty reports", "INSERT INTO penalty_report"),
    KillPoint("notifying the officials", "INSERT INTO notification", nth=3),
    KillPoint("the run's figures", "UPDATE supervision_run"),
    KillPoint("the audit event", "INSERT INTO audit_event"),
    KillPoint("just before the commit", "COMMIT"),
]


@pytest.fixture(scope="module")
def official_phone(fapp):
    return supervised_providers(fapp)


@pytest.mark.parametrize("index", range(len(EVALUATION_KILLS)), ids=[str(p) for p in EVALUATION_KILLS])
def test_an_evaluation_run_killed_midway_leaves_no_run_and_the_rerun_makes_one(
        fapp, clock, killer, official_phone, index):
    day = date(2026, 11, 1) - timedelta(days=index)  # an as-of day of its own
    command = ["evaluate", "--as-of", day.isoformat(), "--official", official_phone]
    runner = fapp.test_cli_runner()

    with killer.armed(EVALUATION_KILLS[index]):
        result = runner.invoke(args=command)
    assert result.exit_code != 0 and isinstance(result.exception, OperationalError)
    assert run_state(fapp, day) == {"runs": 0, "reports": 0}

    rerun = runner.invoke(args=command)
    assert rerun.exit_code == 0 and "penalty report(s)" in rerun.output, rerun.output
    stored = run_state(fapp, day)
    assert stored["runs"] == 1 and stored["reports"] >= 2
    again = runner.invoke(args=command)
    assert again.exit_code == 0 and "exists already" in again.output
    assert run_state(fapp, day) == stored
