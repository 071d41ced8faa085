"""The ledger: balanced, append-only, never overdrawn — for any sequence of movements."""

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import ledger
from billing.ledger import InsufficientFunds, Unbalanced
from billing.models import LedgerEntry, LedgerTransaction
from tests import factories

GATEWAY = ledger.gateway_code("stripe")


def test_a_transaction_must_balance_and_move_between_accounts(db_session):
    provider = factories.provider()
    payable = ledger.provider_payable_code(provider.id)
    with pytest.raises(Unbalanced):
        ledger.post(db_session, kind="x", cause_type="test", cause_id=1, lines=[(GATEWAY, 100), (payable, -99)])
    with pytest.raises(Unbalanced):
        ledger.post(db_session, kind="x", cause_type="test", cause_id=1, lines=[(GATEWAY, 100), (GATEWAY, -100)])
    with pytest.raises(Unbalanced):
        ledger.post(db_session, kind="x", cause_type="test", cause_id=1, lines=[(GATEWAY, 1.5), (payable, -1.5)])
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == 0


def test_payment_then_earning_moves_money_and_keeps_the_books_balanced(db_session):
    provider = factories.provider()
    payable = ledger.provider_payable_code(provider.id)
    ledger.post(db_session, kind="payment", cause_type="payment", cause_id=1,
                lines=[(GATEWAY, 12000), ("resident_clearing", -12000)])
    ledger.post(db_session, kind="earned", cause_type="booking", cause_id=1,
                lines=[("resident_clearing", 12000), (payable, -12000)])
    assert ledger.balance(db_session, GATEWAY) == 12000
    assert ledger.balance(db_session, "resident_clearing") == 0
    assert ledger.balance(db_session, payable) == -12000  # credit: owed to the provider
    assert ledger.is_balanced(db_session)


def test_the_same_idempotency_key_posts_once(db_session):
    lines = [(GATEWAY, 500), ("resident_clearing", -500)]
    first = ledger.post(db_session, kind="payment", cause_type="payment", cause_id=7, lines=lines,
                        idempotency_key="payment:7")
    again = ledger.post(db_session, kind="payment", cause_type="payment", cause_id=7, lines=lines,
                        idempotency_key="payment:7")
    assert again.id == first.id
    assert ledger.balance(db_session, GATEWAY) == 500


def test_an_overdraft_is_refused_by_the_database_and_changes_nothing(db_session):
    provider = factories.provider()
    payable = ledger.provider_payable_code(provider.id)
    ledger.post(db_session, kind="payment", cause_type="payment", cause_id=1,
                lines=[(GATEWAY, 1000), ("resident_clearing", -1000)])
    with pytest.raises(InsufficientFunds):
        # Refunding more than was paid would take the gateway below zero.
        ledger.post(db_session, kind="refund", cause_type="refund", cause_id=1,
                    lines=[("resident_clearing", 1500), (GATEWAY, -1500)])
    assert ledger.balance(db_session, GATEWAY) == 1000
    # The caller's transaction is still usable after the refusal.
    ledger.post(db_session, kind="earned", cause_type="booking", cause_id=1,
                lines=[("resident_clearing", 1000), (payable, -1000)])
    assert ledger.is_balanced(db_session)


def test_entries_and_transactions_cannot_be_changed_or_deleted(db_session):
    ledger.post(db_session, kind="payment", cause_type="payment", cause_id=1,
                lines=[(GATEWAY, 100), ("resident_clearing", -100)])
    db_session.commit()
    for statement in (
        sa.update(LedgerEntry).values(amount_fen=1),
        sa.delete(LedgerEntry),
        sa.update(LedgerTransaction).values(memo="changed"),
        sa.delete(LedgerTransaction),
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with db_session.begin_nested():
                db_session.execute(statement)


# --- property: any sequence of movements ---------------------------------------

OPERATIONS = ["pay", "earn", "refund", "fee", "penalty", "payout"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 1), st.integers(1, 50_000)),
                min_size=1, max_size=25))
def test_no_sequence_unbalances_overdraws_or_loses_a_fen(db_session, steps):
    providers = [factories.provider(), factories.provider()]
    payables = [ledger.provider_payable_code(p.id) for p in providers]
    codes = [GATEWAY, "resident_clearing", "platform_fees", "penalty_income", *payables]
    model = {code: ledger.balance(db_session, code) for code in codes}
    floors = {GATEWAY: 1, "resident_clearing": -1, "platform_fees": -1, "penalty_income": -1}

    def moves(op, p, amount):
        payable = payables[p]
        return {
            "pay": [(GATEWAY, amount), ("resident_clearing", -amount)],
            "earn": [("resident_clearing", amount), (payable, -amount)],
            "refund": [("resident_clearing", amount), (GATEWAY, -amount)],
            "fee": [(payable, amount), ("platform_fees", -amount)],
            "penalty": [(payable, amount), ("penalty_income", -amount)],
            "payout": [(payable, amount), (GATEWAY, -amount)],
        }[op]

    for i, (op, p, amount) in enumerate(steps):
        lines = moves(op, p, amount)
        after = dict(model)
        for code, delta in lines:
            after[code] += delta
        overdrawn = any(after[code] * sign < 0 for code, sign in floors.items())
        if overdrawn:
            with pytest.raises(InsufficientFunds):
                ledger.post(db_session, kind=op, cause_type="test", cause_id=i, lines=lines)
        else:
            ledger.post(db_session, kind=op, cause_type="test", cause_id=i, lines=lines)
            model = after
        for code in codes:
            assert ledger.balance(db_session, code) == model[code], (op, code)
    assert ledger.is_balanced(db_session)
    assert sum(model.values()) == sum(ledger.balance(db_session, c) for c in codes)
