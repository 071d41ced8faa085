"""Demo proof of service: the programme's months of visits by 安康, as they would have happened.

Each visit goes through the real services under a clock moved to its day (booked with
the entitlement, accepted, checked in and out from a phone with its location, the
resident's code typed or not), so the flag rules, verification, the entitlement and
the ledger see what they would have seen.  The demo evaluator (13600000001) is appointed
when the term begins.  The earlier months (:data:`EARLIER_VISITS`: more visits each month,
four more residents enrolled in the third) are served as agreed, each visit verified; on
the 1st of the next month its follow-up calls are made and found served, and on the 2nd
it is settled.  Last month has verified, unverified and flagged visits (:data:`VISITS`); on
the 1st its sample is drawn and a few calls are recorded (the visits checked in 5 km from
home are found not served, and their money withheld), and on the 2nd it is settled, so
the budget chart, the call queue, the statements (paid and pending lines) and the
scorecard have something to show.  Loading twice changes nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import FrozenClock
from app.errors import LinliError
from app.models import Community, Role, User
from billing.programmes import eligibility
from billing.programmes.demo import HISTORY_MONTHS, TITLE, MovedClock, at_local, month_start
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
VISITS = 36  # last month's
# The visits of each earlier month, oldest first (months HISTORY_MONTHS … 2 ago).
EARLIER_VISITS = (12, 14, 20, 26)
# Months ago when the four extra residents are enrolled (on the 1st).
MORE_ENROLLED_MONTHS_AGO = 3
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


def _homes(session: Session, programme: PurchaseProgramme, official: User) -> tuple[list[User], dict]:
    """The enrolled residents (oldest account first) and their homes, set where missing."""
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
    return residents, homes


def _serve_month(session: Session, clock: FrozenClock, listing: Listing, staff: User, residents: list[User],
                 homes: dict, first: date, kinds: list[Kind], rng: random.Random, start: int) -> int:
    """The month's visits (the listing's working days, spread evenly); how many were served."""
    following = month_start(0, first + timedelta(days=31))
    days = [day for day in (first + timedelta(days=n) for n in range((following - first).days))
            if slot_starts_on(listing, day)]
    written = 0
    for index, kind in enumerate(kinds):
        number = start + index
        resident = residents[number % len(residents)]
        day = days[(index * len(days)) // len(kinds)]
        booking = _book(session, clock, resident, listing, day, rng)
        if booking is None:
            continue
        _serve(session, clock, booking, staff, kind, homes[resident.id], number)
        written += 1
    return written


def load_visit_demo(session: Session, seed: int = 13) -> int:
    """The programme's visits up to last month (returns how many; 0 when present or the programme is missing)."""
    if session.scalar(sa.select(sa.func.count()).select_from(VisitRecord)):
        return 0
    programme = session.scalar(sa.select(PurchaseProgramme).where(PurchaseProgramme.title == TITLE))
    provider = session.scalar(sa.select(Provider).where(Provider.name == "安康居家养老服务中心"))
    official = session.scalar(sa.select(User).where(User.phone == "13900000001"))
    community = session.scalar(sa.select(Community).where(Community.code == "zichuan-chengli"))
    if None in (programme, provider, official, community) or programme.start_date > month_start(1):
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
    rng = random.Random(seed)
    months_ago = [m for m in range(HISTORY_MONTHS, 0, -1) if month_start(m) >= programme.start_date]
    firsts = {m: month_start(m) for m in [*months_ago, 0]}  # (read before the clock moves)
    written = 0
    with MovedClock(at_local(programme.start_date - timedelta(days=1), 15)) as clock:
        homes_set = _homes(session, programme, official)
        _appoint_evaluator(session, programme, official)
        for m in months_ago:
            first = firsts[m]
            if m == MORE_ENROLLED_MONTHS_AGO:
                clock.set(at_local(first, 9))
                _enrol_more(session, programme, official, community)
                homes_set = _homes(session, programme, official)
            residents, homes = homes_set
            if m == 1:
                kinds = _kinds(rng)
            else:
                count = EARLIER_VISITS[HISTORY_MONTHS - m]
                kinds = [Kind(code=True)] * (count - 2) + [Kind(code=False, confirm=True)] * 2
            written += _serve_month(session, clock, listing, staff, residents, homes, first, kinds, rng, written)
            month = first.strftime("%Y-%m")
            # The 1st of the next month: the sample is drawn, the calls made; the 2nd: the month is settled.
            following = firsts[m - 1]
            clock.set(at_local(following, 9))
            _follow_up(session, clock, official, month, last=m == 1)
            clock.set(at_local(following.replace(day=2), 6))
            settle(session, provider.id, month)
    return written


def _appoint_evaluator(session: Session, programme: PurchaseProgramme, official: User) -> None:
    """The demo's third-party evaluator, appointed to the programme for its follow-up calls."""
    from app.auth.services import create_user
    from ratings.followups.appointments import appoint_evaluator

    if session.scalar(sa.select(User).where(User.phone == EVALUATOR_PHONE)) is None:
        create_user(session, phone=EVALUATOR_PHONE, name="鲁评第三方评估中心", password=DEMO_PASSWORD,
                    role=Role.EVALUATOR)
    appoint_evaluator(session, programme.id, official, EVALUATOR_PHONE)


def _follow_up(session: Session, clock: FrozenClock, official: User, month: str, last: bool) -> None:
    """Draw the month's sample and make its calls.  An earlier month: every call finds the
    visit served.  Last month: the visits checked in far from home are found not served, a
    few served ones are confirmed, one resident does not answer (to be tried again), the
    rest wait in the queue."""
    from ratings.followups import calls
    from ratings.followups.models import CallOutcome, FollowUpCall
    from ratings.followups.sampling import sample_month
    from providers.visits.models import FlagRule, VisitFlag

    evaluator = session.scalar(sa.select(User).where(User.phone == EVALUATOR_PHONE))
    sample_month(session, month)
    far = set(session.scalars(sa.select(VisitFlag.booking_id).where(VisitFlag.rule == FlagRule.OUTSIDE_RADIUS)))
    queue = list(session.scalars(sa.select(FollowUpCall).where(FollowUpCall.month == month)
                                 .order_by(FollowUpCall.booking_id)))
    served = 0
    for call in queue:
        clock.advance(minutes=7)
        if not last:
            calls.record_call(session, call, evaluator, outcome=CallOutcome.SERVED, satisfaction=5 - call.id % 2,
                              note="老人确认按时上门，服务满意。")
        elif call.booking_id in far:
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
