"""Evaluation runs: stored once per as-of time, with every provider's snapshot.

:func:`run_evaluation` first CLAIMS the as-of time with ``INSERT … ON CONFLICT
DO NOTHING`` on the unique ``supervision_run.as_of``: a second caller (a re-run,
a second scheduler process) inserts nothing and so writes nothing else.  On
PostgreSQL the second insert waits for the first transaction and then finds
the row; on SQLite callers serialise with ``BEGIN IMMEDIATE``
(:func:`app.db.write_transaction`, used by the CLI and the jobs).

The supervision page previews a run before storing it (:func:`preview`, which
writes nothing) and stores exactly what was previewed (:func:`store_previewed`):
the preview's :func:`fingerprint` travels with the store form, and a run whose
figures, grades or proposals differ from it is rolled back (:class:`Stale`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, contains_eager, joinedload

from app import audit
from flask_babel import lazy_gettext as _l

from app.clock import now
from app.errors import Conflict, Problems
from app.models import User
from ratings.supervision import rules
from ratings.supervision.evaluator import Evaluation, as_of_day, evaluate
from ratings.supervision.models import TRIGGER_LABELS, EvaluationRun, ProviderSnapshot, RuleSet
from ratings.supervision.reports import Proposal, create_reports, plan


@dataclass
class Outcome:
    evaluation: Evaluation | None  # None when the run existed already
    run: EvaluationRun | None  # None for a dry run
    created: bool
    proposals: list[Proposal]


def insert_ignoring_conflict(session: Session, model, values: dict | list[dict]):
    """``INSERT … ON CONFLICT DO NOTHING`` for the session's dialect."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(model).values(values).on_conflict_do_nothing()


def claim(session: Session, rule_set: RuleSet, as_of: datetime, trigger: str, actor: User | None) -> int | None:
    """The new run's id, or None when a run for ``as_of`` exists (or is being made)."""
    stmt = insert_ignoring_conflict(session, EvaluationRun, {
        "as_of": as_of, "rule_set_id": rule_set.id, "trigger": trigger,
        "started_by_id": actor.id if actor is not None else None, "created_at": now(),
        "provider_count": 0, "breach_count": 0, "report_count": 0, "grade_counts": {},
    }).returning(EvaluationRun.id)
    return session.execute(stmt).scalar_one_or_none()


def run_for(session: Session, as_of: datetime) -> EvaluationRun | None:
    return session.scalar(sa.select(EvaluationRun).where(EvaluationRun.as_of == as_of))


def run_evaluation(session: Session, as_of: datetime, *, trigger: str, actor: User | None = None,
                   dry_run: bool = False) -> Outcome:
    """Evaluate as of ``as_of`` with the version in force at the start of the judged period
    (:func:`rules.for_period`); store it unless ``dry_run``.

    Idempotent: when a run for ``as_of`` exists nothing is written and the
    existing run is returned (``created`` False).  Flushes, never commits.
    """
    rule_set = rules.for_period(session, as_of)
    if dry_run:
        evaluation = evaluate(session, rule_set, as_of)
        return Outcome(evaluation, None, False, plan(session, evaluation))
    run_id = claim(session, rule_set, as_of, trigger, actor)
    if run_id is None:
        return Outcome(None, run_for(session, as_of), False, [])
    run = session.get(EvaluationRun, run_id)
    evaluation = evaluate(session, rule_set, as_of)
    if evaluation.results:
        session.execute(sa.insert(ProviderSnapshot), [
            {
                "run_id": run.id, "provider_id": r.provider_id, "grade": r.grade, "active_since": r.active_since,
                "window_start": r.window.start, "window_end": r.window.end, "window_days": r.window_days,
                "figures": r.figures, "breaches": r.breaches, "near": r.near,
            }
            for r in evaluation.results
        ])
    proposals = plan(session, evaluation)
    run.report_count = create_reports(session, run, evaluation, proposals)
    run.provider_count = len(evaluation.results)
    run.breach_count = evaluation.breach_count
    run.grade_counts = evaluation.grade_counts()
    session.flush()
    if actor is not None:
        audit.record(session, actor=actor, action="supervision.run", object_type="supervision_run",
                     object_id=run.id, after={"as_of": as_of, "rule_set_version": rule_set.version,
                                              "reports": run.report_count})
    return Outcome(evaluation, run, True, proposals)


# --- Preview, then store what was previewed (the supervision page) ------------------------


def evaluation_time(session: Session, day, *, field: str = "as_of") -> datetime:
    """The as-of time of an evaluation day (local midnight), refusing a missing, malformed or
    future day with every problem at once (one field today: the day)."""
    problems = Problems()
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day.strip()) if day.strip() else None
        except ValueError:
            problems.add(_l("Give the day as YYYY-MM-DD, e.g. 2026-11-01."), field=field)
            day = None
        else:
            if day is None:
                problems.add(_l("Choose the day to evaluate as of."), field=field)
    elif day is None:
        problems.add(_l("Choose the day to evaluate as of."), field=field)
    at = None
    if day is not None:
        at = as_of_day(day, rules.current(session))
        if at > now():
            problems.add(_l("The as-of day is in the future: its figures are not known yet."), field=field)
    problems.raise_if_any()
    return at


def fingerprint(evaluation: Evaluation, proposals: list[Proposal]) -> str:
    """A digest of everything a run would store: rule set, windows, figures, grades, breaches,
    proposed reports.  Equal digests: the same run."""
    body = {
        "as_of": evaluation.as_of.isoformat(), "rule_set": [evaluation.rule_set.id, evaluation.rule_set.version],
        "results": [[r.provider_id, r.grade.value, r.window.start.isoformat(), r.window.end.isoformat(),
                     r.figures, r.breaches, r.near] for r in evaluation.results],
        "proposals": [[p.provider_id, p.threshold, p.value, p.count, p.denominator, p.step, p.sanction.value]
                      for p in proposals],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Preview:
    as_of: datetime
    evaluation: Evaluation
    proposals: list[Proposal]
    existing: EvaluationRun | None  # a run stored for this as-of already: storing changes nothing

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.evaluation, self.proposals)

    def proposals_of(self, provider_id: int) -> list[Proposal]:
        return [p for p in self.proposals if p.provider_id == provider_id]


def preview(session: Session, at: datetime) -> Preview:
    """What a run as of ``at`` would find and propose; reads only (the dry run)."""
    outcome = run_evaluation(session, at, trigger="page", dry_run=True)
    return Preview(at, outcome.evaluation, outcome.proposals, run_for(session, at))


class Stale(Conflict):
    """The figures changed between the preview and the store: nothing is stored."""


def store_previewed(session: Session, at: datetime, previewed: str, actor: User) -> Outcome:
    """Store the run as of ``at`` if it is exactly the previewed one (``previewed``: its
    fingerprint); else raise :class:`Stale` (the caller rolls back).  Run under
    :func:`app.db.write_transaction`; audited as ``supervision.run``.  Flushes, never commits."""
    if run_for(session, at) is not None:
        raise Conflict(_l("A run as of this day is stored already: nothing changed."))
    outcome = run_evaluation(session, at, trigger="page", actor=actor)
    if not outcome.created:
        raise Conflict(_l("A run as of this day is stored already: nothing changed."))
    if fingerprint(outcome.evaluation, outcome.proposals) != previewed:
        raise Stale(_l("The figures changed since your preview, so nothing was stored. Check the new preview "
                       "below and store it if it is right."))
    return outcome


def trigger_label(trigger: str) -> str:
    """Who started a run, in words (``trigger`` is stored as a code; labels in models.TRIGGER_LABELS)."""
    return str(TRIGGER_LABELS.get(trigger, trigger))


def runs(session: Session, limit: int | None = 100) -> list[EvaluationRun]:
    return list(session.scalars(
        sa.select(EvaluationRun).options(joinedload(EvaluationRun.rule_set))
        .order_by(EvaluationRun.as_of.desc()).limit(limit)))


def snapshots(session: Session, run_id: int) -> list[ProviderSnapshot]:
    return list(session.scalars(
        sa.select(ProviderSnapshot).options(joinedload(ProviderSnapshot.provider))
        .where(ProviderSnapshot.run_id == run_id).order_by(ProviderSnapshot.provider_id)))


def latest_snapshot(session: Session, provider_id: int) -> ProviderSnapshot | None:
    return session.scalar(
        sa.select(ProviderSnapshot).join(EvaluationRun, EvaluationRun.id == ProviderSnapshot.run_id)
        .options(contains_eager(ProviderSnapshot.run))
        .where(ProviderSnapshot.provider_id == provider_id).order_by(EvaluationRun.as_of.desc()).limit(1))
