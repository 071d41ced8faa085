"""Racers on one programme: top-ups are all counted, and two end-of-term runs close it once.

Real connections and commits in a database of its own (``<test db>_topupconc`` on
PostgreSQL, a fresh file on SQLite), as in test_programme_concurrency.py.
"""

from __future__ import annotations

import threading
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.audit import AuditEvent
from app.clock import zone
from app.db import write_transaction
from app.extensions import db
from app.models import User
from app.notifications import Notification
from billing import ledger
from billing.programmes import programmes, topups
from billing.programmes.jobs import close_ended_programmes
from billing.programmes.models import ProgrammeStatus, PurchaseProgramme
from billing.programmes.programmes import budget_code
from tests.conftest import START
from tests.programme_helpers import open_programme
from tests.helpers import race_app as make_race_app

pytestmark = [pytest.mark.no_db_session]

RACERS = 8


@pytest.fixture(scope="module")
def race_app(tmp_path_factory):
    with make_race_app(tmp_path_factory, "topupconc", RACERS) as app:
        yield app


def _race(app, count: int, work) -> list[object]:
    barrier = threading.Barrier(count)
    results: list[object] = []
    lock = threading.Lock()

    def racer():
        with app.app_context(), force_locale("en"):
            barrier.wait()
            try:
                result = work()
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported to the test
                db.session.rollback()
                result = error
            finally:
                db.session.remove()
            with lock:
                results.append(result)

    threads = [threading.Thread(target=racer) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_racing_top_ups_are_each_counted_once(race_app):
    with race_app.app_context():
        programme, _award, _listing, _member, official, _community = open_programme(budget_fen=100_000)
        programme_id, official_id = programme.id, official.id

    def top_up():
        with write_transaction(db.session):
            locked = programmes.get_programme(db.session, programme_id, for_update=True)
            return topups.top_up(db.session, locked, db.session.get(User, official_id), amount_fen=1000,
                                 reason="追加")

    results = _race(race_app, RACERS, top_up)
    assert all(isinstance(r, int) for r in results), results
    assert sorted(results) == [100_000 + 1000 * n for n in range(1, RACERS + 1)]
    with race_app.app_context():
        assert db.session.get(PurchaseProgramme, programme_id).budget_fen == 100_000 + 1000 * RACERS
        assert -ledger.balance(db.session, budget_code(programme_id)) == 100_000 + 1000 * RACERS
        keys = [t.idempotency_key for t in topups.top_ups(db.session, programme_id)]
        assert sorted(keys) == sorted(f"programme:{programme_id}:topup:{n}" for n in range(1, RACERS + 1))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "programme.budget_topped_up", AuditEvent.object_id == programme_id)) == RACERS
        assert ledger.is_balanced(db.session)


def test_two_end_of_term_runs_close_a_programme_once(race_app):
    clock = race_app.extensions["linli.clock"]
    with race_app.app_context():
        programme, _award, _listing, _member, _official, _community = open_programme()
        programme.end_date = date(2026, 11, 30)
        db.session.commit()
        programme_id = programme.id
        clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=zone()))
    try:
        results = _race(race_app, 2, lambda: close_ended_programmes(db.session))
    finally:
        clock.set(START)
    assert sorted(results) == [0, 1], results
    with race_app.app_context():
        assert db.session.get(PurchaseProgramme, programme_id).status == ProgrammeStatus.CLOSED
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "programme.closed", AuditEvent.object_id == programme_id)) == 1
        officials = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
            User.role.in_(["official", "admin"])))
        told = [n for n in db.session.scalars(sa.select(Notification).where(
            Notification.kind == "programme.closed_at_term_end")) if n.link == f"/official/programmes/{programme_id}"]
        assert len(told) == officials and len({n.user_id for n in told}) == officials
