"""Programme money pays only proven visits (issue 13, "Money and supervision").

Verified or cleared → consumed → paid in the first settlement after; unverified →
pending on the statement with its reason, carried to the next month, released unpaid
after the deadline with a notice; found not served → withheld before payment, clawed
back once after it.  The ledger stays balanced and the budget adds up throughout.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app.clock import zone
from app.extensions import db
from billing import ledger, settlements
from billing.models import LedgerTransaction
from billing.payment_models import SettlementLine
from billing.programmes import budget, entitlements, jobs, pending
from billing.programmes.models import ReleaseReason, UseStatus
from billing.programmes.programmes import budget_code, consumed_code, reserved_code
from app.periods import Period
from providers.bookings import services
from providers.visits.flags import raise_flag
from providers.visits.models import FLAG_RULE_LABELS, FlagRule, VisitFlag, VisitRecord
from providers.visits.verification import clear
from ratings.followups.models import CallOutcome, CallStatus, FollowUpCall, SampleReason, follow_up_recorded
from tests import factories
from tests.programme_helpers import enrolled_resident, open_programme, verify_visit
from tests.rating_helpers import audit_events, notifications
from tests.carer_helpers import carer_for

PRICE = 6000


@pytest.fixture
def world(clock):
    programme, award, listing, member, official, community = open_programme(
        budget_fen=100_000, contract_price_fen=PRICE, capacity=10)
    resident = enrolled_resident(programme, official, community)
    return programme, award, listing, member, official, resident


def served(clock, world, days_ahead=1, hour=9):
    """A programme visit accepted, checked in and completed, not verified."""
    programme, award, listing, member, official, resident = world
    booking = entitlements.book_with_entitlement(
        db.session, resident, listing_id=listing.id, starts_at=factories.next_slot(listing, days_ahead, hour),
        address="城里社区3号楼")
    services.accept(db.session, booking, member, carer_id=carer_for(booking))
    db.session.commit()
    back = clock.now()
    clock.set(booking.starts_at)
    services.check_in(db.session, booking, member)
    clock.set(booking.ends_at)
    services.complete(db.session, booking, member)
    db.session.commit()
    clock.set(max(back, clock.now()))
    return booking


def settle(clock, provider_id, period):
    year, month = map(int, period.split("-"))
    clock.set(datetime(year + month // 12, month % 12 + 1, 1, 9, tzinfo=zone()))
    settlement = settlements.settle(db.session, provider_id, period)
    db.session.commit()
    return settlement


def lines_of(settlement):
    return {line.booking_id: line for line in db.session.scalars(
        sa.select(SettlementLine).where(SettlementLine.settlement_id == settlement.id))}


def use(booking):
    return entitlements.use_of(db.session, booking.id)


def assert_books_add_up(programme):
    assert ledger.is_balanced(db.session)
    figures = budget.figures(db.session, programme)
    assert figures.committed == figures.reserved + figures.consumed + figures.remaining


def record_not_served(booking, official):
    """What the follow-up queue does when a caller records "not served"."""
    call = FollowUpCall(booking_id=booking.id, provider_id=booking.provider_id, month="2026-11",
                        programme_id=use(booking).programme_id, reason=SampleReason.SAMPLED,
                        status=CallStatus.DONE, outcome=CallOutcome.NOT_SERVED, attempts=1,
                        recorded_by_id=official.id, recorded_at=booking.ends_at)
    db.session.add(call)
    db.session.flush()
    follow_up_recorded.send(db.session, call=call, actor=official)
    db.session.commit()
    return call


def test_a_verified_visit_is_consumed_and_paid_in_that_months_settlement(clock, world):
    programme, award, *_rest, resident = world
    booking = served(clock, world)
    assert use(booking).status == UseStatus.RESERVED  # completion alone is the provider's word
    verify_visit(db.session, booking, resident)
    db.session.commit()
    assert use(booking).status == UseStatus.CONSUMED
    assert -ledger.balance(db.session, consumed_code(programme.id)) == PRICE
    settlement = settle(clock, award.provider_id, "2026-11")
    assert lines_of(settlement)[booking.id].amount_fen == PRICE
    assert settlement.net_fen == PRICE and use(booking).settlement_id == settlement.id
    assert pending.statement_notes(db.session, award.provider_id, Period(2026, 11)) == []
    assert_books_add_up(programme)


def test_a_visit_verified_before_completion_is_consumed_on_completion(clock, world):
    programme, award, listing, member, official, resident = world
    booking = entitlements.book_with_entitlement(
        db.session, resident, listing_id=listing.id, starts_at=factories.next_slot(listing), address="城里社区3号楼")
    services.accept(db.session, booking, member, carer_id=carer_for(booking))
    clock.set(booking.starts_at)
    services.check_in(db.session, booking, member)
    verify_visit(db.session, booking, resident)  # the code, entered before the booking is completed
    assert use(booking).status == UseStatus.RESERVED
    clock.set(booking.ends_at)
    services.complete(db.session, booking, member)
    db.session.commit()
    assert use(booking).status == UseStatus.CONSUMED
    assert_books_add_up(programme)


def test_an_unverified_visit_is_pending_with_its_reason_and_paid_the_month_after_it_is_verified(clock, world):
    programme, award, *_rest, resident = world
    booking = served(clock, world)
    november = settle(clock, award.provider_id, "2026-11")
    assert booking.id not in lines_of(november) and november.net_fen == 0
    [note] = pending.statement_notes(db.session, award.provider_id, Period(2026, 11))
    assert (note.kind, note.booking_id, note.amount_fen) == ("pending", booking.id, PRICE)
    assert note.until == booking.completed_at + timedelta(days=30)
    assert use(booking).status == UseStatus.RESERVED
    # Verified in December (after November was settled): paid with December.
    clock.set(datetime(2026, 12, 5, 10, tzinfo=zone()))
    verify_visit(db.session, booking, resident)
    db.session.commit()
    december = settle(clock, award.provider_id, "2026-12")
    assert lines_of(december)[booking.id].amount_fen == PRICE and december.net_fen == PRICE
    # November's statement still says what it said: pending then.
    assert [n.booking_id for n in pending.statement_notes(db.session, award.provider_id,
                                                          Period(2026, 11))] == [booking.id]
    assert pending.statement_notes(db.session, award.provider_id, Period(2026, 12)) == []
    assert_books_add_up(programme)


def test_a_flagged_pending_visit_names_its_rules(clock, world):
    _programme, award, *_rest = world
    booking = served(clock, world)  # checked out without a code or a location: the rules flagged it
    raise_flag(db.session, booking, FlagRule.SHORT_DURATION, {"minutes": 10})
    db.session.commit()
    open_rules = set(db.session.scalars(sa.select(VisitFlag.rule).where(VisitFlag.booking_id == booking.id)))
    assert {FlagRule.NO_CODE, FlagRule.SHORT_DURATION} <= open_rules
    [note] = pending.pending_notes(db.session, award.provider_id, Period(2026, 11))
    for rule in open_rules:
        assert str(FLAG_RULE_LABELS[rule]) in note.reason


def test_a_cleared_visit_is_paid(clock, world):
    programme, award, _listing, _member, official, _resident = world
    booking = served(clock, world)
    record = db.session.get(VisitRecord, booking.id)  # the check-in made it
    clear(db.session, booking, record, official, "居民电话确认已服务")
    db.session.commit()
    assert use(booking).status == UseStatus.CONSUMED
    assert lines_of(settle(clock, award.provider_id, "2026-11"))[booking.id].amount_fen == PRICE
    assert_books_add_up(programme)


def test_an_unverified_visit_is_released_unpaid_after_30_days_with_a_notice(clock, world):
    programme, award, _listing, member, _official, resident = world
    booking = served(clock, world)
    clock.set(booking.completed_at + timedelta(days=29))
    assert jobs.release_unverified_visits(db.session) == 0
    db.session.commit()
    clock.set(booking.completed_at + timedelta(days=30, minutes=1))
    assert jobs.release_unverified_visits(db.session) == 1
    db.session.commit()
    assert (use(booking).status, use(booking).release_reason) == (UseStatus.RELEASED, ReleaseReason.UNVERIFIED)
    assert ledger.balance(db.session, reserved_code(programme.id)) == 0
    assert -ledger.balance(db.session, budget_code(programme.id)) == 100_000
    [notice] = notifications("programme.visit_released_unverified", member.id)
    assert notice.params == {"booking": booking.id, "days": 30}
    assert len(audit_events("entitlement.released_unverified", booking.id)) == 1
    assert jobs.release_unverified_visits(db.session) == 0  # idempotent
    # The verification that comes too late pays nothing.
    verify_visit(db.session, booking, resident)
    db.session.commit()
    assert use(booking).status == UseStatus.RELEASED
    december = settle(clock, award.provider_id, "2026-12")
    assert booking.id not in lines_of(december)
    [note] = pending.released_notes(db.session, award.provider_id, Period(2026, 12))
    assert note.booking_id == booking.id
    assert_books_add_up(programme)


def test_not_served_before_payment_withholds_the_money(clock, world):
    programme, award, _listing, member, official, resident = world
    verified, unverified = served(clock, world, 1), served(clock, world, 2)
    verify_visit(db.session, verified, resident)  # the code was entered, yet the call finds it not served
    db.session.commit()
    for booking in (verified, unverified):
        record_not_served(booking, official)
        # Recorded again (a double submit): the receiver runs and changes nothing.
        follow_up_recorded.send(db.session, call=db.session.scalar(
            sa.select(FollowUpCall).where(FollowUpCall.booking_id == booking.id)), actor=official)
        db.session.commit()
        assert (use(booking).status, use(booking).release_reason) == (UseStatus.RELEASED, ReleaseReason.NOT_SERVED)
        assert len(audit_events("entitlement.withheld", booking.id)) == 1
    assert len(notifications("programme.visit_withheld", member.id)) == 2
    assert ledger.balance(db.session, consumed_code(programme.id)) == 0
    assert ledger.balance(db.session, reserved_code(programme.id)) == 0
    november = settle(clock, award.provider_id, "2026-11")
    assert lines_of(november) == {} and november.net_fen == 0
    assert {n.booking_id for n in pending.released_notes(db.session, award.provider_id,
                                                         Period(2026, 11))} == {verified.id, unverified.id}
    assert_books_add_up(programme)


def test_not_served_after_payment_is_clawed_back_once_and_netted_next_month(clock, world):
    programme, award, _listing, member, official, resident = world
    booking = served(clock, world)
    verify_visit(db.session, booking, resident)
    db.session.commit()
    november = settle(clock, award.provider_id, "2026-11")
    assert november.net_fen == PRICE
    clock.set(datetime(2026, 12, 10, 10, tzinfo=zone()))
    call = record_not_served(booking, official)
    follow_up_recorded.send(db.session, call=call, actor=official)  # recorded twice: one clawback
    db.session.commit()
    [txn] = db.session.scalars(sa.select(LedgerTransaction).where(
        LedgerTransaction.idempotency_key == f"clawback:visit:{booking.id}"))
    assert txn.kind == "penalty"
    assert use(booking).clawed_back_at is not None and use(booking).status == UseStatus.CONSUMED
    assert len(audit_events("entitlement.clawed_back", booking.id)) == 1
    assert len(notifications("programme.visit_clawed_back", member.id)) == 1
    december = settle(clock, award.provider_id, "2026-12")
    assert december.penalties_fen == PRICE and december.net_fen == -PRICE
    [note] = pending.clawback_notes(db.session, award.provider_id, Period(2026, 12))
    assert (note.booking_id, note.amount_fen) == (booking.id, PRICE)
    assert budget.figures(db.session, programme).consumed == 0  # the money is back in the budget
    assert_books_add_up(programme)


def test_the_statement_page_and_csv_show_pending_released_and_clawed_back_visits(client, auth, clock, world):
    programme, award, _listing, member, official, resident = world
    paid = served(clock, world, 1)
    verify_visit(db.session, paid, resident)
    waiting = served(clock, world, 2)
    withheld = served(clock, world, 3)
    db.session.commit()
    record_not_served(withheld, official)
    settle(clock, award.provider_id, "2026-11")
    client.set_cookie("linli_lang", "en")
    auth.login(member)
    page = client.get("/provider/statements/2026-11").get_data(as_text=True)
    assert f'id="line-{paid.id}"' in page
    assert re.search(rf'id="pending-{waiting.id}".*?not confirmed by the resident', page, re.S)
    assert re.search(rf'id="released-{withheld.id}".*?not served', page, re.S)
    csv = client.get("/provider/statements/2026-11.csv").get_data(as_text=True)
    assert f"pending,{waiting.id}," in csv and f"released,{withheld.id}," in csv


def test_the_statement_page_runs_the_same_queries_for_two_or_six_pending_visits(client, auth, clock, world):
    from tests.test_booking_pages import counting_queries

    _programme, award, _listing, member, _official, _resident = world
    for days in (1, 2):
        served(clock, world, days)
    auth.login(member)

    def statements(period):
        client.get(f"/provider/statements/{period}")  # warm up
        with counting_queries() as seen:
            assert client.get(f"/provider/statements/{period}").status_code == 200
        return len(seen)

    settle(clock, award.provider_id, "2026-11")
    few = statements("2026-11")
    # December: November's two carried forward and four more.
    for days in (1, 2, 3, 4):
        served(clock, world, days)
    settle(clock, award.provider_id, "2026-12")
    assert len(pending.pending_notes(db.session, award.provider_id, Period(2026, 12))) == 6
    assert statements("2026-12") == few


def test_the_residents_page_does_not_call_a_served_visit_used_before_it_is_verified(client, auth, clock, world):
    *_rest, resident = world
    booking = served(clock, world)
    client.set_cookie("linli_lang", "en")
    auth.login(resident)
    mark = re.compile(rf'id="use-{booking.id}">([^<]*)<')
    page = client.get("/my/entitlements").get_data(as_text=True)
    assert mark.search(page).group(1) == "Served, awaiting your confirmation: not counted as used yet"
    assert "1 of 8 booked or used" in page
    verify_visit(db.session, booking, resident)
    db.session.commit()
    assert mark.search(client.get("/my/entitlements").get_data(as_text=True)).group(1) == "Used"


def test_the_72_hour_auto_confirmation_does_not_make_a_programme_visit_payable(clock, world):
    programme, award, *_rest = world
    booking = served(clock, world)
    clock.set(booking.completed_at + timedelta(hours=73))
    assert services.auto_confirm_completed(db.session) == 1
    db.session.commit()
    assert use(booking).status == UseStatus.RESERVED
    assert booking.id not in lines_of(settle(clock, award.provider_id, "2026-11"))
    assert_books_add_up(programme)
