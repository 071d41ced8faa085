"""Demo purchase programme: 居家养老上门服务 for residents aged 60+ living alone in 城里社区.

Created through the real services (audit trail, ledger budget) under a clock moved back to
:data:`HISTORY_MONTHS` months ago, when its term began: awarded to 安康居家养老服务中心 and
with 王阿姨 (13800000001) and 陈奶奶 (13800000003) enrolled, so a tester can book 居家照护
"with my entitlement".  The visit demo (visit_demo.py) then serves its months up to today.
Loading twice changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.clock import FrozenClock, today, zone
from app.models import Community, User
from billing.programmes import eligibility, programmes
from billing.programmes.eligibility import ProfileFacts
from billing.programmes.models import PurchaseProgramme
from billing.programmes.programmes import ProgrammeTerms
from providers.models import Provider, ServiceCategory

TITLE = "居家养老上门服务（城里社区）"
ENROLLED = [("13800000001", date(1955, 5, 8)), ("13800000003", date(1946, 9, 21))]
# The programme's term began on the first of the month this many months ago.
HISTORY_MONTHS = 5
UNIT_PRICE_FEN = 5000
QUANTITY = 400  # visits over the year: a budget of ¥20,000


class MovedClock:
    """The app's clock replaced, for the demo, by one the loader moves; put back after."""

    def __init__(self, at: datetime):
        self.clock = FrozenClock(at)

    def __enter__(self) -> FrozenClock:
        self._saved = current_app.extensions["linli.clock"]
        current_app.extensions["linli.clock"] = self.clock
        return self.clock

    def __exit__(self, *exc) -> None:
        current_app.extensions["linli.clock"] = self._saved


def month_start(months_ago: int, day: date | None = None) -> date:
    """The first day of the month ``months_ago`` months before ``day``'s (today's) month."""
    first = (day or today()).replace(day=1)
    for _ in range(months_ago):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def at_local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=zone())


def load_programme_demo(session: Session) -> bool:
    """Create the demo programme once; False when it exists (or the base demo is missing)."""
    if session.scalar(sa.select(PurchaseProgramme.id).where(PurchaseProgramme.title == TITLE)):
        return False
    official = session.scalar(sa.select(User).where(User.phone == "13900000001"))
    community = session.scalar(sa.select(Community).where(Community.code == "zichuan-chengli"))
    provider = session.scalar(sa.select(Provider).where(Provider.name == "安康居家养老服务中心"))
    if official is None or community is None or provider is None:
        return False
    categories = list(session.scalars(sa.select(ServiceCategory.id)
                                      .where(ServiceCategory.code.in_(["home_care", "home_medical"]))))
    # The term began HISTORY_MONTHS months ago; the visit demo (visit_demo.py) serves its months.
    start = month_start(HISTORY_MONTHS)
    end = programmes.term_limit(start, False)
    terms = ProgrammeTerms(
        title=TITLE,
        service_content="为城里社区 60 周岁以上独居老人提供上门居家照护（助浴、助洁、陪伴）和家庭医生上门巡诊。",
        start_date=start, end_date=end, quantity=QUANTITY,
        quality_requirements="护理员持证上岗；按约定时间到达（迟到不超过 15 分钟）；服务后由老人确认。",
        unit_price_fen=UNIT_PRICE_FEN,
        settlement_method="按月结算：按当月经老人确认的实际服务次数 × 合同单价支付，平台不收服务费。",
        performance_targets="准时率 ≥ 95%；满意度 ≥ 90%；每位老人每月至少上门 4 次。",
        breach_liability="未按时或未提供服务的不予支付；考核等级不合格的，当月结算扣减 10%。",
        budget_fen=QUANTITY * UNIT_PRICE_FEN, allowance_per_month=8, stable_service=False, min_age=60,
        requires_living_alone=True, category_ids=categories, community_ids=[community.id],
    )
    with MovedClock(at_local(start - timedelta(days=10), 10)) as clock:
        programme = programmes.create_programme(session, official, terms)
        clock.advance(days=3)
        programmes.award(session, programme, official, provider_id=provider.id,
                         contract_price_fen=UNIT_PRICE_FEN, quota=QUANTITY)
        clock.advance(days=2)
        programmes.open_programme(session, programme, official)
        clock.advance(days=3)
        for phone, born in ENROLLED:
            resident = session.scalar(sa.select(User).where(User.phone == phone))
            if resident is not None and resident.community_id == community.id:
                eligibility.enrol(session, programme, official, phone=phone,
                                  facts=ProfileFacts(birth_date=born, lives_alone=True))
                clock.advance(hours=1)
        session.flush()
    return True


__all__ = ["load_programme_demo"]
