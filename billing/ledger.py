"""Posting to the ledger, the standard accounts, and the trial balance.

:func:`post` is the only way money moves.  It refuses an unbalanced or empty
transaction, applies each entry to its account's balance with one conditional
statement per account (in account-id order, so concurrent postings cannot
deadlock), and lets the database's CHECK refuse an overdraft — inside a
SAVEPOINT, so a refused posting leaves the caller's transaction usable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import now
from app.errors import Conflict
from billing.models import NORMAL_SIGN, Account, AccountKind, LedgerEntry, LedgerTransaction


class Unbalanced(ValueError):
    """A programming error: entries that do not sum to zero."""


class InsufficientFunds(Conflict):
    code = "insufficient-funds"


# code: (name, kind, may go negative)
STANDARD_ACCOUNTS = {
    "resident_clearing": ("Residents' prepayments held", AccountKind.LIABILITY, False),
    "platform_fees": ("Platform fees", AccountKind.INCOME, False),
    "penalty_income": ("Penalty income", AccountKind.INCOME, False),
    "subsidy_fund": ("Build-then-subsidise fund", AccountKind.EQUITY, True),
    "subsidies_paid": ("Subsidies paid", AccountKind.EXPENSE, False),
    # Purchase-of-services appropriations not yet drawn (billing/programmes): each
    # programme's budget is committed from it, and each settlement draws its payment.
    "programme_fund": ("Purchase-of-services fund", AccountKind.EQUITY, True),
}


# Purchase programmes (billing/programmes): budget available → reserved → consumed.
PROGRAMME_ACCOUNTS = {
    "programme_budget": ("Budget available, programme", AccountKind.EQUITY),
    "programme_reserved": ("Budget reserved for accepted visits, programme", AccountKind.LIABILITY),
    "programme_consumed": ("Budget consumed, awaiting settlement, programme", AccountKind.LIABILITY),
}


def gateway_code(gateway: str) -> str:
    return f"gateway_clearing:{gateway}"


def provider_payable_code(provider_id: int) -> str:
    return f"provider_payable:{provider_id}"


def _definition(code: str) -> tuple[str, AccountKind, bool, int | None]:
    if code in STANDARD_ACCOUNTS:
        name, kind, negative = STANDARD_ACCOUNTS[code]
        return name, kind, negative, None
    prefix, _, suffix = code.partition(":")
    if prefix == "gateway_clearing" and suffix:
        return f"Money held by the {suffix} gateway", AccountKind.ASSET, False, None
    if prefix in PROGRAMME_ACCOUNTS and suffix.isdigit():
        # A programme's budget, its reservations and its consumption never go below zero.
        name, kind = PROGRAMME_ACCOUNTS[prefix]
        return f"{name} {suffix}", kind, False, None
    if prefix == "provider_payable" and suffix.isdigit():
        # A provider may owe the platform (a fine larger than its earnings): may go negative.
        return f"Payable to provider {suffix}", AccountKind.LIABILITY, True, int(suffix)
    raise ValueError(f"unknown account code {code!r}")


# What people read for an account (the stored ``account.name`` is the English reference name).
_LABELS = {
    "resident_clearing": _l("Residents' prepayments held"),
    "platform_fees": _l("Platform fees"),
    "penalty_income": _l("Penalty income"),
    "subsidy_fund": _l("Build-then-subsidise fund"),
    "subsidies_paid": _l("Subsidies paid"),
    "programme_fund": _l("Purchase-of-services fund"),
}
_NUMBERED_LABELS = {
    "gateway_clearing": lambda suffix: (_l("Money held for payments made on site") if suffix == "offline"
                                        else _l("Money held by the %(gateway)s gateway", gateway=suffix.capitalize())),
    "programme_budget": lambda suffix: _l("Budget available, programme %(id)s", id=suffix),
    "programme_reserved": lambda suffix: _l("Budget reserved for accepted visits, programme %(id)s", id=suffix),
    "programme_consumed": lambda suffix: _l("Budget consumed, awaiting settlement, programme %(id)s", id=suffix),
    "provider_payable": lambda suffix: _l("Payable to provider %(id)s", id=suffix),
}


def account_label(account: Account) -> str:
    """The account's name in the reader's language (its stored name for an unknown code)."""
    if account.code in _LABELS:
        return str(_LABELS[account.code])
    prefix, _, suffix = account.code.partition(":")
    if prefix == "provider_payable" and account.provider_id is not None:
        provider = _provider_name(account)
        if provider:  # the organisation by its name rather than its number
            suffix = provider
    if prefix in _NUMBERED_LABELS and suffix:
        return str(_NUMBERED_LABELS[prefix](suffix))
    return account.name


def _provider_name(account: Account) -> str | None:
    from sqlalchemy.orm import object_session

    from providers.models import Provider

    session = object_session(account)
    return session.scalar(sa.select(Provider.name).where(Provider.id == account.provider_id)) if session else None


def account(session: Session, code: str) -> Account:
    """The account with this code, created on first use."""
    found = session.scalar(sa.select(Account).where(Account.code == code))
    if found is not None:
        return found
    name, kind, may_go_negative, provider_id = _definition(code)
    created = Account(code=code, name=name, kind=kind, normal_sign=NORMAL_SIGN[kind],
                      may_go_negative=may_go_negative, provider_id=provider_id, balance_fen=0)
    try:
        with session.begin_nested():
            session.add(created)
    except IntegrityError:  # created concurrently: use that one
        return session.scalar(sa.select(Account).where(Account.code == code))
    return created


def post(
    session: Session,
    *,
    kind: str,
    cause_type: str,
    cause_id: int,
    lines: Iterable[tuple[Account | str, int]],
    idempotency_key: str | None = None,
    memo: str = "",
) -> LedgerTransaction:
    """Post a balanced transaction; with a key already used, return that one."""
    totals: dict[str, int] = defaultdict(int)
    accounts: dict[str, Account] = {}
    for target, amount in lines:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise Unbalanced(f"amounts are whole fen, got {amount!r}")
        acct = account(session, target) if isinstance(target, str) else target
        accounts[acct.code] = acct
        totals[acct.code] += amount
    totals = {code: amount for code, amount in totals.items() if amount != 0}
    if len(totals) < 2:
        raise Unbalanced("a transaction moves money between at least two accounts")
    if sum(totals.values()) != 0:
        raise Unbalanced(f"entries sum to {sum(totals.values())}, not zero")
    if idempotency_key is not None:
        existing = session.scalar(
            sa.select(LedgerTransaction).where(LedgerTransaction.idempotency_key == idempotency_key)
        )
        if existing is not None:
            return existing

    ordered = sorted(totals.items(), key=lambda item: accounts[item[0]].id or 0)
    try:
        with session.begin_nested():
            txn = LedgerTransaction(at=now(), kind=kind, cause_type=cause_type, cause_id=cause_id,
                                    idempotency_key=idempotency_key, memo=memo[:300])
            session.add(txn)
            session.flush()
            for code, amount in ordered:
                acct = accounts[code]
                session.add(LedgerEntry(transaction_id=txn.id, account_id=acct.id, amount_fen=amount))
                session.execute(
                    sa.update(Account).where(Account.id == acct.id)
                    .values(balance_fen=Account.balance_fen + amount)
                    .execution_options(synchronize_session=False)
                )
            session.flush()
    except IntegrityError as error:
        if "balance_floor" in str(error.orig) or "CHECK" in str(error.orig).upper():
            raise InsufficientFunds(_l("Not enough money in the account for this movement.")) from None
        raise
    for acct in accounts.values():
        session.expire(acct, ["balance_fen"])
    return txn


def balance(session: Session, code: str) -> int:
    """An account's balance (debit positive); 0 for an account never used."""
    value = session.scalar(sa.select(Account.balance_fen).where(Account.code == code))
    return value or 0


@dataclass
class TrialBalanceRow:
    account: Account
    balance_fen: int  # the running balance
    entries_fen: int  # the sum of its entries: must equal balance_fen


def trial_balance(session: Session) -> list[TrialBalanceRow]:
    """Every account with its running balance and the sum of its entries (two queries)."""
    sums = dict(session.execute(
        sa.select(LedgerEntry.account_id, sa.func.coalesce(sa.func.sum(LedgerEntry.amount_fen), 0))
        .group_by(LedgerEntry.account_id)
    ).all())
    return [
        TrialBalanceRow(acct, acct.balance_fen, int(sums.get(acct.id, 0)))
        for acct in session.scalars(sa.select(Account).order_by(Account.code))
    ]


def is_balanced(session: Session) -> bool:
    """Debits equal credits overall, and every running balance matches its entries."""
    rows = trial_balance(session)
    return sum(r.balance_fen for r in rows) == 0 and all(r.balance_fen == r.entries_fen for r in rows)
