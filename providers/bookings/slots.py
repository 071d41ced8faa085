"""Slots: when a listing can be booked, and taking or releasing a place.

A listing's weekly windows are in the community's local time; a window is cut
into slots of the listing's duration.  The places of a slot are counted in a
``booking_slot`` row, created on first use.  Taking a place is one conditional
UPDATE, which the database serialises: with one place left and twenty
requests at once, exactly one UPDATE matches.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.clock import zone
from app.errors import Conflict
from providers.bookings.models import BookingSlot
from providers.models import AvailabilityWindow, Listing


# Nobody can answer a request faster than this: slots sooner are not offered
# and cannot be booked.
MIN_LEAD = timedelta(hours=1)


def slot_starts_on(listing: Listing, day: date) -> list[tuple[datetime, AvailabilityWindow]]:
    """The slot start times (in UTC) of a listing on a local calendar day."""
    midnight = datetime.combine(day, time(0), tzinfo=zone())
    starts = []
    for window in listing.availability:
        if window.weekday != day.weekday():
            continue
        minute = window.start_minute
        while minute + listing.duration_minutes <= window.end_minute:
            # Aware + timedelta is wall-clock arithmetic in the local zone.
            starts.append(((midnight + timedelta(minutes=minute)).astimezone(timezone.utc), window))
            minute += listing.duration_minutes
    return sorted(starts, key=lambda pair: pair[0])


def window_for(listing: Listing, starts_at: datetime) -> AvailabilityWindow | None:
    """The availability window whose slot starts exactly at ``starts_at``, if any."""
    local_day = starts_at.astimezone(zone()).date()
    for start, window in slot_starts_on(listing, local_day):
        if start == starts_at:
            return window
    return None


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def take_place(session: Session, listing: Listing, starts_at: datetime, capacity: int) -> BookingSlot:
    """Take one place in the slot, or raise Conflict when it is full."""
    insert = _insert(session)
    session.execute(
        insert(BookingSlot)
        .values(listing_id=listing.id, starts_at=starts_at, capacity=capacity, taken=0)
        .on_conflict_do_nothing(index_elements=["listing_id", "starts_at"])
    )
    slot_id = session.scalar(
        sa.select(BookingSlot.id).where(
            BookingSlot.listing_id == listing.id, BookingSlot.starts_at == starts_at
        )
    )
    result = session.execute(
        sa.update(BookingSlot)
        .where(BookingSlot.id == slot_id, BookingSlot.taken < BookingSlot.capacity)
        .values(taken=BookingSlot.taken + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(_l("Sorry, this time slot was just taken. Please choose another time."), field="starts_at")
    return session.get(BookingSlot, slot_id)


def release_place(session: Session, slot_id: int) -> None:
    session.execute(
        sa.update(BookingSlot)
        .where(BookingSlot.id == slot_id, BookingSlot.taken > 0)
        .values(taken=BookingSlot.taken - 1)
        .execution_options(synchronize_session=False)
    )


def places_left(session: Session, listing: Listing, starts: list[datetime]) -> dict[datetime, int]:
    """Places left per start time (one query for the whole list)."""
    if not starts:
        return {}
    rows = session.execute(
        sa.select(BookingSlot.starts_at, BookingSlot.capacity - BookingSlot.taken).where(
            BookingSlot.listing_id == listing.id, BookingSlot.starts_at.in_(starts)
        )
    )
    return {start: left for start, left in rows}


def available_slots(session: Session, listing: Listing, *, days: int = 14) -> list[tuple[datetime, int]]:
    """Upcoming slot starts (UTC) of the next ``days`` local days with places left.

    Slots starting within the next hour are left out (nobody can answer that
    fast); full slots are left out.  One query for the places taken.
    """
    from app.clock import local, now

    current = now()
    first_day = local(current).date()
    candidates = []
    for offset in range(days):
        for start, window in slot_starts_on(listing, first_day + timedelta(days=offset)):
            if start > current + MIN_LEAD:
                candidates.append((start, window.capacity))
    taken = places_left(session, listing, [start for start, _ in candidates])
    result = []
    for start, capacity in candidates:
        left = taken.get(start, capacity)
        if left > 0:
            result.append((start, left))
    return result
