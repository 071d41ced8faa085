"""Helpers for the purchase-programme tests: an open programme with an award and an enrolled resident."""

from __future__ import annotations

from datetime import date

from app.extensions import db
from billing.programmes import eligibility, programmes
from billing.programmes.eligibility import ProfileFacts
from billing.programmes.programmes import ProgrammeTerms
from tests import factories


def terms(community_ids, **overrides) -> ProgrammeTerms:
    values = dict(
        title="居家养老上门服务", service_content="上门助洁、助浴、陪诊", start_date=date(2026, 11, 1),
        end_date=date(2027, 10, 31), quantity=1000, quality_requirements="持证上岗，按时到达",
        unit_price_fen=8000, settlement_method="按月结算，按实际服务量支付", performance_targets="满意度 ≥ 90%",
        breach_liability="未按时服务按次扣减", budget_fen=100_000, allowance_per_month=8, min_age=60,
        requires_living_alone=True, category_ids=[factories.category("housekeeping").id],
        community_ids=list(community_ids),
    )
    values.update(overrides)
    return ProgrammeTerms(**values)


ELDER = ProfileFacts(birth_date=date(1950, 3, 14), lives_alone=True)


def open_programme(*, budget_fen=100_000, allowance=8, contract_price_fen=6000, quota=500, capacity=2):
    """(programme, award, listing, provider staff, official, community) — open, awarded, ready to enrol."""
    official = factories.official()
    provider = factories.provider()
    member = factories.staff(provider)
    listing = factories.listing(provider)
    for window in listing.availability:
        window.capacity = capacity
    community = provider.communities[0]
    programme = programmes.create_programme(
        db.session, official, terms([community.id], budget_fen=budget_fen, allowance_per_month=allowance))
    award = programmes.award(db.session, programme, official, provider_id=provider.id,
                             contract_price_fen=contract_price_fen, quota=quota)
    programmes.open_programme(db.session, programme, official)
    db.session.commit()
    return programme, award, listing, member, official, community


def enrolled_resident(programme, official, community, facts: ProfileFacts = ELDER):
    resident = factories.resident(community)
    eligibility.enrol(db.session, programme, official, phone=resident.phone, facts=facts)
    db.session.commit()
    return resident


def verify_visit(session, booking, actor, method=None):
    """Verify ``booking``'s visit as its resident would (the app confirmation by default):
    create its VisitRecord if there is none and call verification.verify, which makes a
    served programme visit payable.  Flushes; the caller commits."""
    from providers.visits.models import VerifiedBy, VisitRecord
    from providers.visits.verification import record_of, verify

    record = record_of(session, booking.id)
    if record is None:
        record = VisitRecord(booking_id=booking.id)
        session.add(record)
        session.flush()
    return verify(session, booking, record, method or VerifiedBy.RESIDENT, actor)
