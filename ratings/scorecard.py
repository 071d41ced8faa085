"""The provider scorecard: every figure defined once, as a database query.

A figure is measured over a window ``(start, end]`` of UTC datetimes: a fact
belongs to it when ``start < at <= end`` (:class:`Window`).  Each figure is a
small metric object that can produce

- ``per_provider(window)``: a select of ``(provider_id, value)`` for ALL
  providers at once (``GROUP BY provider_id``), and
- ``members(window, provider_id)``: a select of the ids (bookings, complaints or
  ratings) behind the figure for one provider,

both from the same ``where(window)`` condition, so a figure and its evidence
can never disagree.  :func:`figures_select` computes every figure of one or of
all providers in ONE statement (one pass over each table with conditional
sums), which is what the scorecard page, the API and the evaluator of issue 6
use.  Nothing here loops over bookings in Python.

Lateness, deadlines and outcomes are facts stored on the booking when they
happen (``providers/bookings/models.py``); these definitions only read them.
Exclusions decided by officials (:mod:`ratings.supervision`) apply in
:func:`_counted_booking`, the one place every booking figure passes through;
the excluded bookings are a figure of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.clock import now
from providers.bookings.models import Booking, BookingStatus
from providers.catalogue import RATING_PRIOR_MEAN, RATING_PRIOR_WEIGHT, bayesian_mean, bayesian_mean_sql
from providers.models import Provider
from ratings.models import Complaint, ComplaintStatus, Rating
from ratings.supervision.models import BookingExclusion

S = BookingStatus
DEFAULT_WINDOW_DAYS = 90

# Bookings that were due to happen: the provider had to serve them (or did not).
DUE_AT_START = (S.COMPLETED, S.NO_SHOW_PROVIDER, S.NO_SHOW_RESIDENT, S.CANCELLED_BY_PROVIDER)


# --- The window ---------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The half-open window ``(start, end]`` of aware datetimes.

    With ``whole_days`` it is ``[start, end)`` instead: whole local days from
    midnight to midnight (the evaluator's windows, :meth:`local_days`), so a
    fact at 00:00 on the as-of day belongs to the next evaluation.
    """

    start: datetime
    end: datetime
    whole_days: bool = False

    def __post_init__(self):
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a scorecard window needs aware datetimes")
        if not self.start < self.end:
            raise ValueError("a scorecard window must end after it starts")

    @classmethod
    def ending(cls, end: datetime, days: int) -> Window:
        return cls(end - timedelta(days=days), end)

    @classmethod
    def local_days(cls, end: datetime, days: int, zone) -> Window:
        """The ``days`` whole local days (in ``zone``) before ``end``'s local midnight:
        ``[midnight - days, midnight)``, each bound a local midnight."""
        last = end.astimezone(zone).date()
        midnight = datetime.combine(last, time(0), tzinfo=zone)
        start = datetime.combine(last - timedelta(days=days), time(0), tzinfo=zone)
        return cls(start.astimezone(timezone.utc), midnight.astimezone(timezone.utc), whole_days=True)

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)

    def holds(self, column) -> sa.ColumnElement[bool]:
        """``start < column <= end`` (``start <= column < end`` for whole days;
        a NULL column is outside)."""
        if self.whole_days:
            return sa.and_(column >= self.start, column < self.end)
        return sa.and_(column > self.start, column <= self.end)


def default_window_days() -> int:
    return int(current_app.config.get("SCORECARD_WINDOW_DAYS", DEFAULT_WINDOW_DAYS))


def current_window(days: int | None = None) -> Window:
    """The window of ``days`` (default: config SCORECARD_WINDOW_DAYS) ending now."""
    return Window.ending(now(), days or default_window_days())


# --- What a figure counts -------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """The kind of row a figure counts: its table, id and provider columns."""

    name: str
    model: type

    @property
    def id(self):
        return self.model.id

    @property
    def provider_id(self):
        return self.model.provider_id


BOOKINGS = Subject("booking", Booking)
COMPLAINTS = Subject("complaint", Complaint)
RATINGS = Subject("rating", Rating)


def _counted_booking() -> sa.ColumnElement[bool]:
    """Bookings that count against their provider: all but those an official excluded
    (lateness or cancellation outside the provider's control, :mod:`ratings.supervision`).

    ``NOT IN`` (not a correlated ``NOT EXISTS``): the database reads the few
    exclusions once (a hashed subplan) instead of probing them per booking and figure.
    """
    return Booking.id.not_in(sa.select(BookingExclusion.booking_id))


def _excluded_booking() -> sa.ColumnElement[bool]:
    return Booking.id.in_(sa.select(BookingExclusion.booking_id))


@dataclass(frozen=True)
class CountMetric:
    """A number of rows (bookings, complaints or ratings) matching a rule in the window."""

    key: str
    label: object  # lazy string
    explains: object  # lazy string: the rule, in words, for the page
    subject: Subject
    rule: Callable[[Window], sa.ColumnElement[bool]]
    kind: str = field(default="count", init=False)
    counted: bool = True  # False: the figure of excluded bookings itself

    def where(self, window: Window) -> sa.ColumnElement[bool]:
        condition = self.rule(window)
        if self.subject is BOOKINGS and self.counted:
            condition = sa.and_(condition, _counted_booking())
        return condition

    def per_provider(self, window: Window) -> sa.Select:
        """``(provider_id, value)`` for every provider with at least one row."""
        return (
            sa.select(self.subject.provider_id.label("provider_id"), sa.func.count().label("value"))
            .where(self.where(window))
            .group_by(self.subject.provider_id)
        )

    def members(self, window: Window, provider_id: int) -> sa.Select:
        """The ids behind the figure for one provider (unordered, column ``id``)."""
        return sa.select(self.subject.id.label("id")).where(
            self.subject.provider_id == provider_id, self.where(window)
        )

    def tally(self, window: Window) -> sa.ColumnElement[int]:
        """The figure as a conditional sum, for one-pass aggregates over the subject's table."""
        return sa.func.coalesce(sa.func.sum(sa.case((self.where(window), 1), else_=0)), 0)


@dataclass(frozen=True)
class RateMetric:
    """``numerator / denominator`` of two booking counts (0 when nothing was due)."""

    key: str
    label: object
    explains: object
    numerator: CountMetric
    denominator: CountMetric
    kind: str = field(default="rate", init=False)

    @property
    def subject(self) -> Subject:
        return self.numerator.subject

    @staticmethod
    def ratio(numerator, denominator) -> sa.ColumnElement[float]:
        return sa.case(
            (denominator == 0, sa.literal(0.0, sa.Float)),
            else_=sa.cast(numerator, sa.Float) / sa.cast(denominator, sa.Float),
        )

    @staticmethod
    def value(numerator: int, denominator: int) -> float:
        return numerator / denominator if denominator else 0.0

    def per_provider(self, window: Window) -> sa.Select:
        return (
            sa.select(
                self.subject.provider_id.label("provider_id"),
                self.ratio(self.numerator.tally(window), self.denominator.tally(window)).label("value"),
            )
            .where(sa.or_(self.numerator.where(window), self.denominator.where(window)))
            .group_by(self.subject.provider_id)
        )

    def members(self, window: Window, provider_id: int) -> sa.Select:
        """The bookings of the numerator (the denominator has its own figure)."""
        return self.numerator.members(window, provider_id)


@dataclass(frozen=True)
class MeanMetric:
    """A mean of ``Rating.overall`` over the ratings a count metric selects."""

    key: str
    label: object
    explains: object
    ratings: CountMetric
    bayesian: bool
    kind: str = field(default="mean", init=False)

    @property
    def subject(self) -> Subject:
        return self.ratings.subject

    def expression(self, total, count) -> sa.ColumnElement[float]:
        if self.bayesian:
            return bayesian_mean_sql(total, count)
        return sa.case((count == 0, sa.null()), else_=sa.cast(total, sa.Float) / sa.cast(count, sa.Float))

    def value(self, total: int, count: int) -> float | None:
        if self.bayesian:
            return bayesian_mean(total, count)
        return total / count if count else None

    def per_provider(self, window: Window) -> sa.Select:
        return (
            sa.select(
                Rating.provider_id.label("provider_id"),
                self.expression(sa.func.sum(Rating.overall), sa.func.count(Rating.id)).label("value"),
            )
            .where(self.ratings.where(window))
            .group_by(Rating.provider_id)
        )

    def members(self, window: Window, provider_id: int) -> sa.Select:
        return self.ratings.members(window, provider_id)


# --- The figures ---------------------------------------------------------------

FINISHED = CountMetric(
    "finished_bookings", _l("Bookings finished"),
    _l("Completed bookings whose completion time falls in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.status == S.COMPLETED, w.holds(Booking.completed_at)),
)
DUE = CountMetric(
    "due_bookings", _l("Bookings due"),
    _l("Bookings whose start falls in the window and that were completed, cancelled by the provider "
       "or missed by either side, plus requests that expired unanswered in the window. Rates are "
       "taken over these."),
    BOOKINGS,
    lambda w: sa.or_(
        sa.and_(Booking.status.in_(DUE_AT_START), w.holds(Booking.starts_at)),
        sa.and_(Booking.status == S.EXPIRED, w.holds(Booking.respond_by)),
    ),
)
LATE_RESPONSES = CountMetric(
    "late_responses", _l("Late responses"),
    _l("Requests answered after their respond-by time, or never answered (expired), with the "
       "respond-by time in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.late_response.is_(True), w.holds(Booking.respond_by)),
)
LATE_STARTS = CountMetric(
    "late_starts", _l("Late starts"),
    _l("Check-ins after the start plus the grace time, with the start in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.late_start.is_(True), w.holds(Booking.starts_at)),
)
LATE_FINISHES = CountMetric(
    "late_finishes", _l("Late finishes"),
    _l("Completions after the end plus the grace time, with the end in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.late_finish.is_(True), w.holds(Booking.ends_at)),
)
LATE_BOOKINGS = CountMetric(
    "late_bookings", _l("Late bookings"),
    _l("Bookings due in the window that had a late response, a late start or a late finish "
       "(each counted once), so the late rate is a share of the bookings due."),
    BOOKINGS,
    lambda w: sa.and_(
        DUE.rule(w),
        sa.or_(Booking.late_response.is_(True), Booking.late_start.is_(True), Booking.late_finish.is_(True)),
    ),
)
PROVIDER_CANCELLATIONS = CountMetric(
    "provider_cancellations", _l("Cancelled by the provider"),
    _l("Bookings the provider cancelled, with the start in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.status == S.CANCELLED_BY_PROVIDER, w.holds(Booking.starts_at)),
)
PROVIDER_NO_SHOWS = CountMetric(
    "provider_no_shows", _l("Provider did not come"),
    _l("Bookings where the provider did not come (confirmed), with the start in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.status == S.NO_SHOW_PROVIDER, w.holds(Booking.starts_at)),
)
CANCELLATIONS_AND_NO_SHOWS = CountMetric(
    "cancellations_and_no_shows", _l("Provider cancellations and no-shows"),
    _l("Both of the above together."),
    BOOKINGS, lambda w: sa.or_(PROVIDER_CANCELLATIONS.rule(w), PROVIDER_NO_SHOWS.rule(w)),
)
EXPIRED_REQUESTS = CountMetric(
    "expired_requests", _l("Expired requests"),
    _l("Requests nobody answered before the respond-by time, with that time in the window."),
    BOOKINGS, lambda w: sa.and_(Booking.status == S.EXPIRED, w.holds(Booking.respond_by)),
)
EXCLUDED_BOOKINGS = CountMetric(
    "excluded_bookings", _l("Excluded by an official"),
    _l("Bookings whose lateness or cancellation an official found outside the provider's control "
       "(the resident's fault, force majeure), with the start in the window. They count in no other "
       "figure."),
    BOOKINGS, lambda w: sa.and_(_excluded_booking(), w.holds(Booking.starts_at)), counted=False,
)
UPHELD_COMPLAINTS = CountMetric(
    "upheld_complaints", _l("Upheld complaints"),
    _l("Complaints an official upheld, with the decision in the window."),
    COMPLAINTS,
    lambda w: sa.and_(Complaint.status == ComplaintStatus.UPHELD, w.holds(Complaint.decided_at)),
)
RATING_COUNT = CountMetric(
    "rating_count", _l("Ratings"),
    _l("Published (not hidden) ratings given in the window."),
    RATINGS, lambda w: sa.and_(Rating.hidden_at.is_(None), w.holds(Rating.created_at)),
)
LATE_RATE = RateMetric(
    "late_rate", _l("Late rate"), _l("Late bookings divided by bookings due (0 when none were due)."),
    LATE_BOOKINGS, DUE,
)
CANCELLATION_RATE = RateMetric(
    "cancellation_rate", _l("Cancellation and no-show rate"),
    _l("Provider cancellations and no-shows divided by bookings due (0 when none were due)."),
    CANCELLATIONS_AND_NO_SHOWS, DUE,
)
RATING_MEAN = MeanMetric(
    "rating_mean", _l("Rating (weighted mean)"),
    _l("Mean overall score of the published ratings in the window, with a prior of %(prior).1f "
       "worth %(weight)d ratings, so a few ratings do not swing it.",
       prior=RATING_PRIOR_MEAN, weight=RATING_PRIOR_WEIGHT),
    RATING_COUNT, bayesian=True,
)
RATING_RAW_MEAN = MeanMetric(
    "rating_raw_mean", _l("Rating (plain mean)"),
    _l("Mean overall score of the published ratings in the window (none without ratings)."),
    RATING_COUNT, bayesian=False,
)

BOOKING_COUNTS = (FINISHED, DUE, LATE_RESPONSES, LATE_STARTS, LATE_FINISHES, LATE_BOOKINGS,
                  PROVIDER_CANCELLATIONS, PROVIDER_NO_SHOWS, CANCELLATIONS_AND_NO_SHOWS, EXPIRED_REQUESTS,
                  EXCLUDED_BOOKINGS)
COUNTS = (*BOOKING_COUNTS, UPHELD_COMPLAINTS, RATING_COUNT)
RATES = (LATE_RATE, CANCELLATION_RATE)
MEANS = (RATING_MEAN, RATING_RAW_MEAN)

# Display order: activity, lateness, reliability, complaints, ratings.
METRICS = {
    metric.key: metric
    for metric in (
        FINISHED, DUE, LATE_RESPONSES, LATE_STARTS, LATE_FINISHES, LATE_BOOKINGS, LATE_RATE,
        PROVIDER_CANCELLATIONS, PROVIDER_NO_SHOWS, CANCELLATIONS_AND_NO_SHOWS, CANCELLATION_RATE,
        EXPIRED_REQUESTS, EXCLUDED_BOOKINGS, UPHELD_COMPLAINTS, RATING_COUNT, RATING_MEAN, RATING_RAW_MEAN,
    )
}
Metric = CountMetric | RateMetric | MeanMetric


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

    One statement: each table is aggregated once with a conditional sum per
    figure, then joined to ``provider``; rates and means are computed in SQL
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
    sources = {**{m.key: bookings for m in BOOKING_COUNTS}, UPHELD_COMPLAINTS.key: complaints,
               RATING_COUNT.key: ratings, "rating_sum": ratings}
    columns = {key: sa.func.coalesce(source.c[key], 0) for key, source in sources.items()}
    for rate in RATES:
        columns[rate.key] = rate.ratio(columns[rate.numerator.key], columns[rate.denominator.key])
    for mean in MEANS:
        columns[mean.key] = mean.expression(columns["rating_sum"], columns[mean.ratings.key])
    stmt = (
        sa.select(Provider.id.label("provider_id"), *[column.label(key) for key, column in columns.items()])
        .outerjoin(bookings, bookings.c.provider_id == Provider.id)
        .outerjoin(complaints, complaints.c.provider_id == Provider.id)
        .outerjoin(ratings, ratings.c.provider_id == Provider.id)
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
    value: int | float | None
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
