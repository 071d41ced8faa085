"""The officials' billing overview: money in and out, what Linli owes, and whether the books balance.

Each figure is one aggregate query over the records that define it:

- money in: succeeded payments (``payment.amount_fen``), by gateway;
- refunds: succeeded refunds (``refund.amount_fen``);
- payouts: paid payouts, and pending/failed ones still to pay;
- outstanding payables: the credit balances of the ``provider_payable:<id>``
  accounts (what Linli owes providers now); debit balances (providers owing
  Linli, e.g. a fine larger than the earnings) are shown separately;
- the trial balance: every account's running balance against the sum of its
  entries, and whether debits equal credits (:mod:`billing.ledger`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing import ledger
from billing.models import Account
from billing.payment_models import Payment, PaymentStatus, Payout, PayoutStatus, Refund, RefundStatus

PAYABLE_PREFIX = "provider_payable:"


@dataclass
class Overview:
    money_in_fen: int = 0
    money_in_by_gateway: dict[str, int] = field(default_factory=dict)
    payment_count: int = 0
    refunds_fen: int = 0
    refund_count: int = 0
    payouts_paid_fen: int = 0
    payouts_paid_count: int = 0
    payouts_open_fen: int = 0
    payouts_open_count: int = 0
    payables_owed_fen: int = 0  # Linli owes providers (credit balances)
    providers_owing_fen: int = 0  # providers owe Linli (debit balances)
    trial_balance: list = field(default_factory=list)
    debits_fen: int = 0
    credits_fen: int = 0
    balanced: bool = True


def _sum_count(session: Session, model, *where) -> tuple[int, int]:
    total, count = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(model.amount_fen), 0), sa.func.count(model.id)).where(*where)
    ).one()
    return int(total), int(count)


def billing_overview(session: Session) -> Overview:
    """The figures of the officials' billing page (a fixed number of queries)."""
    view = Overview()
    by_gateway = session.execute(
        sa.select(Payment.gateway, sa.func.sum(Payment.amount_fen), sa.func.count(Payment.id))
        .where(Payment.status == PaymentStatus.SUCCEEDED).group_by(Payment.gateway).order_by(Payment.gateway)
    ).all()
    view.money_in_by_gateway = {gateway: int(total) for gateway, total, _count in by_gateway}
    view.money_in_fen = sum(view.money_in_by_gateway.values())
    view.payment_count = sum(int(count) for _g, _t, count in by_gateway)
    view.refunds_fen, view.refund_count = _sum_count(session, Refund, Refund.status == RefundStatus.SUCCEEDED,
                                                      Refund.amount_fen > 0)  # not a fee kept in full
    view.payouts_paid_fen, view.payouts_paid_count = _sum_count(session, Payout, Payout.status == PayoutStatus.PAID)
    view.payouts_open_fen, view.payouts_open_count = _sum_count(
        session, Payout, Payout.status.in_([PayoutStatus.PENDING, PayoutStatus.FAILED]))
    payable = Account.code.startswith(PAYABLE_PREFIX)
    owed, owing = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((Account.balance_fen < 0, -Account.balance_fen), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((Account.balance_fen > 0, Account.balance_fen), else_=0)), 0),
        ).where(payable)
    ).one()
    view.payables_owed_fen, view.providers_owing_fen = int(owed), int(owing)
    view.trial_balance = ledger.trial_balance(session)
    view.debits_fen = sum(row.balance_fen for row in view.trial_balance if row.balance_fen > 0)
    view.credits_fen = -sum(row.balance_fen for row in view.trial_balance if row.balance_fen < 0)
    view.balanced = view.debits_fen == view.credits_fen and all(
        row.balance_fen == row.entries_fen for row in view.trial_balance)
    return view
