"""Item 13 of issue 12: when the database fails, a write is told only what is true, and a
connection that dies at teardown never breaks the answer.

PostgreSQL only, on a database of its own that really commits (tests/fault_helpers.py).
A resident cancels a booking through the API and through the page:

- the backend killed just before the cancel's COMMIT: 503, "we could not confirm whether
  it was saved; check before retrying" (outcome ``unknown``), and indeed nothing changed;
- the COMMIT applied but its answer lost (the backend killed right after the server
  committed, before the app read the reply): the same words, and the cancel is there;
  a retry would be refused (409), which is why the answer says to check first;
- the commit came back and the database went away while the answer was being read:
  503 "your change was saved" (outcome ``saved``), never "rolled back, safe to retry";
- killed before anything was committed: 503 "try again" (outcome ``not-saved``).

And the backend killed during the teardown's ROLLBACK (the session closed after the
answer was made): the answer stands (200, the whole page), the failure is logged,
and the next request is served on a fresh connection.
"""

from __future__ import annotations

import contextlib
import logging

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from app.extensions import db
from providers.bookings.models import Booking
from tests.conftest import on_postgres
from tests.fault_arrangements import booking_shop, logged_in
from tests.fault_helpers import KillPoint, admin_engine, fault_app, killer_for

pytestmark = [
    pytest.mark.no_db_session,
    pytest.mark.postgres_only,
    pytest.mark.skipif(not on_postgres(), reason="fault tests kill PostgreSQL backends (pg_terminate_backend); "
                                                 "run with LINLI_TEST_ON_POSTGRES=1 and TEST_DATABASE_URL"),
]

UNKNOWN_WORDS = "could not confirm whether it was saved"
SAVED_WORDS = "Your change was saved"
RETRY_WORDS = "Please try again in a moment"
CANCEL_UPDATE = "UPDATE booking SET"


@pytest.fixture(scope="module")
def fapp(tmp_path_factory):
    app = fault_app(tmp_path_factory, "outcome")
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def killer(fapp):
    with killer_for(fapp) as k:
        yield k


def booked(fapp, *, token: bool) -> tuple[int, str]:
    """A resident's requested booking; returns (booking id, the resident's bearer token or phone)."""
    listing_id, who, starts = booking_shop(fapp, token=token)
    if token:
        made = fapp.test_client().post("/api/v1/bookings", json={
            "listing_id": listing_id, "starts_at": starts.isoformat(), "address": "3号楼"},
            headers={"Authorization": f"Bearer {who}"})
        assert made.status_code == 201, made.get_data(as_text=True)
        return made.get_json()["id"], who
    client = logged_in(fapp, who)
    from providers.bookings.forms import slot_value

    made = client.post(f"/listings/{listing_id}/book", data={"starts_at": slot_value(starts), "address": "3号楼"})
    assert made.status_code == 302, made.get_data(as_text=True)[:300]
    return int(made.headers["Location"].rstrip("/").rsplit("/", 1)[1]), who


def status_of(fapp, booking_id: int) -> str:
    with fapp.app_context():
        return db.session.scalar(sa.select(Booking.status).where(Booking.id == booking_id)).value


def english(client):
    client.set_cookie("linli_lang", "en")
    return client


def cancel_api(fapp, booking_id: int, token: str):
    return english(fapp.test_client()).post(f"/api/v1/bookings/{booking_id}/actions/cancel", json={"reason": "有事"},
                                   headers={"Authorization": f"Bearer {token}"})


@contextlib.contextmanager
def commit_answer_lost(fapp, after: str):
    """The first COMMIT after a statement starting with ``after`` is applied by the server,
    then its backend is terminated before the app reads the reply: the app meets the
    connection error a lost acknowledgement gives (a real psycopg OperationalError)."""
    with fapp.app_context():
        engine = db.engine
    admin = admin_engine(fapp)
    dialect, real = engine.dialect, engine.dialect.do_commit
    state = {"seen": False, "fired": False}

    def watch(conn, cursor, statement, *args):
        state["seen"] = state["seen"] or statement.lstrip().upper().startswith(after.upper())

    def commit_then_die(dbapi_connection):
        real(dbapi_connection)
        if not state["seen"] or state["fired"]:
            return
        state["fired"] = True
        raw = dbapi_connection.dbapi_connection  # (the pool's wrapper holds psycopg's connection)
        with admin.connect() as conn:
            assert conn.scalar(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": raw.info.backend_pid})
        raw.execute("SELECT 1")  # the reply that never comes: raises

    sa.event.listen(engine, "before_cursor_execute", watch)
    dialect.do_commit = commit_then_die
    try:
        yield
    finally:
        dialect.do_commit = real
        sa.event.remove(engine, "before_cursor_execute", watch)
        admin.dispose()
    assert state["fired"], f"no COMMIT after {after!r}"


@contextlib.contextmanager
def killed_at_teardown(fapp):
    """The backend is terminated just before the first ROLLBACK on a connection: the one the
    request's session sends when it is closed at teardown (a read leaves it open)."""
    with fapp.app_context():
        engine = db.engine
    admin = admin_engine(fapp)
    fired = []

    def before_rollback(conn):
        if fired:
            return
        fired.append(conn.connection.dbapi_connection.info.backend_pid)
        with admin.connect() as c:
            assert c.scalar(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": fired[0]})

    sa.event.listen(engine, "rollback", before_rollback)
    try:
        yield fired
    finally:
        sa.event.remove(engine, "rollback", before_rollback)
        admin.dispose()
    assert fired, "no ROLLBACK was sent"


# --- the API ---------------------------------------------------------------------------------------


def test_an_api_cancel_killed_before_its_commit_is_not_saved_and_says_it_may_not_be(fapp, killer):
    booking_id, token = booked(fapp, token=True)
    with killer.armed(KillPoint("just before the cancel's commit", "COMMIT", after=CANCEL_UPDATE)):
        response = cancel_api(fapp, booking_id, token)
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["outcome"] == "unknown" and UNKNOWN_WORDS in problem["detail"], problem
    assert "try again in a moment" not in problem["detail"]
    assert status_of(fapp, booking_id) == "requested"  # the server never had the COMMIT
    retry = cancel_api(fapp, booking_id, token)  # checked: not cancelled, so cancel again
    assert retry.status_code == 200 and retry.get_json()["status"] == "cancelled_by_resident"


def test_an_api_cancel_whose_commit_was_applied_but_not_acknowledged_says_it_may_be_saved(fapp):
    booking_id, token = booked(fapp, token=True)
    with commit_answer_lost(fapp, after=CANCEL_UPDATE):
        response = cancel_api(fapp, booking_id, token)
    assert response.status_code == 503
    problem = response.get_json()
    assert problem["outcome"] == "unknown" and UNKNOWN_WORDS in problem["detail"], problem
    assert status_of(fapp, booking_id) == "cancelled_by_resident"  # it was saved
    again = cancel_api(fapp, booking_id, token)  # a blind retry is refused: the cancel stands once
    assert again.status_code == 409
    assert status_of(fapp, booking_id) == "cancelled_by_resident"


def test_an_api_cancel_committed_before_the_database_went_is_answered_saved(fapp, killer):
    """The cancel commits; reading the answer afterwards finds the database gone."""
    booking_id, token = booked(fapp, token=True)
    with killer.armed(KillPoint("the database gone right after the cancel's commit", "COMMIT", down_after=True,
                                after=CANCEL_UPDATE)):
        response = cancel_api(fapp, booking_id, token)
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    problem = response.get_json()
    assert problem["outcome"] == "saved" and SAVED_WORDS in problem["detail"], problem
    assert status_of(fapp, booking_id) == "cancelled_by_resident"


def test_an_api_cancel_killed_before_anything_was_committed_says_try_again(fapp, killer):
    """The bearer token's last use is committed first; the cancel itself is not."""
    booking_id, token = booked(fapp, token=True)
    with killer.armed(KillPoint("writing the cancel", CANCEL_UPDATE)):
        response = cancel_api(fapp, booking_id, token)
    assert response.status_code == 503 and response.headers["Retry-After"]
    problem = response.get_json()
    assert problem["outcome"] == "not-saved" and RETRY_WORDS in problem["detail"], problem
    assert status_of(fapp, booking_id) == "requested"


# --- the page --------------------------------------------------------------------------------------


def cancel_page(client, booking_id: int):
    """Submit the cancel form the booking page renders."""
    page = BeautifulSoup(client.get(f"/bookings/{booking_id}").get_data(as_text=True), "html.parser")
    form = page.find("form", action=f"/bookings/{booking_id}/cancel")
    assert form is not None, "the booking page offers no cancel form"
    fields = {i["name"]: i.get("value", "") for i in form.find_all(["input", "textarea"]) if i.get("name")}
    return client.post(form["action"], data=fields)


def test_a_page_cancel_killed_during_its_commit_says_to_check_before_retrying(fapp, killer):
    booking_id, phone = booked(fapp, token=False)
    client = english(logged_in(fapp, phone))
    with killer.armed(KillPoint("just before the cancel's commit", "COMMIT", after=CANCEL_UPDATE)):
        response = cancel_page(client, booking_id)
    assert response.status_code == 503 and response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert UNKNOWN_WORDS in text and "Please try again in a moment" not in text
    assert response.headers["Cache-Control"] == "no-store"
    assert status_of(fapp, booking_id) == "requested"


# --- teardown ------------------------------------------------------------------------------------------


def test_a_connection_killed_at_teardown_leaves_the_page_whole_and_is_logged(fapp, caplog):
    booking_id, phone = booked(fapp, token=False)
    client = logged_in(fapp, phone)
    caplog.set_level(logging.WARNING, logger=fapp.logger.name)
    with killed_at_teardown(fapp):
        response = client.get(f"/bookings/{booking_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "</html>" in page and f"/bookings/{booking_id}/cancel" in page
    assert any("closing the database session failed (GET /bookings/" in r.getMessage() for r in caplog.records)
    assert client.get(f"/bookings/{booking_id}").status_code == 200  # a fresh connection serves the next one


def test_an_api_read_killed_at_teardown_is_answered_in_full(fapp):
    booking_id, token = booked(fapp, token=True)
    client = fapp.test_client()
    with killed_at_teardown(fapp):
        response = client.get(f"/api/v1/bookings/{booking_id}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["id"] == booking_id
