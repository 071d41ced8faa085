"""Settlement of programme-funded visits: contract price, no fee, deduction below standard; the budget view."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from app.clock import zone
from app.extensions import db
from billing import ledger, settlements
from billing.payment_models import Payout, SettlementLine
from billing.programmes import budget, entitlements
from billing.programmes import settlement as programme_settlement
from billing.programmes.models import EntitlementUse
from billing.programmes.programmes import budget_code, consumed_code
from providers.bookings import services
from tests import factories
from tests.helpers import store_grade
from tests.programme_helpers import enrolled_resident, open_programme, verify_visit
from tests.carer_helpers import carer_for


def _served(clock, resident, listing, member, days_ahead):
    """A visit served and verified (the resident confirmed it): payable at settlement."""
    booking = entitlements.book_with_entitlement(
        db.session, resident, listing_id=listing.id, starts_at=factories.next_slot(listing, days_ahead),
        address="城里社区3号楼")
    services.accept(db.session, booking, member, carer_id=carer_for(booking))
    clock.set(booking.starts_at)
    services.check_in(db.session, booking, member)
    clock.set(booking.ends_at)
    services.complete(db.session, booking, member)
    verify_visit(db.session, booking, resident)
    db.session.commit()
    return booking


def _settle_november(clock, provider_id):
    clock.set(datetime(2026, 12, 1, 9, tzinfo=zone()))
    settlement = settlements.settle(db.session, provider_id, "2026-11")
    db.session.commit()
    return settlement


def test_programme_visits_are_settled_at_the_contract_price_without_fee(clock):
    programme, award, listing, member, official, community = open_programme(budget_fen=100_000,
                                                                            contract_price_fen=6000)
    resident = enrolled_resident(programme, official, community)
    first = _served(clock, resident, listing, member, 1)
    clock.set(datetime(2026, 11, 2, 10, tzinfo=zone()))
    second = _served(clock, resident, listing, member, 2)
    settlement = _settle_november(clock, award.provider_id)
    lines = {line.booking_id: line for line in db.session.scalars(
        sa.select(SettlementLine).where(SettlementLine.settlement_id == settlement.id))}
    assert {lines[first.id].source, lines[second.id].source} == {"programme"}
    assert lines[first.id].amount_fen == 6000 and lines[first.id].fee_fen == 0
    assert (settlement.gross_fen, settlement.fee_fen, settlement.net_fen) == (12_000, 0, 12_000)
    payout = db.session.scalar(sa.select(Payout).where(Payout.settlement_id == settlement.id))
    assert payout.amount_fen == 12_000
    assert -ledger.balance(db.session, ledger.provider_payable_code(award.provider_id)) == 12_000
    assert ledger.balance(db.session, consumed_code(programme.id)) == 0
    assert ledger.is_balanced(db.session)
    # Running it again changes nothing.
    assert settlements.settle(db.session, award.provider_id, "2026-11").id == settlement.id
    assert all(u.settlement_id == settlement.id for u in db.session.scalars(sa.select(EntitlementUse)))


def test_a_below_standard_grade_deducts_the_configured_percentage(app, clock, monkeypatch):
    from ratings.supervision.models import Grade

    monkeypatch.setitem(app.config, "LINLI_PROGRAMME_DEDUCTION_PERCENT", 15)
    programme, award, listing, member, official, community = open_programme(budget_fen=100_000,
                                                                            contract_price_fen=6001)
    store_grade(award.provider_id, Grade.UNQUALIFIED)  # the latest evaluation, as the evaluator stores it
    db.session.commit()
    resident = enrolled_resident(programme, official, community)
    _served(clock, resident, listing, member, 1)
    settlement = _settle_november(clock, award.provider_id)
    # 15 % of 60.01 = 9.0015 → 9.00 (half-up to the fen); paid 51.01.
    assert settlement.gross_fen == 5101 and settlement.net_fen == 5101
    figures = budget.figures(db.session, programme)
    assert figures.consumed == 5101
    assert figures.remaining == 100_000 - 5101
    assert figures.committed == figures.reserved + figures.consumed + figures.remaining


def test_the_grade_is_the_latest_evaluations_and_new_before_any():
    from ratings.supervision.models import Grade

    provider = factories.provider()
    assert programme_settlement.provider_grade(db.session, provider.id) == "new"
    for month, grade in ((10, Grade.GOOD), (11, Grade.UNQUALIFIED)):
        store_grade(provider.id, grade, datetime(2026, month, 1, tzinfo=timezone.utc))
    assert programme_settlement.provider_grade(db.session, provider.id) == "unqualified"
    assert "unqualified" in programme_settlement.BELOW_STANDARD


def test_a_grade_changed_on_review_is_the_grade_programme_money_reads(clock):
    from ratings.supervision import grade_reviews
    from ratings.supervision.models import Grade

    provider = factories.provider()
    staff, official = factories.staff(provider), factories.official()
    snapshot = store_grade(provider.id, Grade.UNQUALIFIED, datetime(2026, 11, 1, tzinfo=timezone.utc))
    review = grade_reviews.request_review(db.session, staff, provider.id, snapshot.id, "两次投诉已撤回，请复核。")
    assert programme_settlement.provider_grade(db.session, provider.id) == "unqualified"  # asked, not decided
    grade_reviews.decide(db.session, official, review.id, "changed", "投诉已撤回，等级改为合格。", new_grade="qualified")
    assert programme_settlement.provider_grade(db.session, provider.id) == "qualified"
    assert "qualified" not in programme_settlement.BELOW_STANDARD


def test_budget_figures_chart_and_burn_rate(clock, client, auth):
    programme, award, listing, member, official, community = open_programme(budget_fen=60_000,
                                                                            contract_price_fen=6000)
    resident = enrolled_resident(programme, official, community)
    _served(clock, resident, listing, member, 1)
    reserved = entitlements.book_with_entitlement(
        db.session, resident, listing_id=listing.id, starts_at=factories.next_slot(listing, 3), address="楼下")
    services.accept(db.session, reserved, member, carer_id=carer_for(reserved))
    db.session.commit()
    figures = budget.figures(db.session, programme)
    assert (figures.committed, figures.reserved, figures.consumed, figures.remaining) == (60_000, 6000, 6000, 48_000)
    assert figures.burn_per_day == 12_000 // ((clock.now().date() - programme.opened_at.date()).days + 1)
    assert figures.runs_out_on is not None
    auth.login(official)
    page = client.get(f"/official/programmes/{programme.id}/budget").get_data(as_text=True)
    assert "<svg" in page and 'id="line-remaining"' in page and "¥480.00" in page
    assert "<script" not in page.split("<main", 1)[-1].split("</main>")[0]


def test_figures_before_any_spending_project_nothing(clock):
    programme, *_ = open_programme(budget_fen=60_000)
    clock.set(clock.now() + timedelta(days=3))
    figures = budget.figures(db.session, programme)
    assert figures.burn_per_day is None and figures.runs_out_on is None
    assert -ledger.balance(db.session, budget_code(programme.id)) == 60_000
