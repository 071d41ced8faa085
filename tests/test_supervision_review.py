"""Officials review penalty reports; providers appeal; sanctions take effect."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, IllegalTransition, Invalid, NotFound
from app.extensions import db
from billing.supervision_receivers import fine_of
from ratings.supervision import appeals, review, sanctions
from ratings.supervision.models import ReportStatus, Sanction
from ratings.supervision.sanction_models import PenaltyReview
from tests import factories
from tests.rating_helpers import audit_events, notifications
from tests.sanction_helpers import provider_with_staff, report


@pytest.fixture(autouse=True)
def english(app):
    """Messages are matched in English (the source language)."""
    with force_locale("en"):
        yield


SHANGHAI = ZoneInfo("Asia/Shanghai")
PLAN = {"root_cause": "人手不足", "corrective_actions": "增加两名护理员", "preventive_steps": "每周排班复核"}


def confirmed(sanction=Sanction.WARNING, **kwargs):
    provider, staff = provider_with_staff(**kwargs)
    item = report(provider, sanction)
    official = factories.official()
    review.confirm(db.session, item.id, official)
    if sanction == Sanction.REMOVAL:
        review.confirm(db.session, item.id, factories.official())
    db.session.commit()
    return item, provider, staff, official


def test_a_warning_is_confirmed_by_one_official_and_takes_effect_after_seven_local_days(clock):
    item, provider, staff, official = confirmed()
    assert item.status == ReportStatus.CONFIRMED
    found = review.review_of(db.session, item.id)
    # Confirmed Monday 2 Nov 10:00 local: the appeal runs to the end of Monday 9 Nov, local time.
    assert found.appeal_deadline == datetime(2026, 11, 10, tzinfo=SHANGHAI).astimezone(timezone.utc)
    assert audit_events("penalty_report.confirmed", item.id)[0].actor_id == official.id
    assert notifications("supervision.confirmed", staff.id)
    clock.set(found.appeal_deadline - timedelta(seconds=1))
    assert sanctions.apply_due_sanctions(db.session) == 0
    clock.set(found.appeal_deadline)
    assert sanctions.apply_due_sanctions(db.session) == 1
    db.session.commit()
    assert item.status == ReportStatus.EFFECTIVE and found.effective_at == found.appeal_deadline
    assert sanctions.apply_due_sanctions(db.session) == 0  # idempotent
    assert [r.report_id for r in sanctions.history(db.session, provider.id)] == [item.id]
    assert notifications("supervision.effective", staff.id)


def test_changing_the_sanction_needs_a_reason():
    provider, _ = provider_with_staff()
    item = report(provider, Sanction.FINE)
    official = factories.official()
    with pytest.raises(Invalid) as refused:
        review.confirm(db.session, item.id, official, sanction="warning")
    assert refused.value.field == "reason"
    db.session.rollback()
    done = review.confirm(db.session, item.id, official, sanction="warning", reason="首次违规，情节轻微")
    assert done.sanction == Sanction.WARNING and item.status == ReportStatus.CONFIRMED
    assert done.reason == "首次违规，情节轻微"


def test_dismissal_needs_a_reason_and_is_final():
    provider, staff = provider_with_staff()
    item = report(provider)
    official = factories.official()
    with pytest.raises(Invalid):
        review.dismiss(db.session, item.id, official, reason=" ")
    db.session.rollback()
    review.dismiss(db.session, item.id, official, reason="住户原因导致迟到")
    db.session.commit()
    assert item.status == ReportStatus.DISMISSED
    assert notifications("supervision.dismissed", staff.id)[0].params["reason"] == "住户原因导致迟到"
    with pytest.raises(IllegalTransition):
        review.confirm(db.session, item.id, factories.official())


def test_removal_needs_two_different_officials():
    provider, _ = provider_with_staff()
    item = report(provider, Sanction.REMOVAL)
    first, second = factories.official(), factories.official()
    review.confirm(db.session, item.id, first)
    db.session.commit()
    assert item.status == ReportStatus.PROPOSED
    assert notifications("supervision.second_approval", second.id)
    assert not notifications("supervision.second_approval", first.id)
    with pytest.raises(Conflict, match="second, different official"):
        review.confirm(db.session, item.id, first)
    db.session.rollback()
    review.confirm(db.session, item.id, second)
    db.session.commit()
    found = review.review_of(db.session, item.id)
    assert item.status == ReportStatus.CONFIRMED and found.officials == {first.id, second.id}


def test_the_database_refuses_the_same_official_twice():
    provider, _ = provider_with_staff()
    item = report(provider, Sanction.REMOVAL)
    official = factories.official()
    found = review.confirm(db.session, item.id, official)
    db.session.commit()
    found.second_official_id = official.id
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_an_appeal_upheld_by_another_official_overturns_the_report():
    item, provider, staff, official = confirmed(Sanction.FINE)
    appeals.submit(db.session, item.id, provider_id=provider.id, staff=staff, **PLAN)
    db.session.commit()
    assert item.status == ReportStatus.APPEALED
    assert not notifications("supervision.appealed", official.id)  # the approver is not asked
    with pytest.raises(Conflict, match="different official"):
        appeals.decide(db.session, item.id, official, outcome="upheld", reason="措施得当")
    db.session.rollback()
    other = factories.official()
    appeals.decide(db.session, item.id, other, outcome="upheld", reason="措施得当")
    db.session.commit()
    assert item.status == ReportStatus.OVERTURNED
    assert fine_of(review.review_of(db.session, item.id)) is None  # no fine was posted
    assert notifications("supervision.appeal_decided", staff.id)[0].params["appeal_outcome"] == "upheld"
    assert audit_events("penalty_report.overturned", item.id)[0].actor_id == other.id


def test_an_appeal_rejected_makes_the_sanction_effective_at_once():
    item, provider, staff, _official = confirmed(Sanction.SUSPENSION)
    appeals.submit(db.session, item.id, provider_id=provider.id, staff=staff, **PLAN)
    appeals.decide(db.session, item.id, factories.official(), outcome="rejected", reason="证据不足")
    db.session.commit()
    assert item.status == ReportStatus.EFFECTIVE
    assert provider.suspended_until is not None


def test_appeal_after_seven_days_is_refused(clock):
    item, provider, staff, _ = confirmed()
    deadline = review.review_of(db.session, item.id).appeal_deadline
    clock.set(deadline)
    with pytest.raises(Conflict, match="appeal window closed"):
        appeals.submit(db.session, item.id, provider_id=provider.id, staff=staff, **PLAN)
    db.session.rollback()
    clock.set(deadline - timedelta(minutes=1))
    appeals.submit(db.session, item.id, provider_id=provider.id, staff=staff, **PLAN)
    assert item.status == ReportStatus.APPEALED


def test_a_provider_cannot_appeal_another_providers_report():
    item, _provider, _staff, _ = confirmed()
    other, other_staff = provider_with_staff()
    with pytest.raises(NotFound):
        appeals.submit(db.session, item.id, provider_id=other.id, staff=other_staff, **PLAN)


def test_an_appeal_needs_the_whole_plan_of_action():
    item, provider, staff, _ = confirmed()
    with pytest.raises(Invalid) as refused:
        appeals.submit(db.session, item.id, provider_id=provider.id, staff=staff, **{**PLAN, "preventive_steps": ""})
    assert refused.value.field == "preventive_steps"


def test_a_proposed_report_cannot_be_appealed_nor_its_appeal_decided():
    provider, staff = provider_with_staff()
    item = report(provider)
    with pytest.raises(IllegalTransition):
        appeals.submit(db.session, item.id, provider_id=provider.id, staff=staff, **PLAN)
    with pytest.raises(IllegalTransition):
        appeals.decide(db.session, item.id, factories.official(), outcome="upheld", reason="x")


def test_review_rows_are_unique_per_report():
    provider, _ = provider_with_staff()
    item = report(provider)
    review.confirm(db.session, item.id, factories.official())
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PenaltyReview)
                             .where(PenaltyReview.report_id == item.id)) == 1


def test_every_notification_reads_with_its_parameters(clock):
    """Each new kind renders with all its parameters (a missing one would show the raw template)."""
    from flask_babel import force_locale

    from app.notifications import Notification

    item, provider, staff, _official = confirmed(Sanction.SUSPENSION)
    other = factories.official()
    appeals.submit(db.session, item.id, provider_id=provider.id, staff=staff, **PLAN)
    appeals.decide(db.session, item.id, other, outcome="rejected", reason="证据不足")
    removal = report(provider, Sanction.REMOVAL)
    review.confirm(db.session, removal.id, factories.official())
    db.session.commit()
    kinds = ("supervision.confirmed", "supervision.appealed", "supervision.appeal_decided", "supervision.effective",
             "provider.suspended", "supervision.second_approval")
    with force_locale("en"):
        for kind in kinds:
            note = db.session.scalars(sa.select(Notification).where(Notification.kind == kind)).first()
            assert note is not None, kind
            assert "%(" not in note.message, (kind, note.message)
        decided = notifications("supervision.appeal_decided", staff.id)[0].message
        assert "Appeal rejected" in decided and "证据不足" in decided
