"""Demo proof of service: last month's programme visits of 安康, as they would have happened.

Each visit goes through the real services under a clock moved to its day (booked with
the entitlement, accepted, checked in and out from a phone with its location, the
resident's code typed or not), so the flag rules, verification, the entitlement and
the ledger see what they would have seen.  The month then has verified, unverified and
flagged visits; on the 1st the follow-up sample is drawn, the demo evaluator
(13600000001) is appointed and a few calls are recorded (the visits checked in 5 km
from home are found not served, and their money withheld), and on the 2nd the month
is settled, so the call queue, the statement (paid and pending lines) and the
scorecard have something to show.  Loading twice changes nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.clock import FrozenClock, now, today, zone
from app.errors import LinliError
from app.models import Community, Role, User
from billing.programmes import eligibility
from billing.programmes.demo import TITLE
from billing.programmes.eligibility import ProfileFacts
from billing.programmes.entitlements import book_with_entitlement
from billing.programmes.models import Enrolment, PurchaseProgramme
from billing.settlements import settle
from providers.bookings import services as bookings
from providers.demo import DEMO_PASSWORD
from providers.bookings.models import Booking
from providers.bookings.slots import slot_starts_on
from providers.models import Listing, ListingStatus, Provider, ProviderStaff, ServiceCategory
from providers.visits import geo, home
from providers.visits.geo import Position
from providers.visits.models import LocationMethod, VisitRecord
from providers.visits.services import VisitFacts

CHECKLIST = ["助浴", "助洁（整理房间）", "测量血压", "陪伴聊天", "检查燃气和门窗"]
# 城里社区, 淄川 (about 36.64 N, 117.97 E): each home a few hundred metres from the next.
HOME_BASE = (36.6440, 117.9670)
FAR_AWAY_M = 5000
PHONE_DEVICES = ["demo-phone-anjia-1", "demo-phone-anjia-2"]
VISITS = 36
# The demo's third-party evaluator (appointed to the programme for its follow-up calls).
EVALUATOR_PHONE = "13600000001"
# Extra enrolled residents (the ratings demo's 居民 accounts in 城里社区), born in these years.
EXTRA_BORN = [1944, 1949, 1951, 1947]


@dataclass(frozen=True)
class Kind:
    """How one demo visit went."""

    code: bool  # the carer typed the resident's code at check-out
    confirm: bool = False  # the resident confirmed in the app afterwards
    far: bool = False  # checked in 5 km from the home and left after 10 minutes
    no_location: bool = False  # the phone gave no location


def _kinds(rng: random.Random) -> list[Kind]:
    kinds = ([Kind(code=True)] * 24 + [Kind(code=False, confirm=True)] * 4 + [Kind(code=False)] * 4
             + [Kind(code=False, far=True)] * 2 + [Kind(code=False, no_location=True)] * 2)
    rng.shuffle(kinds)
    return kinds[:VISITS]


class _MovedClock:
    """The app's clock replaced, for the demo, by one the loader moves; put back after."""

    def __init__(self, at: datetime):
        self.clock = FrozenClock(at)

    def __enter__(self) -> FrozenClock:
        self._saved = current_app.extensions["linli.clock"]
        current_app.extensions["linli.clock"] = self.clock
        return self.clock

    def __exit__(self, *exc) -> None:
        current_app.extensions["linli.clock"] = self._saved


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    import math

    return (lat + north_m / 111_320, lon + east_m / (111_320 * math.cos(math.radians(lat))))


def _enrol_more(session: Session, programme: PurchaseProgramme, official: User, community: Community) -> None:
    enrolled = set(session.scalars(sa.select(Enrolment.resident_id).where(Enrolment.programme_id == programme.id)))
    others = list(session.scalars(
        sa.select(User).where(User.role == Role.RESIDENT, User.community_id == community.id,
                              User.id.not_in(enrolled) if enrolled else sa.true())
        .order_by(User.id).limit(len(EXTRA_BORN))))
    for resident, year in zip(others, EXTRA_BORN):
        eligibility.enrol(session, programme, official, phone=resident.phone,
                          facts=ProfileFacts(birth_date=date(year, 3, 1), lives_alone=True))


def _first_day_of_last_month() -> date:
    return (today().replace(day=1) - timedelta(days=1)).replace(day=1)


def load_visit_demo(session: Session, seed: int = 13) -> int:
    """Last month's visits (returns how many; 0 when present or the programme is missing)."""
    if session.scalar(sa.select(sa.func.count()).select_from(VisitRecord)):
        return 0
    programme = session.scalar(sa.select(PurchaseProgramme).where(PurchaseProgramme.title == TITLE))
    provider = session.scalar(sa.select(Provider).where(Provider.name == "安康居家养老服务中心"))
    official = session.scalar(sa.select(User).where(User.phone == "13900000001"))
    community = session.scalar(sa.select(Community).where(Community.code == "zichuan-chengli"))
    if None in (programme, provider, official, community) or programme.start_date > _first_day_of_last_month():
        return 0
    staff = session.scalar(sa.select(User).join(ProviderStaff, ProviderStaff.user_id == User.id)
                           .where(ProviderStaff.provider_id == provider.id).order_by(User.id))
    listing = session.scalar(
        sa.select(Listing).join(ServiceCategory, ServiceCategory.id == Listing.category_id)
        .where(Listing.provider_id == provider.id, Listing.status == ListingStatus.PUBLISHED,
               ServiceCategory.code == "home_care").order_by(Listing.id))
    if staff is None or listing is None:
        return 0
    listing.checklist = list(CHECKLIST)
    _enrol_more(session, programme, official, community)
    residents = list(session.scalars(
        sa.select(User).join(Enrolment, Enrolment.resident_id == User.id)
        .where(Enrolment.programme_id == programme.id).order_by(User.id)))
    homes = {}
    for index, resident in enumerate(residents):
        lat, lon = _offset(*HOME_BASE, north_m=180 * index, east_m=-120 * index)
        if geo.home_of(session, resident.id) is None:
            home.set_home(session, resident, official, Position(lat, lon, 10.0), LocationMethod.ENTERED, consent=True)
        homes[resident.id] = (lat, lon)
    session.flush()

    rng = random.Random(seed)
    kinds = _kinds(rng)
    first = _first_day_of_last_month()
    this_month = today().replace(day=1)  # (read before the clock moves)
    days = [day for day in (first + timedelta(days=n) for n in range((today().replace(day=1) - first).days))
            if slot_starts_on(listing, day)]  # the listing's working days
    written = 0
    with _MovedClock(now()) as clock:
        for number, kind in enumerate(kinds):
            resident = residents[number % len(residents)]
            day = days[(number * len(days)) // len(kinds)]
            booking = _book(session, clock, resident, listing, day, rng)
            if booking is None:
                continue
            _serve(session, clock, booking, staff, kind, homes[resident.id], number)
            written += 1
        month = first.strftime("%Y-%m")
        # The 1st of this month: the sample is drawn, the office calls, the month is settled.
        clock.set(datetime.combine(this_month, time(9), tzinfo=zone()))
        _follow_up(session, clock, programme, official, month)
        clock.set(datetime.combine(this_month.replace(day=2), time(6), tzinfo=zone()))
        settle(session, provider.id, month)
    return written


def _follow_up(session: Session, clock: FrozenClock, programme: PurchaseProgramme, official: User,
               month: str) -> None:
    """Draw last month's sample, appoint the demo evaluator, and record some calls: the
    visits checked in far from home are found not served, a few served ones are confirmed,
    one resident does not answer (to be tried again)."""
    from app.auth.services import create_user
    from ratings.followups import calls
    from ratings.followups.appointments import appoint_evaluator
    from ratings.followups.models import CallOutcome, FollowUpCall
    from ratings.followups.sampling import sample_month
    from providers.visits.models import FlagRule, VisitFlag

    evaluator = session.scalar(sa.select(User).where(User.phone == EVALUATOR_PHONE))
    if evaluator is None:
        evaluator = create_user(session, phone=EVALUATOR_PHONE, name="鲁评第三方评估中心", password=DEMO_PASSWORD,
                                role=Role.EVALUATOR)
    appoint_evaluator(session, programme.id, official, EVALUATOR_PHONE)
    sample_month(session, month)
    far = set(session.scalars(sa.select(VisitFlag.booking_id).where(VisitFlag.rule == FlagRule.OUTSIDE_RADIUS)))
    queue = list(session.scalars(sa.select(FollowUpCall).where(FollowUpCall.month == month)
                                 .order_by(FollowUpCall.booking_id)))
    served = 0
    for call in queue:
        clock.advance(minutes=7)
        if call.booking_id in far:
            calls.record_call(session, call, official, outcome=CallOutcome.NOT_SERVED, satisfaction=1,
                              note="老人说当天没有护理员上门。")
        elif served < 3:
            calls.record_call(session, call, evaluator, outcome=CallOutcome.SERVED, satisfaction=5 - served % 2,
                              note="老人确认按时上门，服务满意。")
            served += 1
        elif served == 3:
            calls.record_call(session, call, evaluator, outcome=CallOutcome.UNREACHABLE, note="无人接听，明天再打。")
            served += 1
    session.flush()


def _book(session: Session, clock: FrozenClock, resident: User, listing: Listing, day: date,
          rng: random.Random) -> Booking | None:
    starts = slot_starts_on(listing, day)
    rng.shuffle(starts)
    for starts_at, _window in starts:
        clock.set(starts_at - timedelta(days=2))
        try:
            with session.begin_nested():
                return book_with_entitlement(session, resident, listing_id=listing.id, starts_at=starts_at,
                                             address=f"城里社区{resident.id % 9 + 1}号楼")
        except LinliError:
            continue  # that slot is taken (the history demo) or the allowance is used: another
    return None


def _serve(session: Session, clock: FrozenClock, booking: Booking, staff: User, kind: Kind,
           home_at: tuple[float, float], number: int) -> None:
    from providers.visits.device import digest

    device = digest(PHONE_DEVICES[number % len(PHONE_DEVICES)])
    from providers.carers.models import Carer

    clock.set(booking.starts_at - timedelta(days=1, hours=3))
    carers = list(session.scalars(sa.select(Carer.id).where(Carer.provider_id == booking.provider_id,
                                                             Carer.active.is_(True)).order_by(Carer.id)))
    bookings.accept(session, booking, staff, carer_id=carers[number % len(carers)])
    if kind.far:
        lat, lon = _offset(*home_at, north_m=FAR_AWAY_M, east_m=0)
    else:
        lat, lon = _offset(*home_at, north_m=15 + number % 20, east_m=10)
    position = {} if kind.no_location else {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "accuracy": "12"}
    clock.set(booking.starts_at + timedelta(minutes=number % 7))
    bookings.check_in(session, booking, staff, VisitFacts(device=device, **position))
    record = session.get(VisitRecord, booking.id)
    if kind.far:
        clock.advance(minutes=10)
        facts = VisitFacts(device=device, tasks=(CHECKLIST[3],), short_reason="老人临时外出，提前结束。", **position)
    else:
        clock.set(booking.ends_at - timedelta(minutes=number % 5))
        facts = VisitFacts(device=device, tasks=tuple(CHECKLIST[:3 + number % 3]),
                           code=record.code if kind.code else "", **position)
    bookings.complete(session, booking, staff, facts)
    if kind.confirm:
        clock.set(booking.ends_at + timedelta(hours=3))
        bookings.confirm_completion(session, booking, booking.resident)
    session.flush()


__all__ = ["load_visit_demo"]
