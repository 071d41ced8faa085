"""Anomaly flags: each rule's test in one place, and the one way a flag is written.

A rule is a small function ``rule(session, booking, record) -> Finding | None``:
it reads the closed visit (its booking's times, its :class:`VisitRecord`) and, for
the cross-visit rules, the other visits it is compared with.  A finding carries the
evidence the rule saw (the numbers, the thresholds, the other visits' ids), so an
official reads on the flag exactly why it was raised.

- :data:`VISIT_RULES` look at one visit; :data:`CROSS_VISIT_RULES` compare it with
  others and also flag those others (with evidence that points back).
- :func:`check_closed_visit` runs every rule; it is connected to
  :data:`~providers.visits.verification.visit_closed` (inside the check-out
  transaction).  :func:`recheck_recent` runs the cross-visit rules again over the
  recent visits (a visit closed later can complete a pattern).
- :func:`raise_flag` stores a flag once per visit and rule (a second raise of the
  same rule on the same visit keeps the first and its evidence).
- :func:`clear_flag`: an official clears a flag with a reason (audited).

"The carer" of a visit is ``VisitRecord.checked_in_by_id`` (the user who checked
in): the records carry no separate carer column.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.clock import local, now, zone
from app.errors import Conflict, Forbidden, Invalid
from app.models import User
from providers.bookings.models import Booking
from providers.visits.geo import distance_m
from providers.visits.models import FlagRule, VerifiedBy, VisitFlag, VisitPhoto, VisitRecord

# -- thresholds of the cross-visit rules (the single-visit ones are settings:
#    VISIT_RADIUS_M, VISIT_MIN_SHARE_PERCENT, VISIT_BACKFILL_HOURS in providers/visits) --
# One device used for this many different carers' check-ins ...
SHARED_DEVICE_MIN_CARERS = 3
# ... within this many days.
SHARED_DEVICE_WINDOW = timedelta(days=30)
# Two check-ins this close are "one place" (a building, not a flat: ~50 m).
PLACE_RADIUS_M = 50
# One place used for this many different carers' check-ins on one local day.
SHARED_PLACE_MIN_CARERS = 3
# This many visits closed from one place ...
BURST_MIN_VISITS = 3
# ... within this span.
BURST_WINDOW = timedelta(minutes=10)
# The recheck job looks at visits closed this far back.
RECHECK_WINDOW = timedelta(days=2)
MAX_REASON = 1000

# Degrees of latitude per metre (a first cut in SQL before the exact distance).
_DEG_PER_M = 1 / 111_320


@dataclass
class Finding:
    """What a rule found: its evidence, and the other visits involved (flagged too)."""

    evidence: dict
    others: list[int] = field(default_factory=list)


def _setting(name: str) -> int:
    return int(current_app.config[name])


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 1)


# -- single-visit rules --------------------------------------------------------------------


def no_location(session: Session, booking: Booking, record: VisitRecord) -> Finding | None:
    """The browser gave no location at check-in or at check-out."""
    missing = [stage for stage, lat in (("check_in", record.check_in_lat), ("check_out", record.check_out_lat))
               if lat is None]
    return Finding({"missing": missing}) if missing else None


def outside_radius(session: Session, booking: Booking, record: VisitRecord) -> Finding | None:
    """Checked in or out farther than VISIT_RADIUS_M from the resident's home (a visit
    without a home location on file is not judged here)."""
    radius = _setting("VISIT_RADIUS_M")
    distances = {"check_in_distance_m": record.check_in_distance_m,
                 "check_out_distance_m": record.check_out_distance_m}
    if not any(d is not None and d > radius for d in distances.values()):
        return None
    return Finding({**distances, "radius_m": radius})


def short_duration(session: Session, booking: Booking, record: VisitRecord) -> Finding | None:
    """In service for less than VISIT_MIN_SHARE_PERCENT of the slot's duration."""
    if booking.checked_in_at is None or booking.completed_at is None:
        return None
    share = _setting("VISIT_MIN_SHARE_PERCENT")
    served = booking.completed_at - booking.checked_in_at
    planned = booking.ends_at - booking.starts_at
    if served * 100 >= planned * share:
        return None
    return Finding({"served_minutes": _minutes(served), "planned_minutes": _minutes(planned),
                    "min_share_percent": share, "reason": record.short_reason})


def no_code(session: Session, booking: Booking, record: VisitRecord) -> Finding | None:
    """Closed without the resident's visit code or a card code."""
    if record.verified_by in (VerifiedBy.CODE, VerifiedBy.CARD):
        return None
    return Finding({"verified_by": str(record.verified_by) if record.verified_by else None})


def code_locked(session: Session, booking: Booking, record: VisitRecord) -> Finding | None:
    """The visit code was entered wrong until it locked."""
    if record.code_locked_at is None:
        return None
    return Finding({"attempts": record.code_attempts})


def backfilled(session: Session, booking: Booking, record: VisitRecord) -> Finding | None:
    """Checked out more than VISIT_BACKFILL_HOURS after the slot's end."""
    if booking.completed_at is None:
        return None
    hours = _setting("VISIT_BACKFILL_HOURS")
    late = booking.completed_at - booking.ends_at
    if late <= timedelta(hours=hours):
        return None
    return Finding({"minutes_after_end": _minutes(late), "limit_hours": hours})


# -- cross-visit rules ----------------------------------------------------------------------


def _closed_visits():
    """Bookings joined to their visit records (the rows the cross-visit rules compare)."""
    return sa.select(Booking.id, Booking.checked_in_at, Booking.completed_at, VisitRecord).join(
        VisitRecord, VisitRecord.booking_id == Booking.id)


def _carer_key(carer_id: int | None, checked_in_by_id: int | None):
    """Who delivered the visit: the booking's assigned carer (providers.carers), or, for a
    visit accepted before carers were assigned, the staff account that checked in."""
    if carer_id is not None:
        return ("carer", carer_id)
    return ("staff", checked_in_by_id) if checked_in_by_id is not None else None


def carer_overlap(session: Session, booking: Booking, record: VisitRecord) -> Finding | None:
    """The carer was in another visit at the same time (that visit's check-in before this
    one's check-out, and its check-out — or still open — after this one's check-in).  The
    carer is the booking's assigned one; without one, the staff account that checked in."""
    if booking.checked_in_at is None or booking.completed_at is None:
        return None
    if booking.carer_id is not None:
        same_carer = Booking.carer_id == booking.carer_id
        evidence = {"carer_id": booking.carer_id}
    elif record.checked_in_by_id is not None:
        same_carer = sa.and_(Booking.carer_id.is_(None), VisitRecord.checked_in_by_id == record.checked_in_by_id)
        evidence = {"staff_id": record.checked_in_by_id}
    else:
        return None
    others = session.scalars(
        sa.select(Booking.id).join(VisitRecord, VisitRecord.booking_id == Booking.id).where(
            same_carer,
            Booking.id != booking.id,
            Booking.checked_in_at < booking.completed_at,
            sa.or_(Booking.completed_at.is_(None), Booking.completed_at > booking.checked_in_at),
        ).order_by(Booking.id)
    ).all()
    if not others:
        return None
    return Finding({**evidence, "visits": list(others)}, list(others))


def shared_device(session: Session, booking: Booking, record: VisitRecord) -> Finding | None:
    """One device checked in SHARED_DEVICE_MIN_CARERS or more different carers within
    SHARED_DEVICE_WINDOW (before or after this check-in)."""
    if not record.check_in_device or booking.checked_in_at is None:
        return None
    rows = session.execute(
        sa.select(Booking.id, Booking.carer_id, VisitRecord.checked_in_by_id)
        .join(VisitRecord, VisitRecord.booking_id == Booking.id)
        .where(VisitRecord.check_in_device == record.check_in_device,
               sa.or_(Booking.carer_id.is_not(None), VisitRecord.checked_in_by_id.is_not(None)),
               Booking.checked_in_at > booking.checked_in_at - SHARED_DEVICE_WINDOW,
               Booking.checked_in_at < booking.checked_in_at + SHARED_DEVICE_WINDOW)
        .order_by(Booking.id)
    ).all()
    carers = {_carer_key(carer, staff) for _, carer, staff in rows}
    if len(carers) < SHARED_DEVICE_MIN_CARERS:
        return None
    others = [bid for bid, _carer, _staff in rows if bid != booking.id]
    return Finding({"carers": len(carers), "min_carers": SHARED_DEVICE_MIN_CARERS,
                    "window_days": SHARED_DEVICE_WINDOW.days, "visits": others}, others)


def _near(lat_col, lon_col, lat: float, lon: float, metres: float):
    """SQL: a box around (lat, lon) a little larger than ``metres`` (the exact distance
    is then measured in Python)."""
    dlat = metres * _DEG_PER_M * 1.1
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    return sa.and_(lat_col.between(lat - dlat, lat + dlat), lon_col.between(lon - dlon, lon + dlon))


def _local_day(at: datetime) -> tuple[datetime, datetime]:
    day = local(at).date()
    start = datetime.combine(day, time(0), tzinfo=zone()).astimezone(timezone.utc)
    return start, start + timedelta(days=1)


def shared_place(session: Session, booking: Booking, record: VisitRecord) -> Finding | None:
    """One place (check-ins within PLACE_RADIUS_M of each other) used for the check-ins
    of SHARED_PLACE_MIN_CARERS or more different carers on one local day."""
    if record.check_in_lat is None or booking.checked_in_at is None:
        return None
    start, end = _local_day(booking.checked_in_at)
    rows = session.execute(
        sa.select(Booking.id, Booking.carer_id, VisitRecord.checked_in_by_id, VisitRecord.check_in_lat,
                  VisitRecord.check_in_lon)
        .join(VisitRecord, VisitRecord.booking_id == Booking.id)
        .where(sa.or_(Booking.carer_id.is_not(None), VisitRecord.checked_in_by_id.is_not(None)),
               Booking.checked_in_at >= start, Booking.checked_in_at < end,
               _near(VisitRecord.check_in_lat, VisitRecord.check_in_lon, record.check_in_lat, record.check_in_lon,
                     PLACE_RADIUS_M))
        .order_by(Booking.id)
    ).all()
    near = [(bid, _carer_key(carer, staff)) for bid, carer, staff, lat, lon in rows
            if distance_m(lat, lon, record.check_in_lat, record.check_in_lon) <= PLACE_RADIUS_M]
    carers = {carer for _, carer in near}
    if len(carers) < SHARED_PLACE_MIN_CARERS:
        return None
    others = [bid for bid, _ in near if bid != booking.id]
    return Finding({"carers": len(carers), "min_carers": SHARED_PLACE_MIN_CARERS, "radius_m": PLACE_RADIUS_M,
                    "day": local(booking.checked_in_at).date().isoformat(), "visits": others}, others)


def same_photo(session: Session, booking: Booking, record: VisitRecord) -> Finding | None:
    """A photo of this visit (by its sha256) is also on other visits."""
    rows = session.execute(
        sa.select(VisitPhoto.booking_id, VisitPhoto.sha256)
        .where(VisitPhoto.sha256.in_(sa.select(VisitPhoto.sha256).where(VisitPhoto.booking_id == booking.id)),
               VisitPhoto.booking_id != booking.id)
        .order_by(VisitPhoto.booking_id)
    ).all()
    if not rows:
        return None
    others = sorted({bid for bid, _ in rows})
    return Finding({"photos": sorted({sha[:12] for _, sha in rows}), "visits": others}, others)


def burst_closures(session: Session, booking: Booking, record: VisitRecord) -> Finding | None:
    """BURST_MIN_VISITS or more visits (this one among them) checked out within
    BURST_WINDOW of each other from one place (check-outs within PLACE_RADIUS_M)."""
    if record.check_out_lat is None or booking.completed_at is None:
        return None
    at = booking.completed_at
    rows = session.execute(
        sa.select(Booking.id, Booking.completed_at, VisitRecord.check_out_lat, VisitRecord.check_out_lon)
        .join(VisitRecord, VisitRecord.booking_id == Booking.id)
        .where(Booking.id != booking.id, Booking.completed_at >= at - BURST_WINDOW,
               Booking.completed_at <= at + BURST_WINDOW,
               _near(VisitRecord.check_out_lat, VisitRecord.check_out_lon, record.check_out_lat,
                     record.check_out_lon, PLACE_RADIUS_M))
    ).all()
    near = sorted((closed, bid) for bid, closed, lat, lon in rows
                  if distance_m(lat, lon, record.check_out_lat, record.check_out_lon) <= PLACE_RADIUS_M)
    # The largest group inside one window of BURST_WINDOW that contains this visit.
    best: list[int] = []
    for start, _ in [(at, None)] + near:
        if start > at:
            break
        group = [bid for closed, bid in near if start <= closed <= start + BURST_WINDOW]
        if at <= start + BURST_WINDOW and len(group) > len(best):
            best = group
    if len(best) + 1 < BURST_MIN_VISITS:
        return None
    others = sorted(best)
    return Finding({"visits_closed": len(others) + 1, "min_visits": BURST_MIN_VISITS,
                    "window_minutes": int(BURST_WINDOW.total_seconds() // 60), "radius_m": PLACE_RADIUS_M,
                    "visits": others}, others)


Rule = Callable[[Session, Booking, VisitRecord], Finding | None]

VISIT_RULES: dict[FlagRule, Rule] = {
    FlagRule.NO_LOCATION: no_location,
    FlagRule.OUTSIDE_RADIUS: outside_radius,
    FlagRule.SHORT_DURATION: short_duration,
    FlagRule.NO_CODE: no_code,
    FlagRule.CODE_LOCKED: code_locked,
    FlagRule.BACKFILLED: backfilled,
}
CROSS_VISIT_RULES: dict[FlagRule, Rule] = {
    FlagRule.CARER_OVERLAP: carer_overlap,
    FlagRule.SHARED_DEVICE: shared_device,
    FlagRule.SHARED_PLACE: shared_place,
    FlagRule.SAME_PHOTO: same_photo,
    FlagRule.BURST_CLOSURES: burst_closures,
}


# -- running the rules ----------------------------------------------------------------------


def _apply(session: Session, booking: Booking, record: VisitRecord, rules: dict[FlagRule, Rule]) -> list[VisitFlag]:
    raised = []
    for rule, test in rules.items():
        finding = test(session, booking, record)
        if finding is None:
            continue
        raised.append(raise_flag(session, booking, rule, finding.evidence))
        for other_id in finding.others:
            other = session.get(Booking, other_id)
            raised.append(raise_flag(session, other, rule, {**finding.evidence, "visits": [booking.id],
                                                            "found_from": booking.id}))
    return raised


def check_closed_visit(session: Session, booking: Booking, record: VisitRecord) -> list[VisitFlag]:
    """Run every rule on a visit just checked out (flags raised on it and on the
    other visits a cross-visit rule found)."""
    session.flush()
    return _apply(session, booking, record, VISIT_RULES) + _apply(session, booking, record, CROSS_VISIT_RULES)


def on_visit_closed(session: Session, *, booking: Booking, record: VisitRecord, **_ignored) -> None:
    """Receiver of ``visit_closed`` (sent in the check-out transaction)."""
    check_closed_visit(session, booking, record)


def recheck_recent(session: Session) -> int:
    """Job: the cross-visit rules again over the visits closed in the last
    RECHECK_WINDOW; returns the number of flags raised (new or already there)."""
    since = now() - RECHECK_WINDOW
    pairs = session.execute(
        sa.select(Booking, VisitRecord).join(VisitRecord, VisitRecord.booking_id == Booking.id)
        .where(Booking.completed_at >= since).order_by(Booking.id)
    ).all()
    return sum(len(_apply(session, booking, record, CROSS_VISIT_RULES)) for booking, record in pairs)


def raise_flag(session: Session, booking: Booking, rule: FlagRule, evidence: dict) -> VisitFlag:
    """The visit's flag for ``rule``: the stored one, or a new one with ``evidence``.

    Two check-outs at once (a cross-visit rule flags the other visit too) or a check-out
    during the hourly recheck may raise the same flag together: the insert runs in a
    savepoint, and the one that loses the unique (visit, rule) key reads the winner's."""
    def stored():
        return session.scalar(sa.select(VisitFlag).where(VisitFlag.booking_id == booking.id, VisitFlag.rule == rule))

    flag = stored()
    if flag is not None:
        return flag
    try:
        with session.begin_nested():
            flag = VisitFlag(booking_id=booking.id, rule=rule, evidence=evidence, raised_at=now())
            session.add(flag)
            session.flush()
    except IntegrityError:
        return stored()
    return flag


def clear_flag(session: Session, flag: VisitFlag, official: User, reason: str) -> VisitFlag:
    """An official clears a flag with a reason (audited ``visit_flag.cleared``)."""
    if not official.is_official:
        raise Forbidden(_l("Only officials can clear a flag."))
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Give a reason for clearing this flag."), field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(_l("The reason is too long (1000 characters at most)."), field="reason")
    if flag.cleared_at is not None:
        raise Conflict(_l("This flag is already cleared."))
    flag.cleared_at = now()
    flag.cleared_by_id = official.id
    flag.clear_reason = reason
    session.flush()
    audit.record(session, actor=official, action="visit_flag.cleared", object_type="visit_flag",
                 object_id=flag.id, before={"cleared": False, "rule": str(flag.rule), "booking_id": flag.booking_id},
                 after={"cleared": True}, reason=reason)
    return flag
