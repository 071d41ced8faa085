"""Penalty reports: one per breach, with the proposed sanction from the ladder and the evidence.

The ladder (DOMAIN.md): within ``ladder_days`` (180), the 1st evaluation with a
breach proposes a warning, the 2nd a fine, the 3rd a suspension of 30 days,
the 4th (and later) removal.  Every breach of one evaluation gets the same
step: several breaches in one month are one step up the ladder, not several.
Which earlier reports count is decided in ONE place, :func:`counted_earlier`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload

from app.clock import now
from app.models import Role, User
from app.notifications import notify
from providers.models import ProviderStaff, provider_category, provider_community
from ratings import scorecard as sc
from ratings.supervision import rules
from ratings.supervision.evaluator import Evaluation, evidence_ids
from ratings.supervision.models import (
    LADDER,
    SANCTION_LABELS,
    SEVERITY_OF,
    EvaluationRun,
    PenaltyReport,
    ReportStatus,
    Sanction,
)

# Reports that count on the ladder: sanctions an official confirmed (review.py) —
# while the appeal window runs, under appeal, or in effect.  A report still waiting
# for review, dismissed, or overturned on appeal does not count.
COUNTED = (ReportStatus.CONFIRMED, ReportStatus.APPEALED, ReportStatus.EFFECTIVE)

# Parameters stored as codes, shown as labels (registered by the package's init_app).
NOTIFICATION_LABELS = {"threshold": {key: t.label for key, t in rules.THRESHOLDS.items()},
                       "sanction": {s.value: label for s, label in SANCTION_LABELS.items()}}


def counted_earlier(session: Session, provider_ids, as_of: datetime, days: int) -> dict[int, int]:
    """How many earlier evaluations (as-of in the ``days`` before ``as_of``) gave each
    provider a report that counts on the ladder (one statement)."""
    if not provider_ids:
        return {}
    stmt = (
        sa.select(PenaltyReport.provider_id, sa.func.count(sa.distinct(PenaltyReport.run_id)))
        .join(EvaluationRun, EvaluationRun.id == PenaltyReport.run_id)
        .where(
            PenaltyReport.provider_id.in_(list(provider_ids)),
            PenaltyReport.status.in_(COUNTED),
            EvaluationRun.as_of < as_of,
            EvaluationRun.as_of >= as_of - timedelta(days=days),
        )
        .group_by(PenaltyReport.provider_id)
    )
    return dict(session.execute(stmt).all())


def ladder(earlier: int) -> tuple[int, Sanction]:
    """The step (1–4) and sanction after ``earlier`` counted evaluations."""
    step = min(earlier + 1, len(LADDER))
    return step, LADDER[step - 1]


@dataclass
class Proposal:
    provider_id: int
    provider_name: str
    threshold: str
    value: float | None
    count: int
    denominator: int | None
    limits: dict
    window_start: datetime
    window_end: datetime
    step: int
    sanction: Sanction


def plan(session: Session, evaluation: Evaluation) -> list[Proposal]:
    """The reports an evaluation calls for (read-only: the dry run prints these)."""
    breaching = [r for r in evaluation.results if r.breaches]
    earlier = counted_earlier(session, [r.provider_id for r in breaching], evaluation.as_of,
                              evaluation.rule_set.ladder_days)
    proposals = []
    for result in breaching:
        step, sanction = ladder(earlier.get(result.provider_id, 0))
        for key in result.breaches:
            threshold = rules.THRESHOLDS[key]
            proposals.append(Proposal(
                provider_id=result.provider_id, provider_name=result.name, threshold=key,
                value=threshold.value(result.figures), count=result.figures[threshold.numerator] or 0,
                denominator=result.figures[threshold.denominator_key] if threshold.rate_field else None,
                limits=threshold.limits(evaluation.rule_set), window_start=result.window.start,
                window_end=result.window.end, step=step, sanction=sanction,
            ))
    return proposals


def create_reports(session: Session, run: EvaluationRun, evaluation: Evaluation, proposals: list[Proposal]) -> int:
    """Write the run's penalty reports (one multi-row insert) and notify; return how many."""
    if not proposals:
        return 0
    evidence = evidence_ids(session, evaluation)
    at = now()
    session.execute(sa.insert(PenaltyReport), [
        {
            "run_id": run.id, "provider_id": p.provider_id, "metric": p.threshold, "value": p.value,
            "count": p.count, "denominator": p.denominator, "threshold": p.limits,
            "window_start": p.window_start, "window_end": p.window_end, "ladder_step": p.step,
            "proposed_sanction": p.sanction, "severity": SEVERITY_OF[p.sanction],
            "status": ReportStatus.PROPOSED, "evidence": evidence.get((p.provider_id, p.threshold), {}),
            "created_at": at, "status_changed_at": at,
        }
        for p in proposals
    ])
    _notify(session, run, proposals)
    return len(proposals)


def _notify(session: Session, run: EvaluationRun, proposals: list[Proposal]) -> None:
    day = run.as_of.astimezone(rules.zone_of(run.rule_set)).date().isoformat()
    provider_ids = {p.provider_id for p in proposals}
    staff = session.execute(
        sa.select(ProviderStaff.provider_id, ProviderStaff.user_id).where(ProviderStaff.provider_id.in_(provider_ids))
    ).all()
    staff_of: dict[int, list[int]] = {}
    for provider_id, user_id in staff:
        staff_of.setdefault(provider_id, []).append(user_id)
    for p in proposals:
        notify(session, staff_of.get(p.provider_id, []), "supervision.report", link="/provider/scorecard#supervision",
               as_of=day, threshold=p.threshold, sanction=p.sanction.value)
    officials = session.scalars(
        sa.select(User.id).where(User.role.in_((Role.OFFICIAL, Role.ADMIN)), User.disabled_at.is_(None))
    ).all()
    notify(session, officials, "supervision.reports_ready", link=f"/official/supervision/runs/{run.id}",
           as_of=day, reports=len(proposals), providers=len(provider_ids))


# --- Reading -------------------------------------------------------------------------

REPORT_FILTERS = ("status", "provider_id", "community_id", "category_id", "severity", "run_id")


def reports_query(*, provider_id=None, status=None, community_id=None, category_id=None, severity=None,
                  run_id=None) -> sa.Select:
    """Penalty reports, oldest first, filtered (community and category through the provider)."""
    stmt = sa.select(PenaltyReport).options(joinedload(PenaltyReport.provider), joinedload(PenaltyReport.run))
    if provider_id is not None:
        stmt = stmt.where(PenaltyReport.provider_id == provider_id)
    if status is not None:
        stmt = stmt.where(PenaltyReport.status == status)
    if severity is not None:
        stmt = stmt.where(PenaltyReport.severity == severity)
    if run_id is not None:
        stmt = stmt.where(PenaltyReport.run_id == run_id)
    if community_id is not None:
        stmt = stmt.where(PenaltyReport.provider_id.in_(
            sa.select(provider_community.c.provider_id).where(provider_community.c.community_id == community_id)))
    if category_id is not None:
        stmt = stmt.where(PenaltyReport.provider_id.in_(
            sa.select(provider_category.c.provider_id).where(provider_category.c.category_id == category_id)))
    return stmt.order_by(PenaltyReport.created_at, PenaltyReport.id)


def report_for(session: Session, report_id: int, *, provider_id: int | None = None) -> PenaltyReport | None:
    """One report; with ``provider_id``, only if it is that provider's (else None: no IDOR)."""
    report = session.get(PenaltyReport, report_id)
    if report is None or (provider_id is not None and report.provider_id != provider_id):
        return None
    return report


# The proof-of-service thresholds: their evidence is visits, each listed with why it counts.
VISIT_THRESHOLDS = frozenset({"unverified_visits", "not_served", "flagged_visits"})


def visit_reasons(session: Session, report: PenaltyReport) -> dict[int, list[str]]:
    """``{booking_id: [why]}`` for the visits behind a proof-of-service report (unverified,
    open flags by rule, not served); empty for any other report.  Two statements."""
    if report.metric not in VISIT_THRESHOLDS:
        return {}
    return sc.visit_reasons(session, (report.evidence or {}).get("booking", []))


def threshold_label(key: str) -> str:
    threshold = rules.THRESHOLDS.get(key)
    return str(threshold.label) if threshold else key


def threshold_labels(keys) -> str:
    return ", ".join(threshold_label(key) for key in keys)


def describe_limits(limits: dict) -> str:
    """``above 10 % and at least 5`` / ``below 90 % with at least 10 visits`` /
    ``below 3.5 with at least 10 ratings`` / ``at least 3``."""
    if "rate_below_bp" in limits:
        return str(_l("below %(rate)s %% with at least %(count)s visits",
                      rate=_plain(limits["rate_below_bp"]), count=limits["min_count"]))
    if "rate_bp" in limits:
        return str(_l("above %(rate)s %% and at least %(count)s",
                      rate=_plain(limits["rate_bp"]), count=limits["min_count"]))
    if "below_x100" in limits:
        return str(_l("below %(mean)s with at least %(count)s ratings",
                      mean=_plain(limits["below_x100"]), count=limits["min_count"]))
    return str(_l("at least %(count)s", count=limits["min_count"]))


def _plain(hundredths: int) -> str:
    return f"{hundredths / 100:.2f}".rstrip("0").rstrip(".")
