"""A double submit at the same moment makes one booking: two real requests race.

Two clients logged in as the same resident send the same booking at once
(the page's form twice, then the API's request twice), with real commits in a
database of their own (``<test db>_dsubmit`` on PostgreSQL, a fresh file on
SQLite), as in tests/test_booking_concurrency.py.  On PostgreSQL the slot's
row lock orders the two and the partial unique index refuses the second live
booking; on SQLite ``write_transaction`` serialises them.  Either way: one
booking, one place taken, the page's loser lands on the winner's booking and
the API's loser is a 409 naming it.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.auth.services import issue_token
from app.clock import FrozenClock
from app.extensions import db
from providers.bookings.models import Booking, BookingSlot
from tests import factories
from tests.conftest import PASSWORD, START, scratch_database

pytestmark = [pytest.mark.no_db_session]


@pytest.fixture(scope="module")
def race_app(tmp_path_factory):
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": scratch_database(tmp_path_factory, "dsubmit"),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 6, "max_overflow": 0},
        "UPLOAD_DIR": str(tmp_path_factory.mktemp("dsubmit")),
        "SECRET_KEY": "race-test-secret-key-long-enough-12345",
        "CLOCK": FrozenClock(START),
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": None,
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 1024, "ARGON2_PARALLELISM": 1,
    })
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


def _setting(app):
    with app.app_context():
        listing = factories.listing()
        resident = factories.resident(listing.communities[0])
        _token, raw = issue_token(db.session, resident, "race")
        db.session.commit()
        starts = factories.next_slot(listing)
        result = listing.id, resident.phone, raw, starts
        db.session.remove()
    return result


def _race(app, send) -> list:
    """Run ``send(client)`` in two threads at once, each with its own client; the responses."""
    barrier = threading.Barrier(2)
    responses: list = []
    lock = threading.Lock()

    def racer(client):
        barrier.wait()
        response = send(client)
        with lock:
            responses.append(response)

    clients = [app.test_client() for _ in range(2)]
    prepare = getattr(send, "prepare", None)
    for client in clients:
        if prepare:
            prepare(client)
    threads = [threading.Thread(target=racer, args=(client,)) for client in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(responses) == 2
    return responses


def _made(app, listing_id: int) -> tuple[list[int], int]:
    with app.app_context():
        ids = list(db.session.scalars(sa.select(Booking.id).where(Booking.listing_id == listing_id)))
        places = db.session.scalar(sa.select(sa.func.sum(BookingSlot.taken)).where(
            BookingSlot.listing_id == listing_id))
        db.session.remove()
    return ids, places


def test_two_submits_of_the_booking_form_at_once_make_one_booking(race_app):
    listing_id, phone, _raw, starts = _setting(race_app)
    data = {"starts_at": starts.strftime("%Y-%m-%dT%H:%MZ"), "address": "城里社区3号楼101"}

    def send(client):
        return client.post(f"/listings/{listing_id}/book", data=data)

    def log_in(client):
        client.set_cookie("linli_lang", "en")
        assert client.post("/login", data={"phone": phone, "password": PASSWORD}).status_code == 302

    send.prepare = log_in
    responses = _race(race_app, send)
    ids, places = _made(race_app, listing_id)
    assert len(ids) == 1 and places == 1
    assert [r.status_code for r in responses] == [302, 302], [r.get_data(as_text=True)[:300] for r in responses]
    assert {r.headers["Location"] for r in responses} == {f"/bookings/{ids[0]}"}


def test_two_identical_api_requests_at_once_make_one_booking(race_app):
    listing_id, _phone, raw, starts = _setting(race_app)
    body = {"listing_id": listing_id, "starts_at": starts.isoformat(), "address": "x"}

    headers = {"Authorization": f"Bearer {raw}"}

    def send(client):
        return client.post("/api/v1/bookings", json=body, headers=headers)

    # Use the token once first: its first use is recorded (a write), which on SQLite would make
    # the two racers collide before they reach the booking.
    assert race_app.test_client().get("/api/v1/bookings", headers=headers).status_code == 200
    responses = sorted(_race(race_app, send), key=lambda r: r.status_code)
    ids, places = _made(race_app, listing_id)
    assert len(ids) == 1 and places == 1
    assert [r.status_code for r in responses] == [201, 409], [r.get_data(as_text=True) for r in responses]
    made, refused = (r.get_json() for r in responses)
    assert made["id"] == ids[0] and refused["booking_id"] == ids[0]
