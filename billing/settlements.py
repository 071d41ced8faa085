"""Monthly settlements: what each provider earned in a month, and what Linli owes it.

A booking belongs to the month (``YYYY-MM``, in the community's time zone,
:func:`app.clock.zone`) of its ``completed_at`` local date.  A month can be
settled once it has ended; :func:`settle` makes one :class:`Settlement` per
provider and period (a unique constraint, checked first), and one line per
booking (``settlement_line.booking_id`` is unique), so running it twice —
even concurrently — changes nothing.

The rule, per booking of the period (``SettlementLine.source``, a
:class:`~billing.payment_models.SettlementSource`; one function per source
returns the period's lines, billing/settlement_sources.py, and the funding
registry, billing/funding.py, says which sources exist):

``gateway``
    a succeeded payment through an online gateway (Stripe).  The payments
    receiver credited ``provider_payable:<id>`` when the booking completed;
    Linli holds the money at the gateway and pays it out.
``offline``
    a succeeded payment through the offline gateway: the provider collected it
    on site.  It was earned into the payable like any payment, so at settlement
    it is netted: Dr ``provider_payable`` / Cr ``gateway_clearing:offline``.
``late_fee`` / ``late_fee_offline``
    a resident cancelled late and the provider kept a fee (the refunds code
    stored it on the refund, ``refund.late_fee_fen``, created in the month, and
    credited it to the payable).  The kept fee is a line like a booking's (the
    platform fee applies); when it was paid on site it is netted like ``offline``.
``programme``
    a programme-funded visit (``booking.funding``), paid by its purchase
    programme (billing/programmes/settlement.py, registered as a source) in the
    first month by whose end it was served and verified (or cleared) — so its
    line may belong to a later month than its completion:
    the award's contract price less any performance deduction, no platform
    fee; posted at settlement from ``programme_consumed:<id>`` to the payable.
``direct``
    no succeeded payment (demo history, an offline payment never confirmed):
    the provider was paid outside Linli.  Nothing was earned into the ledger and
    nothing is netted; the price counts in the gross (so the fee applies) and
    again as collected by the provider, so it adds nothing to the payout.

Figures (:func:`billing.settlement_sources.totals`, arithmetic only): ``gross``
= sum of the lines' amounts; ``fee`` = per line ``round_fen(amount × percent /
100)`` (Decimal, half-up; ``LINLI_PLATFORM_FEE_PERCENT``; 0 for programme
lines), posted Dr payable / Cr ``platform_fees``;
``penalties`` = the ledger's ``penalty`` transactions on the provider's payable
dated in the month (fines and subsidy clawbacks, posted elsewhere, only read
here); ``subsidies`` = the ``subsidy`` transactions crediting the payable in the
month (disbursed build-then-subsidise claims; the subsidy fund then puts that
money into the payment channel: Dr ``gateway_clearing:<gw>`` / Cr
``subsidy_fund``); ``collected offline`` = offline payments (less refunds) plus
``direct`` prices; ``net`` = gross − fee − penalties − collected offline +
subsidies.  A positive net becomes one
:class:`Payout` (billing/payouts.py); a net at or below zero pays nothing and
the provider's payable keeps the debit (the provider owes Linli).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.periods import Period, current_period, parse_period  # noqa: F401 (Period's old home: re-exported)
from billing import ledger
from billing.funding import registry
from billing.models import Account, LedgerEntry, LedgerTransaction
from billing.payment_models import Payment, Payout, Refund, Settlement, SettlementLine
from billing.settlement_sources import OFFLINE, Line, totals
from providers.bookings.models import Booking, BookingStatus

PENALTY_KIND = "penalty"
LATE_FEE_KIND = "late_cancel_fee"
SUBSIDY_KIND = "subsidy"  # a disbursed subsidy claim: Dr subsidies_paid / Cr provider_payable


def _payable_transactions(session: Session, provider_id: int, period: Period,
                          kind: str) -> list[tuple[LedgerTransaction, int]]:
    """The ``kind`` transactions on the provider's payable dated in the month, with what
    each moved on it (positive = a debit, money the provider lost; negative = a credit)."""
    start, end = period.bounds()
    rows = session.execute(
        sa.select(LedgerTransaction, sa.func.sum(LedgerEntry.amount_fen))
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(Account.code == ledger.provider_payable_code(provider_id),
               LedgerTransaction.kind == kind,
               LedgerTransaction.at >= start, LedgerTransaction.at < end)
        .group_by(LedgerTransaction.id)
        .order_by(LedgerTransaction.at, LedgerTransaction.id)
    ).all()
    return [(txn, int(amount)) for txn, amount in rows]


def penalty_transactions(session: Session, provider_id: int, period: Period) -> list[tuple[LedgerTransaction, int]]:
    """The ``penalty`` transactions of the month (fines, subsidy clawbacks), each with
    the amount it took from the provider's payable."""
    return _payable_transactions(session, provider_id, period, PENALTY_KIND)


def subsidy_transactions(session: Session, provider_id: int, period: Period) -> list[tuple[LedgerTransaction, int]]:
    """The build-then-subsidise awards disbursed in the month, each with the amount it
    credited to the provider's payable (positive)."""
    return [(txn, -amount) for txn, amount in _payable_transactions(session, provider_id, period, SUBSIDY_KIND)]


def period_lines(session: Session, provider_id: int, period: Period) -> dict:
    """The provider's unsettled lines of the month, by funding rules: ``{rules: [Line…]}``,
    each source's lines from its own function (billing/settlement_sources.py)."""
    registered = registry.all()
    if not registered:
        raise LookupError("no funding rules are registered: register_billing has not run")
    return {rules: [line for lines_of in rules.settlement_sources.values()
                    for line in lines_of(session, provider_id, period)]
            for rules in registered}


def find_settlement(session: Session, provider_id: int, period: Period | str) -> Settlement | None:
    return session.scalar(
        sa.select(Settlement).where(Settlement.provider_id == provider_id, Settlement.period == str(period))
    )


def settle(session: Session, provider_id: int, period: Period | str) -> Settlement:
    """Settle one provider's month; returns the settlement (the existing one, unchanged,
    when the month is settled already).  Flushes, never commits.

    Raises Invalid for a bad period.  Posts what each funding owes (programme
    payments), the subsidy funding, the fee and the offline netting with
    idempotency keys ``settlement:<id>:…`` and, for a positive net, adds the
    settlement's one payout (executed later).
    """
    if not isinstance(period, Period):
        period = parse_period(period)
    existing = find_settlement(session, provider_id, period)
    if existing is not None:
        return existing
    settlement = Settlement(provider_id=provider_id, period=period.key)
    try:
        # Claims the (provider, period) first: a concurrent run waits here on
        # PostgreSQL's unique index and then finds the winner's row.
        with session.begin_nested():
            session.add(settlement)
            session.flush()
    except IntegrityError:
        return find_settlement(session, provider_id, period)

    by_rules = period_lines(session, provider_id, period)
    lines: list[Line] = sorted((line for group in by_rules.values() for line in group), key=Line.order)
    for line in lines:
        session.add(SettlementLine(settlement_id=settlement.id, booking_id=line.booking_id,
                                   amount_fen=line.amount_fen, fee_fen=line.fee_fen, source=line.source))
    figures = totals(
        lines,
        penalties_fen=sum(amount for _txn, amount in penalty_transactions(session, provider_id, period)),
        subsidies_fen=sum(amount for _txn, amount in subsidy_transactions(session, provider_id, period)))
    settlement.booking_count = figures.booking_count
    settlement.gross_fen = figures.gross_fen
    settlement.fee_fen = figures.fee_fen
    settlement.penalties_fen = figures.penalties_fen
    settlement.subsidies_fen = figures.subsidies_fen
    settlement.collected_offline_fen = figures.collected_offline_fen
    settlement.net_fen = figures.net_fen
    session.flush()

    for rules, group in by_rules.items():
        if group and rules.post_settlement is not None:
            rules.post_settlement(session, settlement, group)
    _post(session, settlement, period, figures.offline_netted_fen)
    session.flush()
    return settlement


def _post(session: Session, settlement: Settlement, period: Period, offline_netted: int) -> None:
    """The settlement's own postings: subsidy funding, platform fee, offline netting; the payout."""
    from billing.payouts import create_payout, gateway_name

    payable = ledger.provider_payable_code(settlement.provider_id)
    if settlement.subsidies_fen:
        # The subsidy fund puts the awarded money into the payment channel that pays the provider.
        ledger.post(session, kind="subsidy_funding", cause_type="settlement", cause_id=settlement.id,
                    lines=[(ledger.gateway_code(gateway_name()), settlement.subsidies_fen),
                           ("subsidy_fund", -settlement.subsidies_fen)],
                    idempotency_key=f"settlement:{settlement.id}:subsidies",
                    memo=f"Subsidies paid with {period.key}")
    if settlement.fee_fen:
        ledger.post(session, kind="platform_fee", cause_type="settlement", cause_id=settlement.id,
                    lines=[(payable, settlement.fee_fen), ("platform_fees", -settlement.fee_fen)],
                    idempotency_key=f"settlement:{settlement.id}:fee", memo=f"Platform fee {period.key}")
    if offline_netted:
        ledger.post(session, kind="offline_netting", cause_type="settlement", cause_id=settlement.id,
                    lines=[(payable, offline_netted), (ledger.gateway_code(OFFLINE), -offline_netted)],
                    idempotency_key=f"settlement:{settlement.id}:offline",
                    memo=f"Collected on site by the provider, {period.key}")
    if settlement.net_fen > 0:
        create_payout(session, settlement)


def providers_to_settle(session: Session, period: Period) -> list[int]:
    """Providers with completed unsettled bookings, late-cancellation fees kept, penalties or
    disbursed subsidies in the month, or lines a funding's rules pay in it."""
    start, end = period.bounds()
    settled = sa.select(SettlementLine.id).where(SettlementLine.booking_id == Booking.id)
    with_bookings = sa.select(Booking.provider_id).where(
        Booking.status == BookingStatus.COMPLETED, Booking.completed_at >= start,
        Booking.completed_at < end, ~settled.exists())
    with_fees = (
        sa.select(Booking.provider_id)
        .join(Payment, Payment.booking_id == Booking.id).join(Refund, Refund.payment_id == Payment.id)
        .where(Refund.late_fee_fen > 0, Refund.created_at >= start, Refund.created_at < end)
    )
    with_penalties = (
        sa.select(Account.provider_id)
        .join(LedgerEntry, LedgerEntry.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(Account.provider_id.is_not(None), LedgerTransaction.kind.in_([PENALTY_KIND, SUBSIDY_KIND]),
               LedgerTransaction.at >= start, LedgerTransaction.at < end)
    )
    ids = set(session.scalars(with_bookings)) | set(session.scalars(with_fees)) | set(session.scalars(with_penalties))
    for rules in registry.all():
        if rules.providers_to_settle is not None:
            ids |= rules.providers_to_settle(session, period)
    already = set(session.scalars(sa.select(Settlement.provider_id).where(Settlement.period == period.key)))
    return sorted(ids - already)


def settle_period(session: Session, period: Period | str) -> list[Settlement]:
    """Settle every provider that has something in the month (flushes, never commits);
    returns the settlements made now (none when the month is settled already)."""
    if not isinstance(period, Period):
        period = parse_period(period)
    return [settle(session, provider_id, period) for provider_id in providers_to_settle(session, period)]


def settlements_of(session: Session, period: Period | str) -> list[Settlement]:
    return list(session.scalars(
        sa.select(Settlement).where(Settlement.period == str(period)).order_by(Settlement.provider_id)
    ))


def payout_of(session: Session, settlement: Settlement) -> Payout | None:
    return session.scalar(sa.select(Payout).where(Payout.settlement_id == settlement.id))
