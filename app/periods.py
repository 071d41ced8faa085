"""Calendar months in the community's time zone (settlements, penalties, subsidies).

A :class:`Period` is a month ``YYYY-MM`` of local dates (:func:`app.clock.zone`);
:meth:`Period.bounds` gives its ``[start, end)`` in UTC for queries on stored
(UTC) times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone

from flask_babel import lazy_gettext as _l

from app.clock import today, zone
from app.errors import Invalid

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """A calendar month in the community's time zone."""

    year: int
    month: int

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) of the month in UTC, from local midnights."""
        start = datetime.combine(self.first_day, time(0), tzinfo=zone())
        end = datetime.combine(self.next().first_day, time(0), tzinfo=zone())
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)

    def __str__(self) -> str:
        return self.key


def current_period() -> Period:
    day = today()
    return Period(day.year, day.month)


def parse_period(text: str | None, *, must_be_over: bool = True) -> Period:
    """``YYYY-MM`` → :class:`Period`; raises Invalid (field ``period``) for a malformed
    month, a future month, or (``must_be_over``) the current month."""
    match = _PERIOD_RE.match((text or "").strip())
    if not match:
        raise Invalid(_l("Give the month as YYYY-MM, for example 2026-10."), field="period")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 2000:
        raise Invalid(_l("There is no such month: %(period)s.", period=text), field="period")
    period = Period(year, month)
    current = current_period()
    if period.first_day > current.first_day:
        raise Invalid(_l("%(period)s is in the future.", period=period.key), field="period")
    if must_be_over and period == current:
        raise Invalid(_l("%(period)s has not ended yet; it can be settled from the 1st of next month.",
                         period=period.key), field="period")
    return period
