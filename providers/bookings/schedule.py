"""Paper: a resident's printable weekly visit schedule (large type, A4, nothing but the sheet
on paper), for a resident without a smartphone to keep by the door.

- Who may open it: the resident herself, an official, or a grid worker for a resident of her
  grids today (:func:`app.grids.workers.may_act_for`); anyone else gets a 404 (nobody learns
  whose schedule exists).
- What it lists: the week's (Monday to Sunday, Asia/Shanghai) accepted visits and those in
  service, with the time, the service, the provider, the carer's name and the provider's
  phone masked (138****0001: recognised on a call, not a number to pass around).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import Session, selectinload

from app.access import login_required
from app.clock import local, now, today, zone
from app.errors import NotFound
from app.extensions import db
from app.grids.workers import mask_phone, may_act_for
from app.models import Role, User
from providers.bookings.models import Booking, BookingStatus
from providers.listing_forms import WEEKDAY_NAMES

bp = Blueprint("schedule", __name__, template_folder="../templates")

SHOWN = (BookingStatus.ACCEPTED, BookingStatus.IN_SERVICE)


@dataclass
class Visit:
    booking: Booking
    starts: datetime  # local
    ends: datetime  # local

    @property
    def provider_phone(self) -> str:
        return mask_phone(self.booking.provider.contact_phone or "")

    @property
    def carer_name(self) -> str | None:
        return self.booking.carer.name if self.booking.carer_id else None


def may_see(session: Session, viewer: User, resident: User) -> bool:
    if resident is None or resident.role != Role.RESIDENT:
        return False
    if viewer.id == resident.id or viewer.is_official:
        return True
    return viewer.role == Role.GRID_WORKER and may_act_for(session, viewer, resident, now())


def resident_schedule_for(session: Session, viewer: User, resident_id: int) -> User:
    resident = session.get(User, resident_id)
    if resident is None or not may_see(session, viewer, resident):
        raise NotFound(_l("No such resident."))
    return resident


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_visits(session: Session, resident: User, monday: date) -> list[tuple[date, list[Visit]]]:
    """The seven days from ``monday`` with the resident's visits on each, soonest first."""
    start = datetime.combine(monday, time(0), tzinfo=zone())
    end = start + timedelta(days=7)
    bookings = session.scalars(
        sa.select(Booking).options(selectinload(Booking.listing), selectinload(Booking.provider),
                                   selectinload(Booking.carer))
        .where(Booking.resident_id == resident.id, Booking.status.in_(SHOWN),
               Booking.starts_at >= start, Booking.starts_at < end)
        .order_by(Booking.starts_at, Booking.id)).all()
    days = {monday + timedelta(days=n): [] for n in range(7)}
    for booking in bookings:
        visit = Visit(booking, local(booking.starts_at), local(booking.ends_at))
        days[visit.starts.date()].append(visit)
    return list(days.items())


def _monday() -> date:
    raw = request.args.get("week")
    if not raw:
        return week_of(today())
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        abort(404)
    if not date(2000, 1, 10) <= day <= date(9000, 12, 31):  # a week a schedule can have (and its neighbours)
        abort(404)
    return week_of(day)


@bp.route("/residents/<int:resident_id>/schedule")
@login_required
def weekly(resident_id: int):
    """The printable weekly schedule (``?week=`` any day of the week; this week by default)."""
    resident = resident_schedule_for(db.session, current_user._get_current_object(), resident_id)
    monday = _monday()
    return render_template("bookings/weekly_schedule.html", resident=resident, monday=monday,
                           sunday=monday + timedelta(days=6), days=week_visits(db.session, resident, monday),
                           previous=(monday - timedelta(days=7)).isoformat(),
                           next=(monday + timedelta(days=7)).isoformat(), weekday_names=WEEKDAY_NAMES,
                           printed_at=now())
