"""Monthly settlements: arithmetic, rounding, penalties, offline netting, idempotency, the job and the CLI."""

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.clock import zone
from app.errors import Invalid
from app.extensions import db
from billing import ledger, settlements
from billing.jobs import settle_previous_month
from billing.models import LedgerTransaction
from billing.payment_models import Payment, Payout, Settlement, SettlementLine
from billing.payments import confirm_offline_receipt, record_success
from providers.bookings import services
from tests import factories
from tests.fake_gateway import use_gateway
from tests.helpers import count, race_app as make_race_app
from tests.carer_helpers import carer_for

NOVEMBER = "2026-11"


def local_time(year, month, day, hour=10):
    return datetime(year, month, day, hour, tzinfo=zone())


def completed_booking(clock, listing, staff, *, pay: str | None = None):
    """A booking taken through the real services to completed, starting the next weekday.

    ``pay``: None leaves the (pending) payment unpaid, ``"confirm"`` has the provider
    confirm an offline receipt, ``"gateway"`` records the payment as a verified webhook would.
    """
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=1, hour=9))
    services.accept(db.session, booking, staff, carer_id=carer_for(booking))
    payment = db.session.scalar(sa.select(Payment).where(Payment.booking_id == booking.id))
    if pay == "confirm":
        confirm_offline_receipt(db.session, booking)
    elif pay == "gateway":
        record_success(db.session, payment, payment_intent_id=f"pi_{booking.id}")
    clock.set(booking.starts_at)
    services.check_in(db.session, booking, staff)
    clock.set(booking.ends_at - timedelta(minutes=5))
    services.complete(db.session, booking, staff)
    db.session.commit()
    return booking


def to_december(clock):
    clock.set(local_time(2026, 12, 1, 3))


@pytest.fixture
def shop():
    provider = factories.provider()
    staff = factories.staff(provider)
    return provider, staff


def test_fee_is_rounded_half_up_per_booking_and_direct_money_is_not_paid_out(app, clock, shop):
    provider, staff = shop
    a = completed_booking(clock, factories.listing(provider, price_fen=1010), staff)  # 5 % = 50.5 fen
    b = completed_booking(clock, factories.listing(provider, price_fen=1030), staff)  # 51.5 fen
    to_december(clock)
    s = settlements.settle(db.session, provider.id, NOVEMBER)
    db.session.commit()
    lines = {line.booking_id: line for line in s.lines}
    assert lines[a.id].fee_fen == 51 and lines[b.id].fee_fen == 52  # half-up, not 50 / 52 (banker's)
    assert (s.booking_count, s.gross_fen, s.fee_fen) == (2, 2040, 103)
    # Never paid through Linli: the provider kept the price; it owes the fee.
    assert {line.source for line in s.lines} == {"direct"}
    assert s.collected_offline_fen == 2040 and s.penalties_fen == 0
    assert s.net_fen == -103
    assert count(Payout) == 0
    payable = ledger.provider_payable_code(provider.id)
    assert ledger.balance(db.session, payable) == 103  # a debit: owed to Linli
    assert ledger.balance(db.session, "platform_fees") == -103
    assert ledger.is_balanced(db.session)


def test_the_fee_percentage_comes_from_configuration(app, clock, shop, monkeypatch):
    provider, staff = shop
    monkeypatch.setitem(app.config, "LINLI_PLATFORM_FEE_PERCENT", 0)
    completed_booking(clock, factories.listing(provider, price_fen=12000), staff)
    to_december(clock)
    s = settlements.settle(db.session, provider.id, NOVEMBER)
    assert s.fee_fen == 0
    assert count(LedgerTransaction, LedgerTransaction.kind == "platform_fee") == 0


def test_offline_money_is_netted_and_a_penalty_is_deducted(app, clock, shop):
    provider, staff = shop
    payable = ledger.provider_payable_code(provider.id)
    booking = completed_booking(clock, factories.listing(provider, price_fen=12000), staff, pay="confirm")
    assert ledger.balance(db.session, payable) == -12000  # earned when completed
    ledger.post(db.session, kind="penalty", cause_type="penalty", cause_id=1, memo="late starts",
                lines=[(payable, 700), ("penalty_income", -700)])
    db.session.commit()
    to_december(clock)
    s = settlements.settle(db.session, provider.id, NOVEMBER)
    db.session.commit()
    assert s.lines[0].booking_id == booking.id and s.lines[0].source == "offline"
    assert (s.gross_fen, s.fee_fen, s.penalties_fen, s.collected_offline_fen) == (12000, 600, 700, 12000)
    assert s.net_fen == -1300
    assert count(Payout) == 0
    assert ledger.balance(db.session, ledger.gateway_code("offline")) == 0  # the cash was netted
    assert ledger.balance(db.session, payable) == 1300  # fee and fine: owed by the provider
    keys = set(db.session.scalars(sa.select(LedgerTransaction.idempotency_key)
                                  .where(LedgerTransaction.cause_type == "settlement")))
    assert keys == {f"settlement:{s.id}:fee", f"settlement:{s.id}:offline"}
    assert ledger.is_balanced(db.session)


def test_a_fine_larger_than_the_gross_gives_no_payout_and_a_debit_payable(app, clock, shop, monkeypatch):
    provider, staff = shop
    use_gateway(app, monkeypatch, "stripe")
    payable = ledger.provider_payable_code(provider.id)
    completed_booking(clock, factories.listing(provider, price_fen=12000), staff, pay="gateway")
    ledger.post(db.session, kind="penalty", cause_type="penalty", cause_id=2,
                lines=[(payable, 50000), ("penalty_income", -50000)])
    db.session.commit()
    to_december(clock)
    s = settlements.settle(db.session, provider.id, NOVEMBER)
    assert s.lines[0].source == "gateway" and s.collected_offline_fen == 0
    assert s.net_fen == 12000 - 600 - 50000
    assert count(Payout) == 0
    assert ledger.balance(db.session, payable) == 38600  # debit balance: the provider owes Linli
    assert ledger.is_balanced(db.session)


def test_a_late_cancellation_fee_kept_on_site_is_settled_and_netted(app, clock, shop, client, auth):
    provider, staff = shop
    listing = factories.listing(provider, price_fen=12000)
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=1, hour=9))
    services.accept(db.session, booking, staff, carer_id=carer_for(booking))
    confirm_offline_receipt(db.session, booking)  # the resident paid on site in advance
    services.cancel_by_resident(db.session, booking, booking.resident, "plans changed")  # 23 h before: late
    db.session.commit()
    payable = ledger.provider_payable_code(provider.id)
    assert ledger.balance(db.session, payable) == -2400  # 20 % kept for the provider
    to_december(clock)
    s = settlements.settle(db.session, provider.id, NOVEMBER)
    db.session.commit()
    assert [(line.booking_id, line.source, line.amount_fen, line.fee_fen) for line in s.lines] == [
        (booking.id, "late_fee_offline", 2400, 120)]
    assert (s.booking_count, s.gross_fen, s.collected_offline_fen, s.net_fen) == (0, 2400, 2400, -120)
    assert ledger.balance(db.session, payable) == 120
    assert ledger.balance(db.session, ledger.gateway_code("offline")) == 0
    assert ledger.is_balanced(db.session)
    assert settlements.settle(db.session, provider.id, NOVEMBER).id == s.id
    client.set_cookie("linli_lang", "en")
    auth.login(staff)
    page = client.get(f"/provider/statements/{NOVEMBER}")
    assert page.status_code == 200 and "Late-cancellation fee, paid on site" in page.get_data(as_text=True)
    assert client.get(f"/provider/statements/{NOVEMBER}.csv").status_code == 200


def test_penalties_outside_the_month_do_not_count(app, clock, shop):
    provider, staff = shop
    payable = ledger.provider_payable_code(provider.id)
    completed_booking(clock, factories.listing(provider, price_fen=10000), staff)
    to_december(clock)  # a December fine belongs to December's statement
    ledger.post(db.session, kind="penalty", cause_type="penalty", cause_id=3,
                lines=[(payable, 900), ("penalty_income", -900)])
    s = settlements.settle(db.session, provider.id, NOVEMBER)
    assert s.penalties_fen == 0


def test_settling_twice_changes_nothing(app, clock, shop, monkeypatch):
    provider, staff = shop
    use_gateway(app, monkeypatch, "stripe")
    completed_booking(clock, factories.listing(provider, price_fen=12000), staff, pay="gateway")
    to_december(clock)
    first = settlements.settle(db.session, provider.id, NOVEMBER)
    db.session.commit()
    before = (count(Settlement), count(SettlementLine), count(Payout), count(LedgerTransaction),
              ledger.balance(db.session, ledger.provider_payable_code(provider.id)))
    again = settlements.settle(db.session, provider.id, NOVEMBER)
    assert settlements.settle_period(db.session, NOVEMBER) == []
    db.session.commit()
    assert again.id == first.id
    assert (count(Settlement), count(SettlementLine), count(Payout), count(LedgerTransaction),
            ledger.balance(db.session, ledger.provider_payable_code(provider.id))) == before
    assert before[2] == 1  # the one payout (12000 - 600)
    assert db.session.scalar(sa.select(Payout.amount_fen)) == 11400


def test_a_booking_is_settled_once_even_if_its_month_is_run_for_a_new_settlement(app, clock, shop):
    provider, staff = shop
    booking = completed_booking(clock, factories.listing(provider), staff)
    to_december(clock)
    settlements.settle(db.session, provider.id, NOVEMBER)
    db.session.add(Settlement(provider_id=provider.id, period="2026-10"))
    db.session.flush()
    other = db.session.scalar(sa.select(Settlement).where(Settlement.period == "2026-10"))
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            db.session.add(SettlementLine(settlement_id=other.id, booking_id=booking.id, amount_fen=1))
            db.session.flush()


@pytest.mark.parametrize("text, message", [
    ("2026-13", "There is no such month"),
    ("abc", "YYYY-MM"),
    ("2026-1", "YYYY-MM"),
    ("", "YYYY-MM"),
    ("2027-01", "in the future"),
    ("2026-11", "has not ended yet"),
])
def test_bad_periods_are_refused_with_a_specific_message(app, clock, shop, text, message):
    provider, _staff = shop
    with force_locale("en"), pytest.raises(Invalid, match=message) as caught:
        settlements.settle(db.session, provider.id, text)
    assert caught.value.field == "period"
    assert count(Settlement) == 0


def test_the_month_is_the_local_date_of_completion(app, clock, shop):
    provider, staff = shop
    listing = factories.listing(provider)
    clock.set(local_time(2026, 11, 27, 10))  # a Friday; the booking is on Monday 30 November
    booking = factories.booking(listing, starts_at=factories.next_slot(listing, days_ahead=1, hour=15))
    services.accept(db.session, booking, staff, carer_id=carer_for(booking))
    clock.set(booking.starts_at)
    services.check_in(db.session, booking, staff)
    clock.set(local_time(2026, 12, 1, 0) - timedelta(minutes=1))  # 23:59 local, 15:59 UTC
    services.complete(db.session, booking, staff)
    db.session.commit()
    to_december(clock)
    assert settlements.settle(db.session, provider.id, NOVEMBER).booking_count == 1
    clock.set(local_time(2027, 1, 1, 3))
    assert settlements.settle(db.session, provider.id, "2026-12").booking_count == 0


def test_the_monthly_job_settles_last_month_once(app, clock, shop):
    provider, staff = shop
    completed_booking(clock, factories.listing(provider), staff)
    other = factories.provider()
    to_december(clock)
    assert settle_previous_month(db.session) == 1  # only the provider with bookings
    db.session.commit()
    assert settle_previous_month(db.session) == 0
    assert count(Settlement) == 1
    assert count(Settlement, Settlement.provider_id == other.id) == 0


def test_the_cli_settles_and_prints_a_summary(app, clock, shop):
    provider, staff = shop
    completed_booking(clock, factories.listing(provider, price_fen=12000), staff)
    to_december(clock)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["settle", "--period", NOVEMBER])
    assert result.exit_code == 0, result.output
    assert "Settlement 2026-11: 1 provider(s) settled now, 1 in all." in result.output
    assert "provider" in result.output and "net" in result.output
    row = next(line for line in result.output.splitlines() if provider.name in line)
    assert "¥120.00" in row and "¥6.00" in row and "-¥6.00" in row and "none" in row
    again = runner.invoke(args=["settle", "--period", NOVEMBER])
    assert again.exit_code == 0
    assert "Nothing new to settle; nothing changed." in again.output
    assert count(Settlement) == 1


@pytest.mark.parametrize("text", ["2026-13", "abc", "2030-01"])
def test_the_cli_refuses_a_bad_period(app, clock, text):
    result = app.test_cli_runner().invoke(args=["settle", "--period", text])
    assert result.exit_code != 0
    assert "Error:" in result.output
    assert count(Settlement) == 0


# --- Two settlement runs at once (real connections and commits) ----------------------


@pytest.fixture(scope="module")
def race_app(tmp_path_factory):
    with make_race_app(tmp_path_factory, "settle", 4) as app:
        yield app


@pytest.mark.no_db_session
def test_two_concurrent_settlement_runs_settle_once(race_app):
    import threading

    from app.db import write_transaction

    racers = 4
    with race_app.app_context():
        clock = race_app.extensions["linli.clock"]
        provider = factories.provider()
        staff = factories.staff(provider)
        completed_booking(clock, factories.listing(provider, price_fen=12000), staff, pay="confirm")
        completed_booking(clock, factories.listing(provider, price_fen=8000), staff)
        to_december(clock)
        provider_id = provider.id

    barrier = threading.Barrier(racers)
    results, errors = [], []
    lock = threading.Lock()

    def run() -> None:
        with race_app.app_context():
            try:
                barrier.wait()
                with write_transaction(db.session):
                    settlement = settlements.settle(db.session, provider_id, NOVEMBER)
                settlement_id = settlement.id
                db.session.commit()
                with lock:
                    results.append(settlement_id)
            except Exception as error:  # noqa: BLE001  (reported below)
                db.session.rollback()
                with lock:
                    errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert len(results) == racers and len(set(results)) == 1
    with race_app.app_context():
        assert count(Settlement, Settlement.provider_id == provider_id) == 1
        assert count(SettlementLine) == 2
        assert count(LedgerTransaction, LedgerTransaction.cause_type == "settlement") == 2  # fee + netting
        settlement = db.session.get(Settlement, results[0])
        assert (settlement.gross_fen, settlement.fee_fen, settlement.net_fen) == (20000, 1000, -1000)
        assert ledger.is_balanced(db.session)
