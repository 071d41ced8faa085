"""The evaluator: (session, rule set, as-of) → every provider's figures, grade and breaches.

A pure function: it reads, never writes.  The figures are the scorecard's
(:func:`ratings.scorecard.figures_select`, one definition of each figure),
computed set-based for ALL providers in one statement per window: the normal
window (default 90 local days) and the long one (365) for providers with fewer
finished bookings than the minimum.  Expired qualification documents are one
of those figures (read on the as-of day, the windows' end); so are the
proof-of-service figures (:mod:`ratings.scorecard_visits`: verified, flagged
and not-served programme visits, follow-up satisfaction).  One more statement
finds the providers themselves; the grade and the breaches are then worked out
from those rows (no query per provider).

Windows are whole local days in the rule set's time zone ending at the as-of
day's midnight: for ``--as-of 2026-11-01`` the 90-day window is
``[2026-08-03 00:00, 2026-11-01 00:00)`` Asia/Shanghai.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from providers.models import Provider, ProviderStatus
from ratings import scorecard as sc
from ratings.supervision import rules
from ratings.supervision.models import Grade, RuleSet

# Who is evaluated: providers that serve (or served until suspended).
EVALUATED = (ProviderStatus.ACTIVE, ProviderStatus.SUSPENDED)


@dataclass
class ProviderResult:
    provider_id: int
    name: str
    active_since: datetime
    window: sc.Window
    figures: dict
    breaches: list[str] = field(default_factory=list)
    near: list[str] = field(default_factory=list)
    grade: Grade = Grade.GOOD

    @property
    def window_days(self) -> int:
        return round(self.window.days)

    @property
    def is_new(self) -> bool:
        return self.grade == Grade.NEW


@dataclass
class Evaluation:
    rule_set: RuleSet
    as_of: datetime
    results: list[ProviderResult]

    @property
    def breach_count(self) -> int:
        return sum(len(r.breaches) for r in self.results)

    def grade_counts(self) -> dict[str, int]:
        counts = {g.value: 0 for g in Grade}
        for r in self.results:
            counts[r.grade.value] += 1
        return counts


def as_of_day(day: date, rule_set: RuleSet) -> datetime:
    """Local midnight at the start of ``day`` in the rule set's zone, as UTC."""
    return datetime.combine(day, time(0), tzinfo=rules.zone_of(rule_set)).astimezone(timezone.utc)


def windows(rule_set: RuleSet, as_of: datetime) -> tuple[sc.Window, sc.Window]:
    zone = rules.zone_of(rule_set)
    return (sc.Window.local_days(as_of, rule_set.window_days, zone),
            sc.Window.local_days(as_of, rule_set.long_window_days, zone))


def _row_figures(row) -> dict:
    out = {}
    for key, metric in sc.METRICS.items():
        value = row[key]
        out[key] = None if value is None else (int(value) if metric.kind == "count" else float(value))
    out["rating_sum"] = int(row["rating_sum"] or 0)
    return out


def evaluate(session: Session, rule_set: RuleSet, as_of: datetime) -> Evaluation:
    """Every evaluated provider's figures, breaches, closeness and grade as of ``as_of``."""
    short, long = windows(rule_set, as_of)
    providers = session.execute(
        sa.select(Provider.id, Provider.name, Provider.activated_at)
        .where(Provider.status.in_(EVALUATED), Provider.activated_at.is_not(None), Provider.activated_at < short.end)
        .order_by(Provider.id)
    ).all()
    if not providers:
        return Evaluation(rule_set, as_of, [])
    normal = {row["provider_id"]: row for row in session.execute(sc.figures_select(short)).mappings()}
    # The wide window only for the providers with too few finished bookings in the
    # normal one (usually few: then only their rows are read).
    sparse = [pid for pid, _name, _at in providers if normal[pid][sc.FINISHED.key] < rule_set.min_finished_bookings]
    wide = {}
    if sparse:
        only = None if len(sparse) * 2 > len(providers) else sparse
        wide = {row["provider_id"]: row for row in session.execute(sc.figures_select(long, only)).mappings()}
    new_after = short.end - timedelta(days=rule_set.new_provider_days)
    results = []
    for provider_id, name, activated_at in providers:
        row, window = normal[provider_id], short
        if row[sc.FINISHED.key] < rule_set.min_finished_bookings:
            row, window = wide[provider_id], long
        figures = _row_figures(row)
        result = ProviderResult(provider_id, name, activated_at, window, figures)
        is_new = activated_at > new_after
        if not is_new:
            result.breaches = rules.breaches(rule_set, figures)
            result.near = rules.near(rule_set, figures)
        result.grade = rules.grade(rule_set, figures, result.breaches, result.near, is_new=is_new)
        results.append(result)
    return Evaluation(rule_set, as_of, results)


def evidence_ids(session: Session, evaluation: Evaluation) -> dict[tuple[int, str], dict[str, list[int]]]:
    """The ids behind every breach: ``{(provider_id, threshold): {subject: [ids]}}``.

    One statement per (threshold, window length) over all breaching providers at
    once, from the same ``members`` definitions the scorecard's evidence uses.
    """
    wanted: dict[tuple[str, int], list[ProviderResult]] = {}
    for result in evaluation.results:
        for key in result.breaches:
            wanted.setdefault((key, result.window_days), []).append(result)
    out: dict[tuple[int, str], dict[str, list[int]]] = {}
    for (key, _days), results in wanted.items():
        metric = rules.THRESHOLDS[key].evidence
        provider_ids = [r.provider_id for r in results]
        for r in results:
            out[(r.provider_id, key)] = {}
        window = results[0].window
        rows = session.execute(
            sa.select(metric.subject.provider_id, metric.subject.id)
            .where(metric.subject.provider_id.in_(provider_ids), metric.where(window))
            .order_by(metric.subject.provider_id, metric.subject.id)
        )
        for provider_id, member_id in rows:
            out[(provider_id, key)].setdefault(metric.subject.name, []).append(member_id)
    return out
