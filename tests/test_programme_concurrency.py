"""Racers against a programme's allowance and budget: neither is ever overspent.

Real connections and real commits in a database of its own (``<test db>_progconc``
on PostgreSQL, a fresh file on SQLite), as in test_booking_concurrency.py.  Each
racer works the way the views do: inside ``write_transaction`` (BEGIN IMMEDIATE
on SQLite; on PostgreSQL the conditional UPDATEs and the ledger's CHECK decide).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.clock import local
from app.db import write_transaction
from app.errors import Conflict
from app.extensions import db
from billing import ledger
from billing.programmes import entitlements
from billing.programmes.models import AllowanceMonth, EntitlementUse, UseStatus
from billing.programmes.programmes import budget_code, reserved_code
from providers.bookings import services
from providers.bookings.models import Booking, BookingStatus
from providers.bookings.slots import slot_starts_on
from tests import factories
from tests.conftest import START
from tests.programme_helpers import enrolled_resident, open_programme
from tests.helpers import race_app as make_race_app
from tests.carer_helpers import carer_for

pytestmark = [pytest.mark.no_db_session]

RACERS = 24
PRICE = 6000


@pytest.fixture(scope="module")
def race_app(tmp_path_factory):
    with make_race_app(tmp_path_factory, "progconc", RACERS) as app:
        yield app


def _race(app, work, ids):
    barrier = threading.Barrier(len(ids))
    outcomes: list[str] = []
    lock = threading.Lock()

    def racer(item):
        with app.app_context(), force_locale("en"):
            prepared = work.prepare(item)
            barrier.wait()
            try:
                with write_transaction(db.session):
                    work.act(prepared)
                db.session.commit()
                result = "ok"
            except Conflict as refused:
                db.session.rollback()
                result = str(refused)
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=racer, args=(item,)) for item in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def test_racing_bookings_never_exceed_the_monthly_allowance(race_app):
    allowance = 5
    with race_app.app_context():
        programme, award, listing, member, official, community = open_programme(
            allowance=allowance, quota=1000, budget_fen=10_000_000, contract_price_fen=PRICE)
        resident = enrolled_resident(programme, official, community)
        starts = []
        day = local(START).date() + timedelta(days=1)
        while len(starts) < RACERS:  # distinct slots, all in November 2026
            starts += [start for start, _window in slot_starts_on(listing, day)]
            day += timedelta(days=1)
        assert local(starts[RACERS - 1]).month == 11
        listing_id, resident_id, programme_id = listing.id, resident.id, programme.id

    class Book:
        @staticmethod
        def prepare(starts_at):
            from app.models import User

            return db.session.get(User, resident_id), starts_at

        @staticmethod
        def act(prepared):
            resident, starts_at = prepared
            entitlements.book_with_entitlement(db.session, resident, listing_id=listing_id,
                                               starts_at=starts_at, address="楼下")

    outcomes = _race(race_app, Book, starts[:RACERS])
    booked = [o for o in outcomes if o == "ok"]
    refused = [o for o in outcomes if o != "ok"]
    assert len(booked) == allowance and len(refused) == RACERS - allowance
    assert all("allowance for 2026-11 is used up" in o for o in refused), set(refused)
    with race_app.app_context():
        assert db.session.scalar(sa.select(AllowanceMonth.used)) == allowance
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)
                                 .where(Booking.resident_id == resident_id)) == allowance
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EntitlementUse)
                                 .where(EntitlementUse.programme_id == programme_id)) == allowance


def test_racing_acceptances_never_overspend_the_budget(race_app):
    fits = 10
    with race_app.app_context():
        programme, award, listing, member, official, community = open_programme(
            budget_fen=fits * PRICE, contract_price_fen=PRICE, quota=1000, capacity=40)
        starts = factories.next_slot(listing, 2)
        booking_ids = []
        for _ in range(RACERS):  # all requested: a request does not reserve yet
            resident = enrolled_resident(programme, official, community)
            booking = entitlements.book_with_entitlement(db.session, resident, listing_id=listing.id,
                                                         starts_at=starts, address="楼下")
            db.session.commit()
            booking_ids.append(booking.id)
        programme_id, member_id = programme.id, member.id

    class Accept:
        @staticmethod
        def prepare(booking_id):
            from app.models import User

            return db.session.get(User, member_id), booking_id

        @staticmethod
        def act(prepared):
            staff, booking_id = prepared
            booking = db.session.scalar(sa.select(Booking).where(Booking.id == booking_id).with_for_update())
            services.accept(db.session, booking, staff, carer_id=carer_for(booking))

    outcomes = _race(race_app, Accept, booking_ids)
    accepted = [o for o in outcomes if o == "ok"]
    assert len(accepted) == fits, outcomes
    assert all("budget cannot pay for this visit" in o for o in outcomes if o != "ok")
    with race_app.app_context():
        assert ledger.balance(db.session, budget_code(programme_id)) == 0
        assert -ledger.balance(db.session, reserved_code(programme_id)) == fits * PRICE
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EntitlementUse).where(
            EntitlementUse.programme_id == programme_id, EntitlementUse.status == UseStatus.RESERVED)) == fits
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking).where(
            Booking.id.in_(booking_ids), Booking.status == BookingStatus.ACCEPTED)) == fits
        assert ledger.is_balanced(db.session)
