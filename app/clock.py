"""The clock: one place that says what time it is.

Services ask :func:`now` instead of calling ``datetime.now`` so tests can
freeze and move time (``FrozenClock``) instead of sleeping.  Rules that speak of
days use the community's zone (:func:`local`), storage is always UTC.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_ZONE = "Asia/Shanghai"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime):
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(timezone.utc)

    def advance(self, **kwargs) -> datetime:
        self._at += timedelta(**kwargs)
        return self._at


def now() -> datetime:
    """The current time in UTC, from the app's clock when there is an app."""
    if has_app_context():
        return current_app.extensions["linli.clock"].now()
    return datetime.now(timezone.utc)


def zone() -> ZoneInfo:
    name = current_app.config.get("LINLI_TIMEZONE", DEFAULT_ZONE) if has_app_context() else DEFAULT_ZONE
    return ZoneInfo(name)


def local(at: datetime) -> datetime:
    """``at`` in the community's time zone (for display and day rules)."""
    return at.astimezone(zone())


def today() -> date:
    """Today's date in the community's time zone."""
    return local(now()).date()
