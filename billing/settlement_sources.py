"""Settlement by source: one function per source returns the period's lines; one pure
function adds them up.

Each source function takes ``(session, provider_id, period)`` and returns the
:class:`Line` objects of the provider's unsettled items of the month from that
source, read in one statement (no query per booking), so a later change can
turn each into a set-based ``INSERT … SELECT`` without changing what it means.
The resident-paid sources are here (:data:`RESIDENT_SOURCES`, registered by
billing/receivers.py with the resident-paid funding rules); programme-funded
visits come from billing/programmes/settlement.py through
:data:`billing.funding.registry`.

:func:`totals` is arithmetic only: lines, penalties and subsidies in, the
settlement's figures out (see billing/settlements.py for the rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.money import round_fen
from app.periods import Period
from billing.payment_models import Payment, PaymentStatus, Refund, SettlementLine, SettlementSource
from providers.bookings.models import Booking, BookingStatus, Funding

SS = SettlementSource
OFFLINE = "offline"
# Kept fees are lines of their own, after the period's completed bookings.
FEE_SOURCES = frozenset({SS.LATE_FEE, SS.LATE_FEE_OFFLINE})


@dataclass(frozen=True)
class Line:
    """One line of a settlement, before it is stored."""

    source: SettlementSource
    booking_id: int
    at: datetime  # what puts it in the period: completion, or the refund that kept the fee
    amount_fen: int  # what it adds to the gross
    fee_fen: int  # the platform fee on it
    netted_fen: int = 0  # collected on site through the offline gateway: netted from the payable
    direct_fen: int = 0  # collected outside Linli (no payment): counted as collected, never netted
    deduction_fen: int = 0  # taken off the price (a programme's performance deduction)

    @property
    def is_booking(self) -> bool:
        """A completed booking (kept fees are not counted as bookings)."""
        return self.source not in FEE_SOURCES

    def order(self) -> tuple:
        """Bookings by completion, then kept fees by booking."""
        return (0, self.at, self.booking_id) if self.is_booking else (1, self.booking_id)


@dataclass(frozen=True)
class StatementNote:
    """A visit the statement names without paying it this month (a funding's
    ``statement_notes``): pending, released unpaid, or clawed back."""

    kind: str  # "pending" | "released" | "clawback"
    booking_id: int
    served_at: datetime  # the visit's check-out (completion)
    service: str
    amount_fen: int  # pending/released: what it would pay; clawback: what was taken back
    reason: str
    until: datetime | None = None  # pending: released unpaid unless proven by then


@dataclass(frozen=True)
class Totals:
    booking_count: int
    gross_fen: int
    fee_fen: int
    penalties_fen: int
    subsidies_fen: int
    offline_netted_fen: int
    collected_offline_fen: int
    net_fen: int


def totals(lines: Iterable[Line], *, penalties_fen: int = 0, subsidies_fen: int = 0) -> Totals:
    """The settlement's figures: net = gross − fee − penalties − collected offline + subsidies."""
    lines = list(lines)
    gross = sum(line.amount_fen for line in lines)
    fee = sum(line.fee_fen for line in lines)
    netted = sum(line.netted_fen for line in lines)
    collected = netted + sum(line.direct_fen for line in lines)
    return Totals(booking_count=sum(1 for line in lines if line.is_booking), gross_fen=gross, fee_fen=fee,
                  penalties_fen=penalties_fen, subsidies_fen=subsidies_fen, offline_netted_fen=netted,
                  collected_offline_fen=collected,
                  net_fen=gross - fee - penalties_fen - collected + subsidies_fen)


def standard_fee_percent() -> Decimal:
    """The platform fee percentage (``LINLI_PLATFORM_FEE_PERCENT``, default 5)."""
    config = current_app.config
    return Decimal(str(config.get("LINLI_PLATFORM_FEE_PERCENT", config.get("PLATFORM_FEE_PERCENT", 5))))


def fee_on(amount_fen: int, percent: Decimal) -> int:
    """The fee on one amount in fen, rounded half-up (Decimal arithmetic)."""
    return round_fen(Decimal(amount_fen) * percent / 100)


def _unsettled(booking_id) -> sa.ColumnElement[bool]:
    return ~sa.select(SettlementLine.id).where(SettlementLine.booking_id == booking_id).exists()


def completed_bookings(provider_id: int, period: Period, funding: Funding) -> sa.Select:
    """The provider's unsettled bookings of this funding completed in the month (a SELECT of
    ``Booking``, for the sources to join on)."""
    start, end = period.bounds()
    return (sa.select(Booking)
            .where(Booking.provider_id == provider_id, Booking.funding == funding,
                   Booking.status == BookingStatus.COMPLETED,
                   Booking.completed_at >= start, Booking.completed_at < end, _unsettled(Booking.id))
            .order_by(Booking.completed_at, Booking.id))


def _paid(gateway_is_offline: bool) -> sa.ColumnElement[bool]:
    return (Payment.gateway == OFFLINE) if gateway_is_offline else (Payment.gateway != OFFLINE)


def _succeeded_payment_of_booking():
    return sa.and_(Payment.booking_id == Booking.id, Payment.status == PaymentStatus.SUCCEEDED)


def gateway_lines(session: Session, provider_id: int, period: Period) -> list[Line]:
    """Completed resident-paid bookings with a succeeded online payment: Linli holds the money."""
    percent = standard_fee_percent()
    stmt = (completed_bookings(provider_id, period, Funding.RESIDENT)
            .join(Payment, _succeeded_payment_of_booking()).where(_paid(False)))
    return [Line(SS.GATEWAY, b.id, b.completed_at, b.price_fen, fee_on(b.price_fen, percent))
            for b in session.scalars(stmt)]


def offline_lines(session: Session, provider_id: int, period: Period) -> list[Line]:
    """Completed resident-paid bookings paid on site: what was paid (less refunds) is netted."""
    percent = standard_fee_percent()
    stmt = (completed_bookings(provider_id, period, Funding.RESIDENT)
            .join(Payment, _succeeded_payment_of_booking()).where(_paid(True))
            .add_columns(Payment.amount_fen - Payment.refunded_fen))
    return [Line(SS.OFFLINE, b.id, b.completed_at, b.price_fen, fee_on(b.price_fen, percent), netted_fen=int(kept))
            for b, kept in session.execute(stmt)]


def direct_lines(session: Session, provider_id: int, period: Period) -> list[Line]:
    """Completed resident-paid bookings without a succeeded payment: paid outside Linli."""
    percent = standard_fee_percent()
    paid = sa.select(Payment.id).where(_succeeded_payment_of_booking()).exists()
    stmt = completed_bookings(provider_id, period, Funding.RESIDENT).where(~paid)
    return [Line(SS.DIRECT, b.id, b.completed_at, b.price_fen, fee_on(b.price_fen, percent), direct_fen=b.price_fen)
            for b in session.scalars(stmt)]


def _kept_fees(session: Session, provider_id: int, period: Period, *, on_site: bool):
    """(booking id, fee kept, when) of the unsettled late-cancellation fees kept in the month."""
    start, end = period.bounds()
    return session.execute(
        sa.select(Payment.booking_id, sa.func.sum(Refund.late_fee_fen), sa.func.min(Refund.created_at))
        .join(Payment, Payment.id == Refund.payment_id)
        .join(Booking, Booking.id == Payment.booking_id)
        .where(Booking.provider_id == provider_id, Refund.late_fee_fen > 0, _paid(on_site),
               Refund.created_at >= start, Refund.created_at < end, _unsettled(Payment.booking_id))
        .group_by(Payment.booking_id).order_by(Payment.booking_id)
    ).all()


def late_fee_lines(session: Session, provider_id: int, period: Period) -> list[Line]:
    """Late-cancellation fees kept from online payments; the platform fee applies."""
    percent = standard_fee_percent()
    return [Line(SS.LATE_FEE, booking_id, at, int(kept), fee_on(int(kept), percent))
            for booking_id, kept, at in _kept_fees(session, provider_id, period, on_site=False)]


def late_fee_offline_lines(session: Session, provider_id: int, period: Period) -> list[Line]:
    """Late-cancellation fees kept from payments made on site: the fee applies, the amount is netted."""
    percent = standard_fee_percent()
    return [Line(SS.LATE_FEE_OFFLINE, booking_id, at, int(kept), fee_on(int(kept), percent), netted_fen=int(kept))
            for booking_id, kept, at in _kept_fees(session, provider_id, period, on_site=True)]


RESIDENT_SOURCES = {
    SS.GATEWAY: gateway_lines,
    SS.OFFLINE: offline_lines,
    SS.DIRECT: direct_lines,
    SS.LATE_FEE: late_fee_lines,
    SS.LATE_FEE_OFFLINE: late_fee_offline_lines,
}
