"""Officials are told when a subsidy claim is filed and when an objection is raised."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.errors import Invalid
from app.extensions import db
from app.notifications import Notification
from billing.subsidies import review
from tests import factories
from tests import subsidy_helpers as h


def _told(kind: str) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.kind == kind)
                                   .order_by(Notification.user_id, Notification.id)))


def test_every_active_official_is_told_of_a_new_claim_and_nobody_else(clock):
    district, city = factories.official(), factories.official()
    admin = factories.admin()
    gone = factories.official()
    gone.disabled_at = clock.now()
    resident = factories.resident()
    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    assert _told("subsidy.claim_to_review") == []  # registering a project is not a claim
    claim = h.file(provider, staff, project, clock=clock, requested_fen=500_000)
    told = _told("subsidy.claim_to_review")
    assert {n.user_id for n in told} == {district.id, city.id, admin.id}
    assert gone.id not in {n.user_id for n in told} and resident.id not in {n.user_id for n in told}
    assert all(n.link == f"/official/subsidies/claims/{claim.id}" for n in told)
    with force_locale("en"):
        assert told[0].message == (f"{provider.name} filed subsidy claim #{claim.id} ({project.title}) for "
                                   "¥5,000.00: it waits for district verification.")
    # The provider's own staff still get their own message, not the officials' one.
    assert staff.id in {n.user_id for n in _told("subsidy.filed")}
    assert staff.id not in {n.user_id for n in told}


def test_a_refused_claim_tells_nobody(clock):
    factories.official()
    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    with pytest.raises(Invalid):
        h.file(provider, staff, project, clock=clock, requested_fen=10**12)
    db.session.rollback()
    assert _told("subsidy.claim_to_review") == []


def test_officials_are_told_once_per_pause_not_per_objection(clock):
    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    claim = h.file(provider, staff, project, clock=clock)
    district, city, third = factories.official(), factories.official(), factories.official()
    review.verify(db.session, claim.id, official=district)
    review.approve(db.session, claim.id, official=city)
    db.session.commit()
    assert _told("subsidy.objection_to_review") == []
    objector = factories.resident(community)
    review.object_to(db.session, claim.id, user=objector, text="充电桩并未投入使用")
    db.session.commit()
    first = _told("subsidy.objection_to_review")
    assert {n.user_id for n in first} == {district.id, city.id, third.id}
    assert all(n.link == f"/official/subsidies/claims/{claim.id}" for n in first)
    with force_locale("en"):
        assert f"An objection to subsidy claim #{claim.id} ({project.title}) was raised" in first[0].message
    # A second objection while the claim is paused waits in the same review: nobody is told again.
    second = review.object_to(db.session, claim.id, user=factories.resident(community), text="数量存疑")
    db.session.commit()
    assert [n.id for n in _told("subsidy.objection_to_review")] == [n.id for n in first]
    # Once the notice has resumed, the next objection is a new pause: told once more.
    review.resolve_objection(db.session, first_open(claim).id, official=city, outcome="dismissed", note="已核实")
    review.resolve_objection(db.session, second.id, official=third, outcome="dismissed", note="已核实")
    db.session.commit()
    review.object_to(db.session, claim.id, user=factories.resident(community), text="仍有疑问")
    db.session.commit()
    again = [n for n in _told("subsidy.objection_to_review") if n.id not in {f.id for f in first}]
    assert {n.user_id for n in again} == {district.id, city.id, third.id}


def first_open(claim):
    return next(o for o in claim.objections if o.status.value == "open")
