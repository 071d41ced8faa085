"""Twenty residents race for the last place of a slot: exactly one wins.

This runs with real connections and real commits, in a database of its own
(``<test db>_conc`` on PostgreSQL, a fresh file on SQLite), because the
per-test rollback would hide the race.  Each racer books the way the view
does: inside ``write_transaction`` (BEGIN IMMEDIATE on SQLite, a no-op on
PostgreSQL, where the conditional UPDATE's row lock decides).
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.db import write_transaction
from app.errors import Conflict
from app.extensions import db
from providers.bookings import services
from providers.bookings.models import Booking, BookingSlot
from tests import factories
from tests.helpers import race_app as make_race_app

pytestmark = [pytest.mark.no_db_session]

RACERS = 20


@pytest.fixture(scope="module")
def race_app(tmp_path_factory):
    with make_race_app(tmp_path_factory, "conc", RACERS, frozen_clock=False) as app:
        yield app


def test_twenty_concurrent_bookings_for_the_last_place_one_succeeds(race_app):
    with race_app.app_context():
        listing = factories.listing()
        for window in listing.availability:
            window.capacity = 1
        residents = [factories.resident(listing.communities[0]) for _ in range(RACERS)]
        db.session.commit()
        listing_id, resident_ids = listing.id, [r.id for r in residents]
        starts = factories.next_slot(listing)

    barrier = threading.Barrier(RACERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(resident_id: int) -> None:
        with race_app.app_context():
            from app.models import User

            resident = db.session.get(User, resident_id)
            barrier.wait()
            try:
                with write_transaction(db.session):
                    services.request_booking(db.session, resident, listing_id=listing_id,
                                             starts_at=starts, address="楼下")
                db.session.commit()
                result = "booked"
            except Conflict:
                db.session.rollback()
                result = "taken"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=race, args=(rid,)) for rid in resident_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcomes) == ["booked"] + ["taken"] * (RACERS - 1)
    with race_app.app_context():
        slot = db.session.scalar(sa.select(BookingSlot).where(BookingSlot.listing_id == listing_id))
        assert (slot.taken, slot.capacity) == (1, 1)
        assert db.session.scalar(
            sa.select(sa.func.count()).select_from(Booking).where(Booking.listing_id == listing_id)
        ) == 1
