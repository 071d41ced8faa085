"""Booking with an entitlement: no payment; allowance and budget reserved, released, consumed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.errors import Conflict, Invalid
from app.extensions import db
from billing import ledger
from billing.payment_models import Payment
from billing.programmes import entitlements
from billing.programmes.models import AllowanceMonth, EntitlementUse, UseStatus
from billing.programmes.programmes import budget_code, consumed_code, reserved_code
from providers.bookings import services
from providers.bookings.models import Booking
from tests import factories
from tests.programme_helpers import enrolled_resident, open_programme, verify_visit
from tests.carer_helpers import carer_for


@pytest.fixture(autouse=True)
def _english():
    """Messages are matched in English (the source language)."""
    with force_locale("en"):
        yield


def _book(resident, listing, days_ahead=1, hour=9):
    booking = entitlements.book_with_entitlement(
        db.session, resident, listing_id=listing.id, starts_at=factories.next_slot(listing, days_ahead, hour),
        address="城里社区3号楼")
    db.session.commit()
    return booking


def _available(programme) -> int:
    return -ledger.balance(db.session, budget_code(programme.id))


def test_a_booking_with_the_entitlement_creates_no_payment_and_reserves_on_acceptance():
    programme, award, listing, member, official, community = open_programme(budget_fen=100_000,
                                                                            contract_price_fen=6000)
    resident = enrolled_resident(programme, official, community)
    booking = _book(resident, listing)
    use = entitlements.use_of(db.session, booking.id)
    assert use.status == UseStatus.REQUESTED and use.amount_fen == 6000
    assert _available(programme) == 100_000  # not reserved before acceptance
    services.accept(db.session, booking, member, carer_id=carer_for(booking))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)
                             .where(Payment.booking_id == booking.id)) == 0
    assert use.status == UseStatus.RESERVED
    assert _available(programme) == 94_000
    assert -ledger.balance(db.session, reserved_code(programme.id)) == 6000
    assert ledger.is_balanced(db.session)


def test_completion_consumes_and_cancellation_releases():
    programme, award, listing, member, official, community = open_programme(contract_price_fen=6000)
    resident = enrolled_resident(programme, official, community)
    served, cancelled = _book(resident, listing, 1), _book(resident, listing, 2)
    for booking in (served, cancelled):
        services.accept(db.session, booking, member, carer_id=carer_for(booking))
    db.session.commit()
    services.cancel_by_resident(db.session, cancelled, resident)
    db.session.commit()
    assert entitlements.use_of(db.session, cancelled.id).status == UseStatus.RELEASED
    assert _available(programme) == 100_000 - 6000
    assert entitlements.used_in_month(db.session, entitlements.use_of(db.session, served.id).enrolment_id,
                                      entitlements.use_of(db.session, served.id).month) == 1
    assert award.quota_used == 1


def test_a_served_visit_stays_reserved_until_verified_then_is_consumed(clock):
    programme, award, listing, member, official, community = open_programme(contract_price_fen=6000)
    resident = enrolled_resident(programme, official, community)
    booking = _book(resident, listing)
    services.accept(db.session, booking, member, carer_id=carer_for(booking))
    db.session.commit()
    clock.set(booking.starts_at)
    services.check_in(db.session, booking, member)
    clock.set(booking.ends_at)
    services.complete(db.session, booking, member)
    db.session.commit()
    # The provider's word alone consumes nothing.
    assert entitlements.use_of(db.session, booking.id).status == UseStatus.RESERVED
    assert -ledger.balance(db.session, reserved_code(programme.id)) == 6000
    verify_visit(db.session, booking, resident)
    db.session.commit()
    assert entitlements.use_of(db.session, booking.id).status == UseStatus.CONSUMED
    assert -ledger.balance(db.session, reserved_code(programme.id)) == 0
    assert -ledger.balance(db.session, consumed_code(programme.id)) == 6000
    assert ledger.is_balanced(db.session)


def test_expiry_and_decline_release_the_allowance(clock):
    programme, award, listing, member, official, community = open_programme(allowance=2)
    resident = enrolled_resident(programme, official, community)
    declined, expired = _book(resident, listing, 1), _book(resident, listing, 2)
    services.decline(db.session, declined, member, "没有人手")
    clock.advance(hours=5)  # past the 4-hour response time
    services.expire_overdue_requests(db.session)
    db.session.commit()
    assert entitlements.use_of(db.session, declined.id).status == UseStatus.RELEASED
    assert entitlements.use_of(db.session, expired.id).status == UseStatus.RELEASED
    row = db.session.scalar(sa.select(AllowanceMonth))
    assert row.used == 0
    assert award.quota_used == 0


def test_booking_with_an_exhausted_allowance_is_refused_specifically_and_changes_nothing():
    programme, award, listing, member, official, community = open_programme(allowance=2, capacity=5)
    resident = enrolled_resident(programme, official, community)
    _book(resident, listing, 1), _book(resident, listing, 2)
    bookings_before = db.session.scalar(sa.select(sa.func.count()).select_from(Booking))
    with pytest.raises(Conflict, match="allowance for 2026-11 is used up: all 2 visits"):
        entitlements.book_with_entitlement(db.session, resident, listing_id=listing.id,
                                           starts_at=factories.next_slot(listing, 3), address="楼下")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == bookings_before
    assert db.session.scalar(sa.select(AllowanceMonth.used)) == 2
    assert award.quota_used == 2


def test_the_database_refuses_more_visits_than_the_allowance_even_past_the_check():
    programme, award, listing, member, official, community = open_programme(allowance=1)
    resident = enrolled_resident(programme, official, community)
    _book(resident, listing, 1)
    entitlement = entitlements.find_entitlement(db.session, resident, listing, None)
    with pytest.raises(Conflict, match="used up"):
        entitlements._take_allowance(db.session, entitlement.enrolment, "2026-11")


def test_a_budget_that_cannot_pay_another_visit_refuses_the_booking():
    programme, award, listing, member, official, community = open_programme(budget_fen=10_000,
                                                                            contract_price_fen=6000)
    first = enrolled_resident(programme, official, community)
    second = enrolled_resident(programme, official, community)
    booking = _book(first, listing)
    services.accept(db.session, booking, member, carer_id=carer_for(booking))
    db.session.commit()
    with pytest.raises(Conflict, match="budget is used up"):
        entitlements.book_with_entitlement(db.session, second, listing_id=listing.id,
                                           starts_at=factories.next_slot(listing, 2), address="楼下")


def test_acceptance_beyond_the_budget_is_refused_and_changes_nothing():
    programme, award, listing, member, official, community = open_programme(budget_fen=10_000,
                                                                            contract_price_fen=6000)
    a, b = enrolled_resident(programme, official, community), enrolled_resident(programme, official, community)
    first, second = _book(a, listing, 1), _book(b, listing, 2)  # both fit while only requested
    services.accept(db.session, first, member, carer_id=carer_for(first))
    db.session.commit()
    with pytest.raises(Conflict, match="budget cannot pay for this visit"):
        services.accept(db.session, second, member, carer_id=carer_for(second))
    db.session.rollback()
    assert db.session.get(Booking, second.id).status.value == "requested"
    assert _available(programme) == 4000


def test_a_listing_outside_the_programme_or_a_resident_not_enrolled_is_refused():
    programme, award, listing, member, official, community = open_programme()
    outsider = factories.resident(community)
    with pytest.raises(Invalid, match="not enrolled"):
        entitlements.find_entitlement(db.session, outsider, listing, None)
    resident = enrolled_resident(programme, official, community)
    other = factories.listing(award.provider, category_code="repairs")
    with pytest.raises(Invalid, match="does not cover"):
        entitlements.find_entitlement(db.session, resident, other, None)


def test_a_plain_booking_still_gets_a_payment():
    programme, award, listing, member, official, community = open_programme()
    resident = enrolled_resident(programme, official, community)
    booking = factories.booking(listing, resident)
    services.accept(db.session, booking, member, carer_id=carer_for(booking))
    db.session.commit()
    assert entitlements.use_of(db.session, booking.id) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)
                             .where(Payment.booking_id == booking.id)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EntitlementUse)) == 0
