"""The public league table: each provider's grade in the latest evaluation, per
community and category — **published grades only**.

A grade is published once every penalty report of that evaluation for the
provider is settled (dismissed, overturned or in effect): while a report is
proposed, confirmed (its appeal window running) or appealed, the provider is
left out.  A breach whose report was dismissed or overturned on appeal no
longer counts: the grade is worked out again without it (:func:`rules.grade`).
A grade an official changed on a provider's request for review
(:mod:`ratings.supervision.grade_reviews`) is published as changed.
Removed providers are never listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, contains_eager

from providers.models import Provider, ProviderStatus, provider_category, provider_community
from ratings.supervision import rules
from ratings.supervision.grade_reviews import changed_grades
from ratings.supervision.models import (
    GRADE_LABELS,
    EvaluationRun,
    Grade,
    PenaltyReport,
    ProviderSnapshot,
    ReportStatus,
)

GRADE_ORDER = (Grade.EXCELLENT, Grade.GOOD, Grade.QUALIFIED, Grade.UNQUALIFIED, Grade.NEW)
UNSETTLED = (ReportStatus.PROPOSED, ReportStatus.CONFIRMED, ReportStatus.APPEALED)
SET_ASIDE = (ReportStatus.DISMISSED, ReportStatus.OVERTURNED)


@dataclass
class LeagueRow:
    provider: Provider
    grade: Grade
    rating_mean: float | None
    rating_count: int
    finished_bookings: int

    @property
    def grade_label(self) -> str:
        return str(GRADE_LABELS[self.grade])


def latest_run(session: Session) -> EvaluationRun | None:
    return session.scalar(sa.select(EvaluationRun).order_by(EvaluationRun.as_of.desc()).limit(1))


def published_grade(run: EvaluationRun, snapshot: ProviderSnapshot, set_aside: set[str]) -> Grade:
    if not set_aside or snapshot.grade == Grade.NEW:
        return snapshot.grade
    breaches = [b for b in snapshot.breaches if b not in set_aside]
    near = [n for n in snapshot.near if n not in set_aside]
    return rules.grade(run.rule_set, snapshot.figures, breaches, near, is_new=False)


def league(session: Session, *, community_id: int | None = None,
           category_id: int | None = None) -> tuple[EvaluationRun | None, list[LeagueRow]]:
    """The latest run and its published rows, best grade first, then by rating (four statements)."""
    run = latest_run(session)
    if run is None:
        return None, []
    unsettled = sa.exists().where(PenaltyReport.run_id == run.id,
                                  PenaltyReport.provider_id == ProviderSnapshot.provider_id,
                                  PenaltyReport.status.in_(UNSETTLED))
    stmt = (sa.select(ProviderSnapshot).join(Provider, Provider.id == ProviderSnapshot.provider_id)
            .options(contains_eager(ProviderSnapshot.provider))
            .where(ProviderSnapshot.run_id == run.id, Provider.status == ProviderStatus.ACTIVE, ~unsettled))
    if community_id is not None:
        stmt = stmt.where(Provider.id.in_(sa.select(provider_community.c.provider_id)
                                          .where(provider_community.c.community_id == community_id)))
    if category_id is not None:
        stmt = stmt.where(Provider.id.in_(sa.select(provider_category.c.provider_id)
                                          .where(provider_category.c.category_id == category_id)))
    snapshots = session.scalars(stmt).all()
    aside: dict[int, set[str]] = {}
    for provider_id, metric in session.execute(
            sa.select(PenaltyReport.provider_id, PenaltyReport.metric)
            .where(PenaltyReport.run_id == run.id, PenaltyReport.status.in_(SET_ASIDE))):
        aside.setdefault(provider_id, set()).add(metric)
    changed = changed_grades(session, [s.id for s in snapshots])
    rows = [LeagueRow(provider=s.provider,
                      grade=changed.get(s.id) or published_grade(run, s, aside.get(s.provider_id, set())),
                      rating_mean=s.figures.get("rating_mean"), rating_count=s.figures.get("rating_count") or 0,
                      finished_bookings=s.figures.get("finished_bookings") or 0) for s in snapshots]
    rows.sort(key=lambda r: (GRADE_ORDER.index(r.grade), -(r.rating_mean or 0), r.provider.name))
    return run, rows


def as_of_text(run: EvaluationRun | None) -> datetime | None:
    return run.as_of if run else None
