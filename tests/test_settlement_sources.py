"""Settlement by source: the pure totals, one function per source, the stored source's CHECK,
and the kept late-cancellation fee as a fact of the refund."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.periods import Period
from billing import settlement_sources as sources
from billing import settlements
from billing.overview import billing_overview
from billing.payment_models import PayAt, Payment, PaymentPolicy, Refund, RefundStatus, SettlementLine
from billing.payment_models import SettlementSource as SS
from billing.payments import confirm_offline_receipt
from providers.bookings import services
from tests import factories
from tests.test_settlements import NOVEMBER, completed_booking, to_december
from tests.carer_helpers import carer_for

AT = datetime(2026, 11, 5, 2, tzinfo=timezone.utc)


def line(source, booking_id, amount, fee, **extra):
    return sources.Line(source, booking_id, AT, amount, fee, **extra)


# --- the pure totals -----------------------------------------------------------------------


def test_totals_of_no_lines_are_the_penalties_and_subsidies_alone():
    figures = sources.totals([], penalties_fen=500, subsidies_fen=2000)
    assert (figures.booking_count, figures.gross_fen, figures.fee_fen, figures.net_fen) == (0, 0, 0, 1500)


def test_totals_follow_the_rule_for_every_source():
    lines = [
        line(SS.GATEWAY, 1, 12000, 600),
        line(SS.OFFLINE, 2, 10000, 500, netted_fen=8000),  # 2,000 refunded before completion
        line(SS.DIRECT, 3, 5000, 250, direct_fen=5000),
        line(SS.LATE_FEE, 4, 2400, 120),
        line(SS.LATE_FEE_OFFLINE, 5, 2000, 100, netted_fen=2000),
        line(SS.PROGRAMME, 6, 5400, 0, deduction_fen=600),
    ]
    figures = sources.totals(lines, penalties_fen=1000, subsidies_fen=3000)
    assert figures.booking_count == 4  # kept fees are not bookings
    assert figures.gross_fen == 12000 + 10000 + 5000 + 2400 + 2000 + 5400
    assert figures.fee_fen == 600 + 500 + 250 + 120 + 100
    assert figures.offline_netted_fen == 10000
    assert figures.collected_offline_fen == 15000
    assert figures.net_fen == figures.gross_fen - figures.fee_fen - 1000 - 15000 + 3000


def test_a_negative_net_is_reported_not_clipped():
    figures = sources.totals([line(SS.LATE_FEE_OFFLINE, 1, 2400, 120, netted_fen=2400)])
    assert figures.net_fen == -120


def test_lines_are_ordered_bookings_by_completion_then_kept_fees_by_booking():
    early, late = datetime(2026, 11, 2, tzinfo=timezone.utc), datetime(2026, 11, 9, tzinfo=timezone.utc)
    lines = [sources.Line(SS.LATE_FEE, 2, early, 1, 0), sources.Line(SS.GATEWAY, 9, late, 1, 0),
             sources.Line(SS.LATE_FEE, 1, late, 1, 0), sources.Line(SS.PROGRAMME, 7, early, 1, 0)]
    assert [x.booking_id for x in sorted(lines, key=sources.Line.order)] == [7, 9, 1, 2]


@pytest.mark.parametrize("amount, percent, fee", [(10010, "5", 501), (10009, "5", 500), (12345, "2.5", 309)])
def test_the_fee_on_a_line_rounds_half_up(amount, percent, fee):
    from decimal import Decimal

    assert sources.fee_on(amount, Decimal(percent)) == fee


# --- one function per source ---------------------------------------------------------------


@pytest.fixture
def shop():
    provider = factories.provider()
    return provider, factories.staff(provider)


def test_each_source_returns_only_its_own_lines(app, clock, shop):
    provider, staff = shop
    listing = factories.listing(provider, price_fen=12000)
    direct = completed_booking(clock, listing, staff)
    offline = completed_booking(clock, listing, staff, pay="confirm")
    online = completed_booking(clock, listing, staff, pay="gateway")
    db.session.execute(sa.update(Payment).where(Payment.booking_id == online.id).values(gateway="stripe"))
    to_december(clock)
    period = Period(2026, 11)
    found = {source: [x.booking_id for x in lines_of(db.session, provider.id, period)]
             for source, lines_of in sources.RESIDENT_SOURCES.items()}
    assert found == {SS.GATEWAY: [online.id], SS.OFFLINE: [offline.id], SS.DIRECT: [direct.id],
                     SS.LATE_FEE: [], SS.LATE_FEE_OFFLINE: []}
    [offline_line] = sources.offline_lines(db.session, provider.id, period)
    assert (offline_line.amount_fen, offline_line.fee_fen, offline_line.netted_fen) == (12000, 600, 12000)
    settlement = settlements.settle(db.session, provider.id, period)
    assert sorted(x.source for x in settlement.lines) == sorted([SS.DIRECT, SS.OFFLINE, SS.GATEWAY])
    # Settled lines are not found again.
    assert all(lines_of(db.session, provider.id, period) == [] for lines_of in sources.RESIDENT_SOURCES.values())


def test_the_database_refuses_an_unknown_settlement_source(app, clock, shop):
    provider, staff = shop
    booking = completed_booking(clock, factories.listing(provider), staff)
    to_december(clock)
    settlement = settlements.settle(db.session, provider.id, NOVEMBER)
    db.session.execute(sa.delete(SettlementLine).where(SettlementLine.booking_id == booking.id))
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.execute(sa.text(
                "INSERT INTO settlement_line (settlement_id, booking_id, amount_fen, fee_fen, source) "
                "VALUES (:s, :b, 1, 0, 'resident')"), {"s": settlement.id, "b": booking.id})


# --- the kept fee is a fact of the refund --------------------------------------------------


def _paid_on_site_then_cancelled_late(shop, fee_percent):
    provider, staff = shop
    listing = factories.listing(provider, price_fen=12000)
    db.session.add(PaymentPolicy(listing_id=listing.id, pay_at=PayAt.ACCEPTANCE, late_cancel_fee_percent=fee_percent))
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=1, hour=9))
    services.accept(db.session, booking, staff, carer_id=carer_for(booking))
    confirm_offline_receipt(db.session, booking)
    services.cancel_by_resident(db.session, booking, booking.resident, "plans changed")  # 23 h before: late
    db.session.commit()
    payment = db.session.scalar(sa.select(Payment).where(Payment.booking_id == booking.id))
    return booking, list(db.session.scalars(sa.select(Refund).where(Refund.payment_id == payment.id)))


def test_the_refund_stores_the_fee_the_provider_kept(app, clock, shop):
    _booking, refunds = _paid_on_site_then_cancelled_late(shop, 20)
    assert [(r.amount_fen, r.late_fee_fen, r.status) for r in refunds] == [(9600, 2400, RefundStatus.SUCCEEDED)]


def test_a_fee_kept_in_full_is_a_refund_of_nothing_and_is_still_settled(app, clock, shop):
    provider, _staff = shop
    refunds_before = billing_overview(db.session).refund_count
    booking, refunds = _paid_on_site_then_cancelled_late(shop, 100)
    assert [(r.amount_fen, r.late_fee_fen, r.status) for r in refunds] == [(0, 12000, RefundStatus.SUCCEEDED)]
    assert billing_overview(db.session).refund_count == refunds_before  # nothing was given back
    to_december(clock)
    settlement = settlements.settle(db.session, provider.id, NOVEMBER)
    assert [(x.booking_id, x.source, x.amount_fen, x.fee_fen) for x in settlement.lines] == [
        (booking.id, SS.LATE_FEE_OFFLINE, 12000, 600)]
    assert (settlement.collected_offline_fen, settlement.net_fen) == (12000, -600)
