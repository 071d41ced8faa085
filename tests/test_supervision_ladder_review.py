"""The whole ladder through review: only confirmed sanctions climb it, and each rung's
effect happens when its appeal window passes."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from providers.models import ProviderStatus
from ratings.supervision import appeals, review, sanctions
from ratings.supervision.models import EvaluationRun, PenaltyReport, ReportStatus, Sanction
from ratings.supervision.runs import run_evaluation
from tests import factories
from tests.supervision_helpers import as_of, document, local, serving_provider


def month(provider_id: int, day: date, clock) -> PenaltyReport:
    clock.set(local(day.year, day.month, day.day, 9))
    run_evaluation(db.session, as_of(day), trigger="scheduler")
    db.session.commit()
    return db.session.scalars(
        sa.select(PenaltyReport).join(EvaluationRun).where(PenaltyReport.provider_id == provider_id)
        .order_by(EvaluationRun.as_of.desc())).first()


def confirm_and_wait(item: PenaltyReport, clock, officials) -> None:
    for official in officials:
        review.confirm(db.session, item.id, official)
    db.session.commit()
    clock.set(review.review_of(db.session, item.id).appeal_deadline)
    assert sanctions.apply_due_sanctions(db.session) == 1
    db.session.commit()


def test_warning_fine_suspension_removal_each_confirmed_and_in_effect(clock):
    provider, _listing, _resident, staff = serving_provider()
    document(provider, date(2026, 5, 31), uploaded_by=staff)
    first, second = factories.official(), factories.official()
    rungs = []
    for m in (6, 7, 8, 9):
        item = month(provider.id, date(2026, m, 1), clock)
        rungs.append(item.proposed_sanction)
        confirm_and_wait(item, clock, [first, second] if item.proposed_sanction == Sanction.REMOVAL else [first])
        assert item.status == ReportStatus.EFFECTIVE
    assert rungs == [Sanction.WARNING, Sanction.FINE, Sanction.SUSPENSION, Sanction.REMOVAL]
    assert provider.status == ProviderStatus.REMOVED


def test_unreviewed_and_overturned_reports_do_not_climb_the_ladder(clock):
    provider, _listing, _resident, staff = serving_provider()
    document(provider, date(2026, 5, 31), uploaded_by=staff)
    june = month(provider.id, date(2026, 6, 1), clock)
    assert june.proposed_sanction == Sanction.WARNING
    # June's report is still waiting for review: July proposes a warning again.
    july = month(provider.id, date(2026, 7, 1), clock)
    assert july.proposed_sanction == Sanction.WARNING
    review.confirm(db.session, july.id, factories.official())
    db.session.commit()
    appeals.submit(db.session, july.id, provider_id=provider.id, staff=staff, root_cause="证照更新中",
                   corrective_actions="已提交新证", preventive_steps="提前 60 天续证")
    db.session.commit()
    # Under appeal, it counts: August proposes a fine.
    assert month(provider.id, date(2026, 8, 1), clock).proposed_sanction == Sanction.FINE
    appeals.decide(db.session, july.id, factories.official(), outcome="upheld", reason="已在办理续证")
    db.session.commit()
    # Overturned, it no longer counts: September starts from a warning again.
    assert month(provider.id, date(2026, 9, 1), clock).proposed_sanction == Sanction.WARNING
