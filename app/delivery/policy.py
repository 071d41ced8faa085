"""When a message may go out: quiet hours and the per-phone daily limit.

Both are rules of the recipient's day in the community's zone (Asia/Shanghai):

- Quiet hours (``QUIET_HOURS_START``–``QUIET_HOURS_END``, 22:00–08:00): a message
  that is not urgent, due inside them, waits until they end.  Urgent messages
  (log-in codes) go out at once.
- Daily limit (``SMS_DAILY_LIMIT`` texts per phone per local day): a text that is
  not urgent, over the limit, waits until the next day's quiet hours end.  Urgent
  texts go out regardless and count towards the limit.  Two workers checking the
  same phone at the same moment may each send one more (the count is read, not
  locked); the limit protects a person from floods, not a balance.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.clock import zone
from app.delivery.models import OutboxMessage, OutboxStatus

QUIET_CHANNELS = frozenset({"sms", "email"})  # channels that reach a person (not a webhook)


def _hours() -> tuple[int, int]:
    return current_app.config.get("QUIET_HOURS_START", 22), current_app.config.get("QUIET_HOURS_END", 8)


def in_quiet_hours(at: datetime) -> bool:
    start, end = _hours()
    hour = at.astimezone(zone()).hour
    if start == end:
        return False
    return hour >= start or hour < end if start > end else start <= hour < end


def quiet_hours_end(at: datetime) -> datetime:
    """The first moment at or after ``at`` outside the quiet hours (UTC)."""
    if not in_quiet_hours(at):
        return at
    _start, end = _hours()
    local = at.astimezone(zone())
    day = local.date() if local.hour < end else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end), tzinfo=zone()).astimezone(timezone.utc)


def not_before(at: datetime, *, channel: str, urgent: bool) -> datetime:
    """When a message due at ``at`` may first be sent."""
    if urgent or channel not in QUIET_CHANNELS:
        return at
    return quiet_hours_end(at)


def local_midnight(at: datetime) -> datetime:
    local = at.astimezone(zone())
    return datetime.combine(local.date(), time(0), tzinfo=zone()).astimezone(timezone.utc)


def sent_today(session: Session, phone: str, at: datetime) -> int:
    return session.scalar(
        sa.select(sa.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.channel == "sms", OutboxMessage.recipient == phone,
            OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.sent_at >= local_midnight(at),
        )
    ) or 0


def over_daily_limit(session: Session, phone: str, at: datetime) -> datetime | None:
    """The time to hold a text until when ``phone`` has had its day's texts, else None."""
    if sent_today(session, phone, at) < current_app.config.get("SMS_DAILY_LIMIT", 10):
        return None
    tomorrow = local_midnight(at) + timedelta(days=1, hours=1)  # safely inside the next local day
    return quiet_hours_end(local_midnight(tomorrow))
