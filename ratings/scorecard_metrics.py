"""The kinds of scorecard figure: what a figure counts, and how.

Each figure is a small metric object that can produce

- ``where(window)``: the condition on its subject's rows (bookings, complaints,
  ratings or qualification documents),
- ``per_provider(window)``: a select of ``(provider_id, value)`` for ALL
  providers at once (``GROUP BY provider_id``), and
- ``members(window, provider_id)``: a select of the ids behind the figure for
  one provider,

the last two from the same ``where(window)``, so a figure and its evidence can
never disagree.  A :class:`CountMetric` counts rows, a :class:`RateMetric`
divides two booking counts, a :class:`MeanMetric` averages ratings.

Exclusions decided by officials (:mod:`ratings.supervision`) apply in
:func:`_counted_booking`, the one place every booking figure passes through;
the excluded bookings are a figure of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from providers.bookings.models import Booking
from providers.catalogue import bayesian_mean, bayesian_mean_sql
from providers.models import QualificationDocument
from ratings.models import Complaint, Rating
from ratings.scorecard_window import Window
from ratings.supervision.models import BookingExclusion


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
DOCUMENTS = Subject("document", QualificationDocument)


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
    """A number of rows (bookings, complaints, ratings or documents) matching a rule in the window."""

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


Metric = CountMetric | RateMetric | MeanMetric
