"""Objections sent at the same moment (issue 12, item 4): one pause, the officials told once,
and one objection per person even when the same resident sends twice at once.

Real connections and commits in a database of their own (``<test db>_objection`` on
PostgreSQL, a fresh file on SQLite).  Each objector works the way the views do, inside
``write_transaction`` (BEGIN IMMEDIATE on SQLite; on PostgreSQL the claim's row lock).
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.db import write_transaction
from app.errors import Conflict
from app.extensions import db
from app.models import User
from app.notifications import Notification
from billing.subsidies import review
from billing.subsidies.models import ClaimStatus, SubsidyClaim, SubsidyObjection
from tests import factories
from tests import subsidy_helpers as h
from tests.conftest import START, scratch_database

pytestmark = [pytest.mark.no_db_session]

RESIDENTS = 5  # and one of them sends twice: six objections at once


@pytest.fixture(scope="module")
def race_app(tmp_path_factory):
    from app.clock import FrozenClock

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": scratch_database(tmp_path_factory, "objection"),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": RESIDENTS + 3, "max_overflow": 0},
        "UPLOAD_DIR": str(tmp_path_factory.mktemp("objection-race")),
        "SECRET_KEY": "race-test-secret-key-long-enough-12345",
        "CLOCK": FrozenClock(START),
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 1024, "ARGON2_PARALLELISM": 1,
    })
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_objections_at_once_pause_the_claim_once_and_tell_each_official_once(race_app):
    clock = race_app.extensions["linli.clock"]
    with race_app.app_context():
        provider, staff, community = h.provider_with_staff()
        claim = h.file(provider, staff, h.register(provider, staff, community), clock=clock)
        district, city = factories.official(), factories.official()
        review.verify(db.session, claim.id, official=district)
        review.approve(db.session, claim.id, official=city)
        db.session.commit()
        claim_id, officials = claim.id, {district.id, city.id}
        residents = [factories.resident(community).id for _ in range(RESIDENTS)]
    senders = residents + [residents[0]]  # the first resident sends twice

    barrier = threading.Barrier(len(senders))
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def race(user_id: int) -> None:
        with race_app.app_context():
            user = db.session.get(User, user_id)
            barrier.wait()
            try:
                with write_transaction(db.session):
                    review.object_to(db.session, claim_id, user=user, text="设备未投入使用")
                db.session.commit()
                result = "objected"
            except Conflict:
                db.session.rollback()
                result = "refused"
            finally:
                db.session.remove()
            with lock:
                outcomes.append((user_id, result))

    threads = [threading.Thread(target=race, args=(user_id,)) for user_id in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(r for _u, r in outcomes) == ["objected"] * RESIDENTS + ["refused"]
    assert [r for u, r in outcomes if u == residents[0]].count("objected") == 1
    with race_app.app_context():
        assert db.session.get(SubsidyClaim, claim_id).status == ClaimStatus.OBJECTED
        objectors = db.session.scalars(sa.select(SubsidyObjection.user_id)
                                       .where(SubsidyObjection.claim_id == claim_id)).all()
        assert sorted(objectors) == sorted(residents)
        told = db.session.scalars(sa.select(Notification.user_id)
                                  .where(Notification.kind == "subsidy.objection_to_review")).all()
        assert sorted(told) == sorted(officials)  # once each, not once per objection
    clock.set(START)
