"""The double-entry ledger: accounts, transactions, entries — in integer fen.

Entries are signed (debit positive, credit negative) and every transaction's
entries sum to zero (checked when posted).  Entries and transactions are never
updated or deleted (database triggers refuse it); a correction is a new
transaction.  Each account keeps its running balance, updated in the same
statement that posts, and a CHECK keeps accounts that must not go negative
(gateway money, residents' prepayments, budgets) at or above zero in their
natural direction — so no code path can overdraw them, concurrently or not.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import UTCDateTime, enum_column
from app.extensions import db


class AccountKind(StrEnum):
    ASSET = "asset"  # debit-normal: money held (gateway clearing)
    LIABILITY = "liability"  # credit-normal: money owed (to residents, to providers)
    INCOME = "income"  # credit-normal: platform fees, penalties
    EXPENSE = "expense"  # debit-normal: subsidies and programme spending
    EQUITY = "equity"  # credit-normal: funds (subsidy fund, programme budgets)


NORMAL_SIGN = {
    AccountKind.ASSET: 1,
    AccountKind.EXPENSE: 1,
    AccountKind.LIABILITY: -1,
    AccountKind.INCOME: -1,
    AccountKind.EQUITY: -1,
}


class Account(db.Model):
    __tablename__ = "ledger_account"
    __table_args__ = (
        sa.CheckConstraint("normal_sign IN (-1, 1)", name="normal_sign_valid"),
        # The floor: an account that may not go negative stays >= 0 in its
        # natural direction (debit for assets, credit for liabilities).
        sa.CheckConstraint("may_go_negative OR balance_fen * normal_sign >= 0", name="balance_floor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[AccountKind] = mapped_column(enum_column(AccountKind, "account_kind"))
    normal_sign: Mapped[int] = mapped_column(sa.SmallInteger)
    may_go_negative: Mapped[bool] = mapped_column(default=False)
    provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    balance_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    @property
    def natural_balance(self) -> int:
        """The balance in the account's own direction (what it holds or owes)."""
        return self.balance_fen * self.normal_sign


class LedgerTransaction(db.Model):
    __tablename__ = "ledger_transaction"
    __table_args__ = (sa.Index("ix_ledger_transaction_cause", "cause_type", "cause_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    # What caused it: a booking, a payment, a refund, a settlement, a penalty, a subsidy claim.
    cause_type: Mapped[str] = mapped_column(sa.String(40))
    cause_id: Mapped[int] = mapped_column()
    # Posting twice with the same key is refused by the database.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    memo: Mapped[str] = mapped_column(sa.String(300), default="")

    entries: Mapped[list[LedgerEntry]] = relationship(back_populates="transaction", order_by="LedgerEntry.id")


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        sa.CheckConstraint("amount_fen <> 0", name="amount_nonzero"),
        sa.Index("ix_ledger_entry_account", "account_id", "transaction_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_transaction.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_account.id"))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    account: Mapped[Account] = relationship()
