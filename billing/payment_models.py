"""Payments, refunds, gateway events, settlements and payouts.

The ledger (billing/models.py) says where money is; these rows say what
happened with the outside world (a checkout, a refund, a webhook, a transfer)
and tie each ledger transaction to its cause.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import UTCDateTime, enum_column
from app.extensions import db


class PayAt(StrEnum):
    BOOKING = "booking"  # the resident pays when requesting
    ACCEPTANCE = "acceptance"  # the resident pays once the provider accepts


class PaymentPolicy(db.Model):
    """How a listing is paid for; listings without a row use the defaults."""

    __tablename__ = "payment_policy"
    __table_args__ = (
        sa.CheckConstraint("late_cancel_fee_percent BETWEEN 0 AND 100", name="fee_percent_valid"),
    )

    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listing.id"), primary_key=True)
    pay_at: Mapped[PayAt] = mapped_column(enum_column(PayAt, "pay_at"), default=PayAt.ACCEPTANCE)
    # Kept by the provider when a resident cancels inside the notice window.
    late_cancel_fee_percent: Mapped[int] = mapped_column(sa.SmallInteger, default=20)


class BookingFeePolicy(db.Model):
    """The listing's payment policy as it was when the booking was made (one row per
    resident-paid booking, written in the booking's transaction by
    :func:`billing.policies.fix_for_booking`).  A later change of the listing's policy
    applies to later bookings only: when this booking is paid and the fee it may keep
    are read from here, never from ``payment_policy``."""

    __tablename__ = "booking_fee_policy"
    __table_args__ = (
        sa.CheckConstraint("late_cancel_fee_percent BETWEEN 0 AND 100", name="fee_percent_valid"),
    )

    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"), primary_key=True)
    pay_at: Mapped[PayAt] = mapped_column(enum_column(PayAt, "booking_fee_pay_at"))
    late_cancel_fee_percent: Mapped[int] = mapped_column(sa.SmallInteger)
    fixed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Payment(db.Model):
    __tablename__ = "payment"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refund_within_amount"),
        # At most one live (pending or paid) payment per booking.
        sa.Index(
            "uq_payment_live_booking", "booking_id", unique=True,
            sqlite_where=sa.text("status IN ('pending', 'succeeded')"),
            postgresql_where=sa.text("status IN ('pending', 'succeeded')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"), index=True)
    gateway: Mapped[str] = mapped_column(sa.String(20))
    amount_fen: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(sa.String(3), default="cny")
    status: Mapped[PaymentStatus] = mapped_column(
        enum_column(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    refunded_fen: Mapped[int] = mapped_column(default=0)
    checkout_session_id: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    failure_reason: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    refunds: Mapped[list[Refund]] = relationship(back_populates="payment", order_by="Refund.id")


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(db.Model):
    """Money given back from a payment; for a booking that closed late, also the part of what
    was left that the provider kept (``late_fee_fen``, a fact settlement reads).  When the
    provider keeps everything that was left the refund gives back 0 and is done at once."""

    __tablename__ = "refund"
    __table_args__ = (
        sa.CheckConstraint("amount_fen >= 0 AND late_fee_fen >= 0", name="amounts_nonnegative"),
        sa.CheckConstraint("amount_fen > 0 OR late_fee_fen > 0", name="refunds_or_keeps"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payment.id"), index=True)
    amount_fen: Mapped[int] = mapped_column()
    # The late-cancellation (or resident no-show) fee kept by the provider, 0 for none.
    late_fee_fen: Mapped[int] = mapped_column(default=0, server_default="0")
    status: Mapped[RefundStatus] = mapped_column(
        enum_column(RefundStatus, "refund_status"), default=RefundStatus.PENDING
    )
    reason: Mapped[str] = mapped_column(sa.String(300), default="")
    gateway_ref: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    payment: Mapped[Payment] = relationship(back_populates="refunds")


class GatewayEvent(db.Model):
    """A verified webhook event, stored once (its id is unique) with its effects."""

    __tablename__ = "gateway_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway: Mapped[str] = mapped_column(sa.String(20))
    event_id: Mapped[str] = mapped_column(sa.String(120), unique=True)
    type: Mapped[str] = mapped_column(sa.String(80))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    payload: Mapped[dict] = mapped_column(sa.JSON)
    outcome: Mapped[str] = mapped_column(sa.String(200), default="")


class PayoutAccount(db.Model):
    """Where a provider is paid: a Stripe connected account, or a bank account."""

    __tablename__ = "payout_account"

    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), primary_key=True)
    stripe_account_id: Mapped[str | None] = mapped_column(sa.String(60))
    bank_name: Mapped[str] = mapped_column(sa.String(80), default="")
    bank_account_no: Mapped[str] = mapped_column(sa.String(40), default="")
    account_holder: Mapped[str] = mapped_column(sa.String(120), default="")


class Settlement(db.Model):
    """A provider's statement for one month; computed once per provider and period."""

    __tablename__ = "settlement"
    __table_args__ = (
        sa.UniqueConstraint("provider_id", "period"),
        sa.CheckConstraint("length(period) = 7", name="period_format"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    period: Mapped[str] = mapped_column(sa.String(7))  # YYYY-MM, in the community's time zone
    booking_count: Mapped[int] = mapped_column(default=0)
    gross_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    fee_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    penalties_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Build-then-subsidise awards disbursed in the month, paid out with the settlement.
    subsidies_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    collected_offline_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    net_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    lines: Mapped[list[SettlementLine]] = relationship(back_populates="settlement", order_by="SettlementLine.id")


class SettlementSource(StrEnum):
    """Where a settlement line's money comes from (billing/settlements.py explains each)."""

    GATEWAY = "gateway"  # paid online; Linli holds it and pays it out
    OFFLINE = "offline"  # paid on site through the offline gateway: netted
    DIRECT = "direct"  # no payment recorded: collected outside Linli
    LATE_FEE = "late_fee"  # a late-cancellation fee kept from an online payment
    LATE_FEE_OFFLINE = "late_fee_offline"  # … kept from an offline payment: netted
    PROGRAMME = "programme"  # paid by a purchase programme at the contract price


class SettlementLine(db.Model):
    __tablename__ = "settlement_line"
    __table_args__ = (sa.UniqueConstraint("booking_id"),)  # a booking is settled once

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(sa.ForeignKey("settlement.id"), index=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"))
    amount_fen: Mapped[int] = mapped_column()
    fee_fen: Mapped[int] = mapped_column(default=0)
    source: Mapped[SettlementSource] = mapped_column(enum_column(SettlementSource, "settlement_source"))

    settlement: Mapped[Settlement] = relationship(back_populates="lines")


class PayoutStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


class Payout(db.Model):
    __tablename__ = "payout"
    __table_args__ = (
        sa.UniqueConstraint("settlement_id"),  # one payout per settlement, however often retried
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(sa.ForeignKey("settlement.id"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    method: Mapped[str] = mapped_column(sa.String(20))  # stripe_transfer | bank_file
    amount_fen: Mapped[int] = mapped_column()
    status: Mapped[PayoutStatus] = mapped_column(
        enum_column(PayoutStatus, "payout_status"), default=PayoutStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    gateway_ref: Mapped[str | None] = mapped_column(sa.String(120))
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def idempotency_key(self) -> str:
        return f"payout:{self.id}"
