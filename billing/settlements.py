"""Monthly settlements: what each provider earned in a month, and what Linli owes it.

A booking belongs to the month (``YYYY-MM``, in the community's time zone,
:func:`app.clock.zone`) of its ``completed_at`` local date.  A month can be
settled once it has ended; :func:`settle` makes one :class:`Settlement` per
provider and period (a unique constraint, checked first), and one line per
booking (``settlement_line.booking_id`` is unique), so running it twice —
even concurrently — changes nothing.

The rule, per booking of the period (``SettlementLine.source``):

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
    credited it to the payable: a ``late_cancel_fee`` transaction dated in the
    month).  The kept fee is a line like a booking's (the platform fee applies);
    when it was paid on site it is netted like ``offline``.
``programme``
    a visit paid by a purchase programme (billing/programmes/settlement.py):
    the award's contract price less any performance deduction, no platform
    fee; posted at settlement from ``programme_consumed:<id>`` to the payable.
``direct``
    no succeeded payment (demo history, an offline payment never confirmed):
    the provider was paid outside Linli.  Nothing was earned into the ledger and
    nothing is netted; the price counts in the gross (so the fee applies) and
    again as collected by the provider, so it adds nothing to the payout.

Figures: ``gross`` = sum of the bookings' prices; ``fee`` = per booking
``round_fen(price × percent / 100)`` (Decimal, half-up; see
:func:`_fee_percent_for`), posted Dr payable / Cr ``platform_fees``;
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

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import today, zone
from app.errors import Invalid
from app.money import round_fen
from billing import ledger
from billing.models import Account, LedgerEntry, LedgerTransaction
from billing.payment_models import Payment, PaymentStatus, Payout, Settlement, SettlementLine
from billing.programmes import settlement as programme_settlement
from providers.bookings.models import Booking, BookingStatus

OFFLINE = "offline"
PENALTY_KIND = "penalty"
LATE_FEE_KIND = "late_cancel_fee"
SUBSIDY_KIND = "subsidy"  # a disbursed subsidy claim: Dr subsidies_paid / Cr provider_payable
_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """A calendar month in the community's time zone."""

    year: int
    month: int

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) of the month in UTC, from local midnights."""
        start = datetime.combine(self.first_day, time(0), tzinfo=zone())
        end = datetime.combine(self.next().first_day, time(0), tzinfo=zone())
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)

    def __str__(self) -> str:
        return self.key


def current_period() -> Period:
    day = today()
    return Period(day.year, day.month)


def parse_period(text: str | None, *, must_be_over: bool = True) -> Period:
    """``YYYY-MM`` → :class:`Period`; raises Invalid (field ``period``) for a malformed
    month, a future month, or (``must_be_over``) the current month."""
    match = _PERIOD_RE.match((text or "").strip())
    if not match:
        raise Invalid(_l("Give the month as YYYY-MM, for example 2026-10."), field="period")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 2000:
        raise Invalid(_l("There is no such month: %(period)s.", period=text), field="period")
    period = Period(year, month)
    current = current_period()
    if period.first_day > current.first_day:
        raise Invalid(_l("%(period)s is in the future.", period=period.key), field="period")
    if must_be_over and period == current:
        raise Invalid(_l("%(period)s has not ended yet; it can be settled from the 1st of next month.",
                         period=period.key), field="period")
    return period


def _fee_percent_for(booking: Booking) -> Decimal:
    """The platform fee percentage for one booking.

    Programme-funded work (billing/programmes) pays no platform fee: 0 %.
    """
    from billing.programmes.settlement import is_programme_booking

    if is_programme_booking(booking):
        return Decimal(0)
    return _standard_fee_percent()


def _standard_fee_percent() -> Decimal:
    config = current_app.config
    percent = config.get("LINLI_PLATFORM_FEE_PERCENT", config.get("PLATFORM_FEE_PERCENT", 5))
    return Decimal(str(percent))


def fee_for(booking: Booking, percent: Decimal | None = None) -> int:
    """The fee on one booking in fen, rounded half-up (Decimal arithmetic); ``percent``
    when the caller already knows it (:func:`_fee_percents`)."""
    percent = _fee_percent_for(booking) if percent is None else percent
    return round_fen(Decimal(booking.price_fen) * percent / 100)


def _fee_percents(session: Session, booking_ids: list[int]) -> dict[int, Decimal]:
    """:func:`_fee_percent_for` of many bookings in one query (no query per booking)."""
    from billing.programmes.models import EntitlementUse

    programme = set(session.scalars(sa.select(EntitlementUse.booking_id).where(
        EntitlementUse.booking_id.in_(booking_ids)))) if booking_ids else set()
    standard = _standard_fee_percent()
    return {booking_id: Decimal(0) if booking_id in programme else standard for booking_id in booking_ids}


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


def _unsettled_bookings(session: Session, provider_id: int, period: Period) -> list[Booking]:
    start, end = period.bounds()
    settled = sa.select(SettlementLine.id).where(SettlementLine.booking_id == Booking.id)
    return list(session.scalars(
        sa.select(Booking)
        .where(Booking.provider_id == provider_id, Booking.status == BookingStatus.COMPLETED,
               Booking.completed_at >= start, Booking.completed_at < end, ~settled.exists())
        .order_by(Booking.completed_at, Booking.id)
    ))


def _late_cancel_fees(session: Session, provider_id: int, period: Period) -> list[tuple[Booking, int]]:
    """Unsettled bookings whose late-cancellation fee was credited to the provider in the
    month, with the fee (what the payable was credited)."""
    start, end = period.bounds()
    settled = sa.select(SettlementLine.id).where(SettlementLine.booking_id == LedgerTransaction.cause_id)
    rows = session.execute(
        sa.select(LedgerTransaction.cause_id, -sa.func.sum(LedgerEntry.amount_fen))
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(Account.code == ledger.provider_payable_code(provider_id), LedgerTransaction.kind == LATE_FEE_KIND,
               LedgerTransaction.cause_type == "booking", LedgerTransaction.at >= start,
               LedgerTransaction.at < end, ~settled.exists())
        .group_by(LedgerTransaction.cause_id).order_by(LedgerTransaction.cause_id)
    ).all()
    return [(session.get(Booking, booking_id), int(amount)) for booking_id, amount in rows if amount > 0]


def _payments_of(session: Session, booking_ids: list[int]) -> dict[int, Payment]:
    if not booking_ids:
        return {}
    payments = session.scalars(
        sa.select(Payment).where(Payment.booking_id.in_(booking_ids), Payment.status == PaymentStatus.SUCCEEDED)
    )
    return {p.booking_id: p for p in payments}


def find_settlement(session: Session, provider_id: int, period: Period | str) -> Settlement | None:
    return session.scalar(
        sa.select(Settlement).where(Settlement.provider_id == provider_id, Settlement.period == str(period))
    )


def settle(session: Session, provider_id: int, period: Period | str) -> Settlement:
    """Settle one provider's month; returns the settlement (the existing one, unchanged,
    when the month is settled already).  Flushes, never commits.

    Raises Invalid for a bad period.  Posts the fee and the offline netting with
    idempotency keys ``settlement:<id>:fee`` / ``settlement:<id>:offline`` and,
    for a positive net, adds the settlement's one payout (executed later).
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

    bookings = _unsettled_bookings(session, provider_id, period)
    payments = _payments_of(session, [b.id for b in bookings])
    funded = programme_settlement.funded_uses(session, [b.id for b in bookings])
    percents = _fee_percents(session, [b.id for b in bookings])
    offline_netted = direct = 0
    for booking in bookings:
        use = funded.get(booking.id)
        if use is not None:  # paid by a purchase programme: contract price, no fee
            paid = programme_settlement.price_use(session, use, provider_id)
            session.add(SettlementLine(settlement_id=settlement.id, booking_id=booking.id,
                                       amount_fen=paid, fee_fen=0, source="programme"))
            settlement.gross_fen += paid
            continue
        payment = payments.get(booking.id)
        fee = fee_for(booking, percents[booking.id])
        if payment is None:
            source = "direct"
            direct += booking.price_fen
        elif payment.gateway == OFFLINE:
            source = OFFLINE
            offline_netted += payment.amount_fen - payment.refunded_fen
        else:
            source = "gateway"
        session.add(SettlementLine(settlement_id=settlement.id, booking_id=booking.id,
                                   amount_fen=booking.price_fen, fee_fen=fee, source=source))
        settlement.gross_fen += booking.price_fen
        settlement.fee_fen += fee
    late_fees = _late_cancel_fees(session, provider_id, period)
    late_payments = _payments_of(session, [b.id for b, _amount in late_fees])
    for booking, amount in late_fees:
        fee = round_fen(Decimal(amount) * _fee_percent_for(booking) / 100)
        payment = late_payments.get(booking.id)
        on_site = payment is not None and payment.gateway == OFFLINE
        if on_site:
            offline_netted += amount
        session.add(SettlementLine(settlement_id=settlement.id, booking_id=booking.id, amount_fen=amount,
                                   fee_fen=fee, source="late_fee_offline" if on_site else "late_fee"))
        settlement.gross_fen += amount
        settlement.fee_fen += fee
    settlement.booking_count = len(bookings)
    settlement.penalties_fen = sum(amount for _txn, amount in penalty_transactions(session, provider_id, period))
    settlement.subsidies_fen = sum(amount for _txn, amount in subsidy_transactions(session, provider_id, period))
    settlement.collected_offline_fen = offline_netted + direct
    settlement.net_fen = (settlement.gross_fen - settlement.fee_fen - settlement.penalties_fen
                          - settlement.collected_offline_fen + settlement.subsidies_fen)
    session.flush()

    payable = ledger.provider_payable_code(provider_id)
    if funded:
        from billing.payouts import gateway_name

        programme_settlement.post_payments(session, settlement, list(funded.values()), gateway_name())
    if settlement.subsidies_fen:
        # The subsidy fund puts the awarded money into the payment channel that pays the provider.
        from billing.payouts import gateway_name

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
        from billing.payouts import create_payout

        create_payout(session, settlement)
    session.flush()
    return settlement


def providers_to_settle(session: Session, period: Period) -> list[int]:
    """Providers with completed unsettled bookings, late-cancellation fees, penalties or
    disbursed subsidies in the month."""
    start, end = period.bounds()
    settled = sa.select(SettlementLine.id).where(SettlementLine.booking_id == Booking.id)
    with_bookings = sa.select(Booking.provider_id).where(
        Booking.status == BookingStatus.COMPLETED, Booking.completed_at >= start,
        Booking.completed_at < end, ~settled.exists())
    with_penalties = (
        sa.select(Account.provider_id)
        .join(LedgerEntry, LedgerEntry.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(Account.provider_id.is_not(None), LedgerTransaction.kind.in_([PENALTY_KIND, LATE_FEE_KIND, SUBSIDY_KIND]),
               LedgerTransaction.at >= start, LedgerTransaction.at < end)
    )
    ids = set(session.scalars(with_bookings)) | set(session.scalars(with_penalties))
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
