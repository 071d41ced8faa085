"""The provider scorecard: every figure defined once, as a database query.

The pieces, each small enough to read in one sitting:

- :mod:`ratings.scorecard_window`: the window ``(start, end]`` a figure is
  measured over (:class:`Window`, whole local days for the evaluator);
- :mod:`ratings.scorecard_metrics`: the kinds of figure (count, rate, mean),
  each with ``where(window)``, ``per_provider`` and ``members`` built from that
  one condition, so a figure and its evidence can never disagree;
- :mod:`ratings.scorecard_figures`: the figures themselves, :data:`METRICS`;
- this module: every figure of one or of all providers in ONE statement
  (:func:`figures_select`: one pass over each table with conditional sums),
  the ids behind them (:func:`members_select`) and the :class:`Scorecard`,
  which the scorecard page, the API and the evaluator use.  Nothing here loops
  over bookings in Python.

The names of those modules are re-exported here (``from ratings import
scorecard as sc``; ``sc.Window``, ``sc.LATE_RATE``…), so callers need one import.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from providers.models import Provider
from ratings.followups.models import FollowUpCall
from ratings.models import Rating
from ratings.scorecard_figures import (
    BOOKING_COUNTS,
    CANCELLATION_RATE,
    CANCELLATIONS_AND_NO_SHOWS,
    COUNTS,
    DUE,
    DUE_AT_START,
    EXCLUDED_BOOKINGS,
    EXPIRED_DOCUMENTS,
    EXPIRED_REQUESTS,
    FINISHED,
    LATE_BOOKINGS,
    LATE_FINISHES,
    LATE_RATE,
    LATE_RESPONSES,
    LATE_STARTS,
    MEANS,
    METRICS,
    PROVIDER_CANCELLATIONS,
    PROVIDER_NO_SHOWS,
    RATES,
    RATING_COUNT,
    RATING_MEAN,
    RATING_RAW_MEAN,
    UPHELD_COMPLAINTS,
)
from ratings.scorecard_metrics import (
    BOOKINGS,
    COMPLAINTS,
    DOCUMENTS,
    RATINGS,
    CountMetric,
    MeanMetric,
    Metric,
    RateMetric,
    Subject,
    _counted_booking,
)
from ratings.scorecard_visits import (
    FLAGGED_RATE,
    FLAGGED_VISITS,
    FOLLOW_UP_CALLS,
    FOLLOW_UP_SATISFACTION,
    FOLLOW_UPS,
    NOT_SERVED_VISITS,
    PROGRAMME_VISITS,
    UNVERIFIED_VISITS,
    VERIFIED_RATE,
    VERIFIED_VISITS,
    VISIT_COUNTS,
    VISIT_METRICS,
    SatisfactionMetric,
    satisfaction_mean,
    visit_facts,
    visit_reasons,
)
from ratings.scorecard_window import DEFAULT_WINDOW_DAYS, Window, current_window, default_window_days

__all__ = [
    "BOOKINGS", "BOOKING_COUNTS", "CANCELLATIONS_AND_NO_SHOWS", "CANCELLATION_RATE", "COMPLAINTS", "COUNTS",
    "DEFAULT_WINDOW_DAYS", "DOCUMENTS", "DUE", "DUE_AT_START", "EXCLUDED_BOOKINGS", "EXPIRED_DOCUMENTS",
    "EXPIRED_REQUESTS", "FINISHED", "LATE_BOOKINGS", "LATE_FINISHES", "LATE_RATE", "LATE_RESPONSES",
    "LATE_STARTS", "MEANS", "METRICS", "PROVIDER_CANCELLATIONS", "PROVIDER_NO_SHOWS", "RATES", "RATINGS",
    "RATING_COUNT", "RATING_MEAN", "RATING_RAW_MEAN", "UPHELD_COMPLAINTS", "CountMetric", "Figure",
    "MeanMetric", "Metric", "RateMetric", "Scorecard", "Subject", "Window", "_counted_booking",
    "FLAGGED_RATE", "FLAGGED_VISITS", "FOLLOW_UPS", "FOLLOW_UP_CALLS", "FOLLOW_UP_SATISFACTION", "NOT_SERVED_VISITS",
    "PROGRAMME_VISITS", "UNVERIFIED_VISITS", "VERIFIED_RATE", "VERIFIED_VISITS", "VISIT_COUNTS", "VISIT_METRICS",
    "SatisfactionMetric", "satisfaction_mean", "visit_facts", "visit_reasons", "all_providers", "current_window", "default_window_days", "figures_select", "members_select", "scorecard",
]


# --- Every figure at once -------------------------------------------------------


def _aggregate(subject: Subject, metrics, window: Window, provider_id: int | None, *extra):
    stmt = (
        sa.select(subject.provider_id.label("provider_id"),
                  *[m.tally(window).label(m.key) for m in metrics], *extra)
        .where(sa.or_(*[m.where(window) for m in metrics]))
        .group_by(subject.provider_id)
    )
    if provider_id is not None:
        stmt = stmt.where(_of(subject.provider_id, provider_id))
    return stmt.subquery(subject.name)


def _of(column, providers: int | Collection[int]):
    return column == providers if isinstance(providers, int) else column.in_(list(providers))


def figures_select(window: Window, provider_id: int | Collection[int] | None = None) -> sa.Select:
    """Every figure, one row per provider (every provider, or only ``provider_id``:
    one id or several).

    One statement: each table (bookings, complaints, ratings, documents,
    follow-up calls) is aggregated once with a conditional sum per figure, then joined to ``provider``; rates and means are computed in SQL
    from those sums.  Columns: ``provider_id``, one per key of :data:`METRICS`,
    and ``rating_sum`` (the sum of the overall scores behind the means).
    """
    bookings = _aggregate(BOOKINGS, BOOKING_COUNTS, window, provider_id)
    complaints = _aggregate(COMPLAINTS, (UPHELD_COMPLAINTS,), window, provider_id)
    ratings = _aggregate(
        RATINGS, (RATING_COUNT,), window, provider_id,
        sa.func.coalesce(sa.func.sum(sa.case((RATING_COUNT.where(window), Rating.overall), else_=0)), 0)
        .label("rating_sum"),
    )
    documents = _aggregate(DOCUMENTS, (EXPIRED_DOCUMENTS,), window, provider_id)
    calls = _aggregate(
        FOLLOW_UPS, (FOLLOW_UP_CALLS,), window, provider_id,
        sa.func.coalesce(sa.func.sum(sa.case((FOLLOW_UP_CALLS.where(window), FollowUpCall.satisfaction), else_=0)), 0)
        .label("satisfaction_sum"),
    )
    sources = {**{m.key: bookings for m in BOOKING_COUNTS}, UPHELD_COMPLAINTS.key: complaints,
               RATING_COUNT.key: ratings, "rating_sum": ratings, EXPIRED_DOCUMENTS.key: documents,
               FOLLOW_UP_CALLS.key: calls, "satisfaction_sum": calls}
    columns = {key: sa.func.coalesce(source.c[key], 0) for key, source in sources.items()}
    for rate in RATES:
        columns[rate.key] = rate.ratio(columns[rate.numerator.key], columns[rate.denominator.key])
    for mean in MEANS:
        columns[mean.key] = mean.expression(columns["rating_sum"], columns[mean.ratings.key])
    columns[FOLLOW_UP_SATISFACTION.key] = FOLLOW_UP_SATISFACTION.expression(
        columns["satisfaction_sum"], columns[FOLLOW_UP_CALLS.key])
    stmt = (
        sa.select(Provider.id.label("provider_id"), *[column.label(key) for key, column in columns.items()])
        .outerjoin(bookings, bookings.c.provider_id == Provider.id)
        .outerjoin(complaints, complaints.c.provider_id == Provider.id)
        .outerjoin(ratings, ratings.c.provider_id == Provider.id)
        .outerjoin(documents, documents.c.provider_id == Provider.id)
        .outerjoin(calls, calls.c.provider_id == Provider.id)
        .order_by(Provider.id)
    )
    if provider_id is not None:
        stmt = stmt.where(_of(Provider.id, provider_id))
    return stmt


def members_select(window: Window, provider_id: int, metrics=None) -> sa.Select:
    """``(metric, id)`` rows: the ids behind each figure of one provider, in one statement."""
    metrics = list(metrics or METRICS.values())
    parts = [
        sa.select(sa.literal(metric.key, sa.String).label("metric"), inner.c.id)
        for metric in metrics
        for inner in [metric.members(window, provider_id).subquery()]
    ]
    union = sa.union_all(*parts).subquery("members")
    return sa.select(union.c.metric, union.c.id).order_by(union.c.metric, union.c.id)


# --- One provider's scorecard ------------------------------------------------------


@dataclass
class Figure:
    metric: Metric
    value: int | float | Decimal | None
    ids: list[int] | None = None  # filled by with_ids=True

    @property
    def key(self) -> str:
        return self.metric.key


@dataclass
class Scorecard:
    provider_id: int
    window: Window
    figures: dict[str, Figure]

    def __getitem__(self, key: str) -> Figure:
        return self.figures[key]

    def values(self) -> dict[str, int | float | None]:
        return {key: figure.value for key, figure in self.figures.items()}


def _python_value(metric: Metric, value):
    if value is None:
        return None
    if isinstance(metric, SatisfactionMetric):
        return metric.exact(float(value))
    return int(value) if metric.kind == "count" else float(value)


def scorecard(session: Session, provider_id: int, window: Window, *, with_ids: bool = False) -> Scorecard:
    """Every figure of one provider (one statement; two with the ids behind them)."""
    row = session.execute(figures_select(window, provider_id)).mappings().one_or_none()
    figures = {
        key: Figure(metric, _python_value(metric, row[key]) if row is not None else None)
        for key, metric in METRICS.items()
    }
    if with_ids:
        for figure in figures.values():
            figure.ids = []
        for key, member_id in session.execute(members_select(window, provider_id)):
            figures[key].ids.append(member_id)
    return Scorecard(provider_id, window, figures)


def all_providers(session: Session, window: Window) -> dict[int, dict[str, int | float | None]]:
    """Every provider's figures (one statement), keyed by provider id."""
    rows = session.execute(figures_select(window)).mappings()
    return {
        row["provider_id"]: {key: _python_value(metric, row[key]) for key, metric in METRICS.items()}
        for row in rows
    }
