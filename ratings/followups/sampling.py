"""The month's follow-up sample: which visits go into the call queue.

For a month (YYYY-MM, local), each provider's programme-funded visits checked out
that month are ranked by a digest of (month, provider, booking id) and the first
``max(FOLLOW_UP_MIN_PER_PROVIDER, ⌈FOLLOW_UP_SHARE_PERCENT % of them⌉)`` are taken
(all of them when it has fewer).  The ranking depends on nothing but those ids, so
a rerun draws the same visits; each visit is queued once (a unique booking id,
inserted with ON CONFLICT DO NOTHING), so a rerun adds nothing.  Every visit of the
month with an open anomaly flag is queued as well (reason ``flagged``), whoever paid.

The programme of a call (whose evaluators may work it) is the one of the booking's
award; the award table is read by name, as ratings does not import billing.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.clock import now, zone
from app.errors import Invalid
from app.extensions import db
from providers.bookings.models import Booking, Funding
from providers.visits.models import VisitFlag
from ratings.followups.models import FollowUpCall, SampleReason
from ratings.supervision.runs import insert_ignoring_conflict

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass
class SampleOutcome:
    month: str
    sampled: int  # new calls drawn in the sample
    flagged: int  # new calls for flagged visits


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The month's start and the next month's start (UTC) for 'YYYY-MM' (local)."""
    found = MONTH.match(month or "")
    if not found:
        raise Invalid(_l("Give the month as YYYY-MM, e.g. 2026-11."), field="month")
    year, number = int(found[1]), int(found[2])
    start = date(year, number, 1)
    end = date(year + (number == 12), number % 12 + 1, 1)
    return tuple(datetime.combine(d, time(0), tzinfo=zone()).astimezone(timezone.utc) for d in (start, end))


def previous_month(at: datetime | None = None) -> str:
    local = (at or now()).astimezone(zone()).date().replace(day=1)
    year, number = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{number:02d}"


def sample_size(visits: int) -> int:
    """How many of a provider's ``visits`` the month samples."""
    share = int(current_app.config["FOLLOW_UP_SHARE_PERCENT"])
    minimum = int(current_app.config["FOLLOW_UP_MIN_PER_PROVIDER"])
    return min(visits, max(minimum, math.ceil(visits * share / 100)))


def rank(month: str, provider_id: int, booking_id: int) -> str:
    """The sample's order: a digest of the ids alone (the same on every rerun)."""
    return hashlib.sha256(f"{month}:{provider_id}:{booking_id}".encode()).hexdigest()


def _award_programme():
    """``programme_award.programme_id`` by award id (billing's table, read by name)."""
    return db.metadata.tables["programme_award"]


def sample_month(session: Session, month: str) -> SampleOutcome:
    """Queue the month's sample and its flagged visits (idempotent); flushes, never commits."""
    start, end = month_bounds(month)
    award = _award_programme()
    closed = sa.and_(Booking.completed_at >= start, Booking.completed_at < end)
    rows = session.execute(
        sa.select(Booking.id, Booking.provider_id, award.c.programme_id)
        .join(award, award.c.id == Booking.programme_award_id)
        .where(closed, Booking.funding == Funding.PROGRAMME)
    ).all()
    programme_of = {booking_id: programme_id for booking_id, _provider, programme_id in rows}
    by_provider: dict[int, list[int]] = {}
    for booking_id, provider_id, _programme in rows:
        by_provider.setdefault(provider_id, []).append(booking_id)
    chosen = []
    for provider_id, booking_ids in sorted(by_provider.items()):
        ordered = sorted(booking_ids, key=lambda b: rank(month, provider_id, b))
        chosen += [(b, provider_id) for b in ordered[:sample_size(len(ordered))]]
    flagged = session.execute(
        sa.select(Booking.id, Booking.provider_id, award.c.programme_id).distinct()
        .join(VisitFlag, VisitFlag.booking_id == Booking.id)
        .outerjoin(award, award.c.id == Booking.programme_award_id)
        .where(closed, VisitFlag.cleared_at.is_(None)).order_by(Booking.id)
    ).all()
    at = now()

    def insert(values: list[dict]) -> int:
        if not values:
            return 0
        return len(session.execute(
            insert_ignoring_conflict(session, FollowUpCall, values).returning(FollowUpCall.id)).all())

    sampled = insert([{"booking_id": b, "provider_id": p, "programme_id": programme_of[b], "month": month,
                       "reason": SampleReason.SAMPLED, "status": "queued", "attempts": 0, "note": "",
                       "created_at": at} for b, p in chosen])
    sampled_ids = {b for b, _ in chosen}
    extra = insert([{"booking_id": b, "provider_id": p, "programme_id": programme, "month": month,
                     "reason": SampleReason.FLAGGED, "status": "queued", "attempts": 0, "note": "",
                     "created_at": at} for b, p, programme in flagged if b not in sampled_ids])
    session.flush()
    return SampleOutcome(month, sampled, extra)
