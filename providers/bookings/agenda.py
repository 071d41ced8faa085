"""Read-only booking queries for the pages: a provider's agenda and list, a resident's list.

Each function is one query whatever the number of bookings (the listing and the
resident or provider come in the same SELECT), so a busy week costs no more
queries than a quiet one.  Periods are local calendar days (Asia/Shanghai).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from app.clock import local, today, zone
from providers.bookings.models import OPEN, Booking, BookingStatus

S = BookingStatus

VIEWS = ("day", "week", "list")
LIST_PAGE_SIZE = 15  # a phone shows each as a card: 50 made a page 15,000 px long
RESIDENT_PAST_SHOWN = 50


@dataclass(frozen=True)
class Period:
    """The local days an agenda page shows, and the pages before and after it."""

    view: str
    day: date
    first: date
    days: int

    @property
    def last(self) -> date:
        return self.first + timedelta(days=self.days - 1)

    @property
    def previous(self) -> date:
        return self.first - timedelta(days=self.days)

    @property
    def next(self) -> date:
        return self.first + timedelta(days=self.days)

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]

    def utc_bounds(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first, time(0), tzinfo=zone()).astimezone(timezone.utc)
        end = datetime.combine(self.next, time(0), tzinfo=zone()).astimezone(timezone.utc)
        return start, end


def period(view: str, day: date) -> Period:
    """A day, or the Monday-to-Sunday week holding ``day``."""
    if view == "week":
        return Period("week", day, day - timedelta(days=day.weekday()), 7)
    return Period("day", day, day, 1)


def parse_day(text: str | None) -> date | None:
    """``YYYY-MM-DD`` as a date, or None when it is missing or not a date."""
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def parse_agenda_args(args) -> tuple[str, date, list[str]]:
    """``view`` and ``date`` from the query string; bad values fall back with a note."""
    notes = []
    view = (args.get("view") or "day").strip()
    if view not in VIEWS:
        notes.append("view")
        view = "day"
    day = parse_day(args.get("date"))
    if args.get("date") and day is None:
        notes.append("date")
    return view, day or today(), notes


def provider_bookings_between(session: Session, provider_id: int, first: datetime, end: datetime) -> list[Booking]:
    """The provider's bookings starting in [first, end), by start time (one query)."""
    stmt = (
        sa.select(Booking)
        .where(Booking.provider_id == provider_id, Booking.starts_at >= first, Booking.starts_at < end)
        .options(joinedload(Booking.listing), joinedload(Booking.resident), joinedload(Booking.carer))
        .order_by(Booking.starts_at, Booking.id)
    )
    return list(session.scalars(stmt))


def agenda(session: Session, provider_id: int, shown: Period) -> list[tuple[date, list[Booking]]]:
    """Each local day of the period with its bookings."""
    by_day: dict[date, list[Booking]] = {d: [] for d in shown.dates()}
    for booking in provider_bookings_between(session, provider_id, *shown.utc_bounds()):
        by_day.setdefault(local(booking.starts_at).date(), []).append(booking)
    return list(by_day.items())


def provider_booking_list(
    session: Session, provider_id: int, *, status: BookingStatus | None, page: int
) -> tuple[list[Booking], bool]:
    """A page of the provider's bookings: open requests first (soonest respond-by first),
    then the rest, latest start first.  Returns (bookings, whether a next page exists)."""
    is_request = Booking.status == S.REQUESTED
    stmt = (
        sa.select(Booking)
        .where(Booking.provider_id == provider_id)
        .options(joinedload(Booking.listing), joinedload(Booking.resident), joinedload(Booking.carer))
        .order_by(
            sa.case((is_request, 0), else_=1),
            sa.case((is_request, Booking.respond_by), else_=None),
            Booking.starts_at.desc(),
            Booking.id.desc(),
        )
        .offset((page - 1) * LIST_PAGE_SIZE)
        .limit(LIST_PAGE_SIZE + 1)
    )
    if status is not None:
        stmt = stmt.where(Booking.status == status)
    rows = list(session.scalars(stmt))
    return rows[:LIST_PAGE_SIZE], len(rows) > LIST_PAGE_SIZE


def resident_bookings(session: Session, resident_id: int) -> tuple[list[Booking], list[Booking]]:
    """A resident's bookings: the open ones (soonest first), then the latest closed ones
    (latest first); one query each."""
    base = (
        sa.select(Booking)
        .where(Booking.resident_id == resident_id)
        .options(joinedload(Booking.listing), joinedload(Booking.provider))
    )
    upcoming = session.scalars(base.where(Booking.status.in_(OPEN)).order_by(Booking.starts_at, Booking.id))
    past = session.scalars(
        base.where(Booking.status.not_in(OPEN))
        .order_by(Booking.starts_at.desc(), Booking.id.desc())
        .limit(RESIDENT_PAST_SHOWN)
    )
    return list(upcoming), list(past)


def last_address(session: Session, resident_id: int) -> str:
    """The address of the resident's latest booking, to pre-fill the next one."""
    return session.scalar(
        sa.select(Booking.address)
        .where(Booking.resident_id == resident_id)
        .order_by(Booking.requested_at.desc(), Booking.id.desc())
        .limit(1)
    ) or ""
