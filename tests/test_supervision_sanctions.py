"""The effects of sanctions: fine (ledger), suspension (catalogue, bookings), removal (exit)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask_babel import force_locale
import sqlalchemy as sa

from app.errors import Conflict
from app.extensions import db
from billing import ledger
from billing.payment_models import Settlement
from billing.settlements import settle_period
from billing.supervision_receivers import fine_of
from providers import catalogue
from providers.bookings import services as bookings
from providers.bookings.models import BookingStatus
from providers.models import ProviderStatus
from ratings.supervision import review, sanctions
from ratings.supervision.models import Sanction
from tests import factories
from tests.rating_helpers import audit_events, completed_booking, notifications
from tests.sanction_helpers import report
from tests.supervision_helpers import local
from tests.forms import submit
from tests.carer_helpers import carer_for


@pytest.fixture(autouse=True)
def english(app):
    """Messages are matched in English (the source language)."""
    with force_locale("en"):
        yield


def make_effective(provider, sanction, clock):
    """Confirm a report (two officials for removal) and let its appeal window pass."""
    item = report(provider, sanction)
    review.confirm(db.session, item.id, factories.official())
    if sanction == Sanction.REMOVAL:
        review.confirm(db.session, item.id, factories.official())
    db.session.commit()
    found = review.review_of(db.session, item.id)
    clock.set(found.appeal_deadline + timedelta(minutes=1))
    assert sanctions.apply_due_sanctions(db.session) == 1
    db.session.commit()
    return item, found


def test_a_fine_is_five_percent_of_last_months_gross_posted_as_a_penalty(app, clock):
    listing = factories.listing(price_fen=12000)
    staff = factories.staff(listing.provider)
    clock.set(local(2026, 10, 5, 8))
    for _ in range(3):
        completed_booking(clock, listing, staff=staff)
        clock.advance(days=1)
    clock.set(local(2026, 11, 2, 10))
    item, found = make_effective(listing.provider, Sanction.FINE, clock)
    assert fine_of(found) == 1800  # 5 % of 3 × ¥120
    payable = ledger.provider_payable_code(listing.provider_id)
    txn = db.session.execute(sa.text("select kind, cause_type, cause_id, idempotency_key from ledger_transaction "
                                     "where kind = 'penalty'")).one()
    assert tuple(txn) == ("penalty", "penalty_report", item.id, f"penalty:penalty_report:{item.id}")
    assert ledger.balance(db.session, "penalty_income") == -1800
    assert ledger.is_balanced(db.session)
    assert ledger.balance(db.session, payable) >= 1800 - 3 * 12000  # debited by the fine


def test_a_fine_is_capped(app, clock):
    listing = factories.listing(price_fen=12000)
    staff = factories.staff(listing.provider)
    clock.set(local(2026, 10, 5, 8))
    completed_booking(clock, listing, staff=staff)
    clock.set(local(2026, 11, 2, 10))
    old = app.config.get("LINLI_FINE_CAP_FEN")
    app.config["LINLI_FINE_CAP_FEN"] = 100
    try:
        _item, found = make_effective(listing.provider, Sanction.FINE, clock)
    finally:
        app.config["LINLI_FINE_CAP_FEN"] = old if old is not None else 500_000
    assert fine_of(found) == 100


def test_a_fine_larger_than_the_settlement_leaves_the_provider_owing(app, clock):
    """October earned ¥120; the fine (at 200 % here) is ¥240: November's settlement nets −¥240."""
    listing = factories.listing(price_fen=12000)
    staff = factories.staff(listing.provider)
    clock.set(local(2026, 10, 5, 8))
    completed_booking(clock, listing, staff=staff)
    clock.set(local(2026, 11, 2, 10))
    app.config["LINLI_FINE_PERCENT"] = 200
    try:
        _item, found = make_effective(listing.provider, Sanction.FINE, clock)
    finally:
        app.config.pop("LINLI_FINE_PERCENT")
    assert fine_of(found) == 24000
    clock.set(datetime(2026, 12, 1, 2, tzinfo=timezone.utc))
    settle_period(db.session, "2026-11")
    db.session.commit()
    settlement = db.session.scalar(sa.select(Settlement).where(Settlement.provider_id == listing.provider_id,
                                                               Settlement.period == "2026-11"))
    assert settlement.penalties_fen == 24000 and settlement.net_fen == -24000
    # Debit balance on a liability: the provider owes Linli.
    assert ledger.balance(db.session, ledger.provider_payable_code(listing.provider_id)) > 0
    assert ledger.is_balanced(db.session)


def test_no_earnings_last_month_means_no_fine_posting(clock):
    provider = factories.provider()
    _item, found = make_effective(provider, Sanction.FINE, clock)
    assert fine_of(found) == 0
    assert ledger.balance(db.session, "penalty_income") == 0


def test_a_suspension_hides_listings_refuses_bookings_honours_accepted_ones_and_lifts_itself(clock):
    listing = factories.listing()
    staff = factories.staff(listing.provider)
    resident = factories.resident(listing.communities[0])
    accepted = factories.booking(listing, resident, starts_at=factories.next_slot(listing, days_ahead=12))
    bookings.accept(db.session, accepted, staff, carer_id=carer_for(accepted))
    db.session.commit()
    _item, found = make_effective(listing.provider, Sanction.SUSPENSION, clock)
    assert found.suspended_until == found.effective_at + timedelta(days=30)
    assert listing.id not in [x.id for x in catalogue.search(db.session, catalogue.CatalogueQuery()).items]
    with pytest.raises(Conflict, match="suspended until"):
        bookings.request_booking(db.session, resident, listing_id=listing.id,
                                 starts_at=factories.next_slot(listing, days_ahead=2), address="3号楼")
    db.session.rollback()
    # The accepted booking goes ahead.
    clock.set(accepted.starts_at)
    bookings.check_in(db.session, accepted, staff)
    clock.set(accepted.ends_at)
    bookings.complete(db.session, accepted, staff)
    db.session.commit()
    assert accepted.status == BookingStatus.COMPLETED
    # The clock passes the end: visible and bookable again, with no job run.
    clock.set(found.suspended_until)
    assert listing.id in [x.id for x in catalogue.search(db.session, catalogue.CatalogueQuery()).items]
    again = bookings.request_booking(db.session, resident, listing_id=listing.id,
                                     starts_at=factories.next_slot(listing, days_ahead=2), address="3号楼")
    assert again.status == BookingStatus.REQUESTED
    assert audit_events("provider.sanction_suspended", listing.provider_id)


def test_a_removal_ends_the_provider_cancels_future_bookings_and_tells_residents(clock):
    listing = factories.listing()
    staff = factories.staff(listing.provider)
    resident = factories.resident(listing.communities[0])
    requested = factories.booking(listing, resident, starts_at=factories.next_slot(listing, days_ahead=12))
    accepted = factories.booking(listing, resident, starts_at=factories.next_slot(listing, days_ahead=13, hour=11))
    bookings.accept(db.session, accepted, staff, carer_id=carer_for(accepted))
    db.session.commit()
    _item, _found = make_effective(listing.provider, Sanction.REMOVAL, clock)
    provider = listing.provider
    assert provider.status == ProviderStatus.REMOVED and provider.removed_at is not None
    # Two calendar years, counted in whole Shanghai days (tests/test_credit_code_bar.py).
    shanghai = timezone(timedelta(hours=8))
    removed = provider.removed_at.astimezone(shanghai)
    assert provider.reregistration_barred_until == removed.replace(
        year=removed.year + 2, hour=0, minute=0, second=0, microsecond=0)
    assert requested.status == BookingStatus.DECLINED
    assert accepted.status == BookingStatus.CANCELLED_BY_PROVIDER
    notes = notifications("booking.provider_removed", resident.id)
    assert sorted(n.params["booking"] for n in notes) == sorted([requested.id, accepted.id])
    assert notes[0].link == "/catalogue?category=housekeeping"
    assert audit_events("provider.removed", provider.id)
    assert listing.id not in [x.id for x in catalogue.search(db.session, catalogue.CatalogueQuery()).items]


def test_a_removed_provider_trying_to_register_again_gets_a_clear_message(client, clock):
    provider = factories.provider()
    make_effective(provider, Sanction.REMOVAL, clock)
    client.set_cookie("linli_lang", "en")
    community = factories.community()
    data = {
        "name": "换个名字", "credit_code": provider.credit_code, "legal_representative": "张三",
        "contact_name": "李四", "contact_phone": "137 1234 5678", "address": "", "description": "",
        "category_ids": [factories.category("housekeeping").id], "community_ids": [community.id],
        "staff_name": "李四", "staff_phone": factories.phone(), "password": "longenough",
    }
    response = submit(client, "/providers/register", fields=data)
    assert response.status_code == 409 or response.status_code == 422
    text = response.get_data(as_text=True)
    until = (provider.reregistration_barred_until.astimezone(timezone(timedelta(hours=8)))).strftime("%Y-%m-%d")
    assert "may not register again before" in text and until in text


def test_a_removal_ends_the_providers_programme_awards(clock):
    from billing.supervision_receivers import ProgrammeAwardEnding, is_ended
    from tests.programme_helpers import open_programme

    _programme, award, listing, _member, _official, _community = open_programme()
    make_effective(listing.provider, Sanction.REMOVAL, clock)
    assert is_ended(db.session, award.id)
    assert db.session.get(ProgrammeAwardEnding, award.id).reason == listing.provider.status_reason
    assert audit_events("programme.award_ended", award.programme_id)


def test_a_removal_refunds_a_paid_future_booking_in_full(clock):
    from billing import payments
    from billing.payment_models import Refund, RefundStatus
    from tests.billing_helpers import accepted_booking

    booking, _member = accepted_booking(days_ahead=12)
    payment = payments.confirm_offline_receipt(db.session, booking)
    db.session.commit()
    make_effective(booking.provider, Sanction.REMOVAL, clock)
    assert booking.status == BookingStatus.CANCELLED_BY_PROVIDER
    refund = db.session.scalar(sa.select(Refund).where(Refund.payment_id == payment.id))
    assert refund.amount_fen == booking.price_fen and refund.status == RefundStatus.SUCCEEDED
    assert ledger.is_balanced(db.session)
