"""Several claims in one community approved at the same moment: the tier cap holds.

Real connections and commits in a database of their own (``<test db>_subsidy``
on PostgreSQL, a fresh file on SQLite).  Each approver works the way the view
does, inside ``write_transaction`` (BEGIN IMMEDIATE on SQLite; on PostgreSQL
the community-year row lock and the conditional UPDATE decide).
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.db import write_transaction
from app.errors import Conflict
from app.extensions import db
from app.models import CommunityTier, User
from billing.subsidies import review
from billing.subsidies.models import ClaimStatus, SubsidyClaim, SubsidyCommunityYear
from tests import factories
from tests import subsidy_helpers as h
from tests.conftest import START
from tests.helpers import race_app as make_race_app

pytestmark = [pytest.mark.no_db_session]

RACERS = 6


@pytest.fixture(scope="module")
def race_app(tmp_path_factory):
    with make_race_app(tmp_path_factory, "subsidy", RACERS) as app:
        yield app


def test_concurrent_approvals_never_pass_the_community_tier_cap(race_app):
    clock = race_app.extensions["linli.clock"]
    with race_app.app_context():
        provider, staff, community = h.provider_with_staff(CommunityTier.GROWTH)  # cap 100,000 yuan
        projects = [h.register(provider, staff, community, title=f"项目{i}") for i in range(RACERS)]
        clock.advance(days=30)
        claim_ids = []
        for project in projects:  # each 66,000 yuan (the rate binds): only one fits
            claim = h.file(provider, staff, project, quantity="120", investment_fen=30_000_000)
            review.verify(db.session, claim.id, official=factories.official())
            db.session.commit()
            claim_ids.append(claim.id)
        approvers = [factories.official().id for _ in range(RACERS)]
        community_id = community.id

    barrier = threading.Barrier(RACERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(claim_id: int, official_id: int) -> None:
        with race_app.app_context():
            official = db.session.get(User, official_id)
            barrier.wait()
            try:
                with write_transaction(db.session):
                    review.approve(db.session, claim_id, official=official)
                db.session.commit()
                result = "approved"
            except Conflict:
                db.session.rollback()
                result = "refused"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=race, args=pair) for pair in zip(claim_ids, approvers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcomes) == ["approved"] + ["refused"] * (RACERS - 1)
    with race_app.app_context():
        awarded = db.session.scalar(sa.select(SubsidyCommunityYear.awarded_fen)
                                    .where(SubsidyCommunityYear.community_id == community_id))
        approved = db.session.scalars(sa.select(SubsidyClaim.approved_fen)
                                      .where(SubsidyClaim.status == ClaimStatus.NOTICE)).all()
        assert approved == [6_600_000] and awarded == 6_600_000 <= 10_000_000
    clock.set(START)
