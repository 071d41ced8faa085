"""The window a scorecard figure is measured over.

A fact belongs to a window ``(start, end]`` of UTC datetimes when
``start < at <= end``; the evaluator's windows are whole local days instead,
``[midnight - days, midnight)``.  A figure that is a state rather than a count
of events (expired documents) is read at the window's end, on its local
:attr:`Window.day`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from app import clock
from app.clock import now

DEFAULT_WINDOW_DAYS = 90


@dataclass(frozen=True)
class Window:
    """The half-open window ``(start, end]`` of aware datetimes.

    With ``whole_days`` it is ``[start, end)`` instead: whole local days from
    midnight to midnight (the evaluator's windows, :meth:`local_days`), so a
    fact at 00:00 on the as-of day belongs to the next evaluation.  ``zone``
    is the zone of its days (default: the community's, ``LINLI_TIMEZONE``).
    """

    start: datetime
    end: datetime
    whole_days: bool = False
    zone: ZoneInfo | None = field(default=None, compare=False)

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
        return cls(start.astimezone(timezone.utc), midnight.astimezone(timezone.utc), whole_days=True, zone=zone)

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)

    @property
    def day(self) -> date:
        """The local day at the window's end: the as-of day of a whole-days window
        (its end is that day's midnight), today for a window ending now.  Something
        valid "until" a date is still valid on that date and has expired after it."""
        return self.end.astimezone(self.zone or clock.zone()).date()

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
