"""Arrangements for the review/appeal/sanction tests: a penalty report as the evaluator
would have written it, without running the evaluator."""

from __future__ import annotations

import itertools
from datetime import timedelta

from app.extensions import db
from ratings.supervision import rules
from ratings.supervision.models import SEVERITY_OF, EvaluationRun, PenaltyReport, ReportStatus, Sanction
from tests import factories
from tests.conftest import START

_days = itertools.count(1)


def run(as_of=None) -> EvaluationRun:
    rule_set = rules.current(db.session)
    made = EvaluationRun(as_of=as_of or START - timedelta(days=400 + next(_days)), rule_set_id=rule_set.id,
                         trigger="cli", grade_counts={})
    db.session.add(made)
    db.session.flush()
    return made


def report(provider, sanction: Sanction = Sanction.WARNING, *, metric: str = "late", run_obj=None,
           created_at=None) -> PenaltyReport:
    run_obj = run_obj or run()
    made = PenaltyReport(
        run_id=run_obj.id, provider_id=provider.id, metric=metric, value=0.12, count=6, denominator=50,
        threshold={"rate_bp": 1000, "min_count": 5}, window_start=run_obj.as_of - timedelta(days=90),
        window_end=run_obj.as_of, ladder_step=[*Sanction].index(sanction) + 1, proposed_sanction=sanction,
        severity=SEVERITY_OF[sanction], status=ReportStatus.PROPOSED, evidence={"booking": []},
        created_at=created_at or START - timedelta(days=1), status_changed_at=START - timedelta(days=1),
    )
    db.session.add(made)
    db.session.commit()
    return made


def provider_with_staff(**kwargs):
    provider = factories.provider(**kwargs)
    return provider, factories.staff(provider)
