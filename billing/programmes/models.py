"""Purchase programmes, awards, resident profiles, enrolments and entitlement uses.

Rules that span rows are enforced by the database, so no code path (and no
race) can break them:

- a programme that is not a draft has a budget above zero (no budget, no purchase);
- an award's ``quota_used`` stays within its ``quota``;
- a resident's ``used`` visits of a month stay within the ``allowance``;
- one entitlement use per booking (``booking_id`` unique);
- the budget itself lives in the ledger, whose CHECK keeps
  ``programme_budget:<id>`` from going below zero.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import UTCDateTime, enum_column
from app.extensions import db
from app.models import Community, User
from app.states import StateMachine
from providers.bookings.models import Booking, BookingStatus
from providers.models import Listing, Provider, ServiceCategory


class ProgrammeStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    EVALUATED = "evaluated"
    WITHDRAWN = "withdrawn"


P = ProgrammeStatus

# The one state machine of a programme.  Anything not listed is refused.
PROGRAMME_TRANSITIONS: dict[ProgrammeStatus, frozenset[ProgrammeStatus]] = {
    P.DRAFT: frozenset({P.OPEN, P.WITHDRAWN}),
    P.OPEN: frozenset({P.CLOSED}),
    P.CLOSED: frozenset({P.EVALUATED}),
    P.EVALUATED: frozenset(),
    P.WITHDRAWN: frozenset(),
}

PROGRAMME_STATUS_LABELS = {
    P.DRAFT: _l("Draft, not published"),
    P.OPEN: _l("Open for enrolment and booking"),
    P.CLOSED: _l("Closed to new bookings"),
    P.EVALUATED: _l("Closed and evaluated"),
    P.WITHDRAWN: _l("Withdrawn draft"),
}

PROGRAMME_MACHINE = StateMachine(
    "programme", ProgrammeStatus, PROGRAMME_TRANSITIONS,
    initial=P.DRAFT, terminal={P.EVALUATED, P.WITHDRAWN}, labels=PROGRAMME_STATUS_LABELS,
    message=lambda old, new: _l("This programme is %(old)s; it cannot become %(new)s.", old=old, new=new),
)

# Public once opened (MOF Order No. 102: awardee, amount, term, evaluation result).
PUBLIC_STATUSES = frozenset({P.OPEN, P.CLOSED, P.EVALUATED})

programme_category = sa.Table(
    "programme_category",
    db.metadata,
    sa.Column("programme_id", sa.ForeignKey("purchase_programme.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("category_id", sa.ForeignKey("service_category.id"), primary_key=True),
)
programme_listing = sa.Table(
    "programme_listing",
    db.metadata,
    sa.Column("programme_id", sa.ForeignKey("purchase_programme.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("listing_id", sa.ForeignKey("listing.id"), primary_key=True),
)
programme_community = sa.Table(
    "programme_community",
    db.metadata,
    sa.Column("programme_id", sa.ForeignKey("purchase_programme.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("community_id", sa.ForeignKey("community.id"), primary_key=True),
)


class PurchaseProgramme(db.Model):
    """One purchase of services, with the contract terms of MOF Order No. 102 Art. 23."""

    __tablename__ = "purchase_programme"
    __table_args__ = (
        sa.CheckConstraint("end_date >= start_date", name="term_ordered"),
        sa.CheckConstraint("budget_fen >= 0", name="budget_nonnegative"),
        # No budget, no purchase: only a draft (or a withdrawn draft) may have none.
        sa.CheckConstraint("status IN ('draft', 'withdrawn') OR budget_fen > 0", name="budget_before_open"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price_fen > 0", name="unit_price_positive"),
        sa.CheckConstraint("allowance_per_month > 0", name="allowance_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    # Art. 23: service content, term, quantity, quality, price, settlement, targets, liability.
    service_content: Mapped[str] = mapped_column(sa.Text)
    start_date: Mapped[date] = mapped_column(sa.Date)
    end_date: Mapped[date] = mapped_column(sa.Date)
    stable_service: Mapped[bool] = mapped_column(default=False)  # Art. 24: up to 3 years
    quantity: Mapped[int] = mapped_column()  # service units purchased
    quality_requirements: Mapped[str] = mapped_column(sa.Text)
    unit_price_fen: Mapped[int] = mapped_column()
    settlement_method: Mapped[str] = mapped_column(sa.Text)
    performance_targets: Mapped[str] = mapped_column(sa.Text)
    breach_liability: Mapped[str] = mapped_column(sa.Text)
    budget_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Eligibility and the allowance per enrolled resident.
    min_age: Mapped[int | None] = mapped_column(sa.SmallInteger)
    requires_living_alone: Mapped[bool] = mapped_column(default=False)
    requires_low_income: Mapped[bool] = mapped_column(default=False)
    requires_disability: Mapped[bool] = mapped_column(default=False)
    allowance_per_month: Mapped[int] = mapped_column(sa.SmallInteger)
    status: Mapped[ProgrammeStatus] = mapped_column(
        enum_column(ProgrammeStatus, "programme_status"), default=ProgrammeStatus.DRAFT, index=True
    )
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evaluation_result: Mapped[str | None] = mapped_column(sa.Text)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    categories: Mapped[list[ServiceCategory]] = relationship(
        secondary=programme_category, order_by=ServiceCategory.sort_order
    )
    listings: Mapped[list[Listing]] = relationship(secondary=programme_listing, order_by=Listing.id)
    communities: Mapped[list[Community]] = relationship(secondary=programme_community, order_by=Community.name)
    awards: Mapped[list[ProgrammeAward]] = relationship(back_populates="programme", order_by="ProgrammeAward.id")

    @property
    def status_label(self) -> str:
        return str(PROGRAMME_STATUS_LABELS[self.status])

    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATUSES


class ProgrammeAward(db.Model):
    """The programme awarded to one active provider: its contract price and quota."""

    __tablename__ = "programme_award"
    __table_args__ = (
        sa.UniqueConstraint("programme_id", "provider_id"),
        sa.CheckConstraint("contract_price_fen > 0", name="price_positive"),
        sa.CheckConstraint("quota > 0", name="quota_positive"),
        # The quota is never exceeded: a booking takes a unit with a conditional UPDATE.
        sa.CheckConstraint("quota_used >= 0 AND quota_used <= quota", name="quota_within_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(sa.ForeignKey("purchase_programme.id"), index=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    contract_price_fen: Mapped[int] = mapped_column()
    quota: Mapped[int] = mapped_column()
    quota_used: Mapped[int] = mapped_column(default=0)
    awarded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    awarded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))

    programme: Mapped[PurchaseProgramme] = relationship(back_populates="awards")
    provider: Mapped[Provider] = relationship()


class ResidentProfile(db.Model):
    """A resident's sensitive facts for eligibility (PIPL: officials only, every read logged)."""

    __tablename__ = "resident_profile"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), primary_key=True)
    birth_date: Mapped[date | None] = mapped_column(sa.Date)
    lives_alone: Mapped[bool] = mapped_column(default=False)
    low_income: Mapped[bool] = mapped_column(default=False)
    disability: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))


class SensitiveDataAccess(db.Model):
    """An official saw a resident's sensitive profile: who, whose, when, why."""

    __tablename__ = "sensitive_data_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    official_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class EnrolmentStatus(StrEnum):
    APPLIED = "applied"
    ENROLLED = "enrolled"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


E = EnrolmentStatus

ENROLMENT_TRANSITIONS: dict[EnrolmentStatus, frozenset[EnrolmentStatus]] = {
    E.APPLIED: frozenset({E.ENROLLED, E.REJECTED}),
    E.ENROLLED: frozenset({E.WITHDRAWN}),
    E.REJECTED: frozenset({E.APPLIED, E.ENROLLED}),
    E.WITHDRAWN: frozenset({E.ENROLLED}),
}

ENROLMENT_STATUS_LABELS = {
    E.APPLIED: _l("Applied, waiting for an official"),
    E.ENROLLED: _l("Enrolled"),
    E.REJECTED: _l("Rejected"),
    E.WITHDRAWN: _l("Withdrawn"),
}

# An official enrols a resident directly (enrolled) or a resident applies (applied).
# No state is terminal: a rejected or withdrawn resident may be enrolled again.
ENROLMENT_MACHINE = StateMachine(
    "enrolment", EnrolmentStatus, ENROLMENT_TRANSITIONS,
    initial={E.APPLIED, E.ENROLLED}, terminal=(), labels=ENROLMENT_STATUS_LABELS,
    message=lambda old, new: _l("This enrolment is %(old)s; it cannot become %(new)s.", old=old, new=new),
)


class Enrolment(db.Model):
    __tablename__ = "programme_enrolment"
    __table_args__ = (sa.UniqueConstraint("programme_id", "resident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(sa.ForeignKey("purchase_programme.id"), index=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    status: Mapped[EnrolmentStatus] = mapped_column(enum_column(EnrolmentStatus, "enrolment_status"))
    source: Mapped[str] = mapped_column(sa.String(20))  # official / csv / application
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    reason: Mapped[str | None] = mapped_column(sa.Text)

    programme: Mapped[PurchaseProgramme] = relationship()
    resident: Mapped[User] = relationship(foreign_keys=[resident_id])

    @property
    def status_label(self) -> str:
        return str(ENROLMENT_STATUS_LABELS[self.status])


class AllowanceMonth(db.Model):
    """How many visits of a month a resident's enrolment has taken (open and done)."""

    __tablename__ = "allowance_month"
    __table_args__ = (
        # The allowance is never exceeded, concurrently or not.
        sa.CheckConstraint("used >= 0 AND used <= allowance", name="used_within_allowance"),
        sa.CheckConstraint("length(month) = 7", name="month_format"),
    )

    enrolment_id: Mapped[int] = mapped_column(sa.ForeignKey("programme_enrolment.id"), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)  # YYYY-MM, Asia/Shanghai
    allowance: Mapped[int] = mapped_column(sa.SmallInteger)
    used: Mapped[int] = mapped_column(sa.SmallInteger, default=0)


class UseStatus(StrEnum):
    REQUESTED = "requested"
    RESERVED = "reserved"
    CONSUMED = "consumed"
    RELEASED = "released"


U = UseStatus

USE_TRANSITIONS: dict[UseStatus, frozenset[UseStatus]] = {
    U.REQUESTED: frozenset({U.RESERVED, U.RELEASED}),
    U.RESERVED: frozenset({U.CONSUMED, U.RELEASED}),
    # A verified visit that a follow-up call then found not served, before it was paid:
    # its money is withheld (released with reason ``not_served``).
    U.CONSUMED: frozenset({U.RELEASED}),
    U.RELEASED: frozenset(),
}

USE_STATUS_LABELS = {
    U.REQUESTED: _l("Requested"),
    U.RESERVED: _l("Reserved"),
    U.CONSUMED: _l("Used"),
    U.RELEASED: _l("Released"),
}


class ReleaseReason(StrEnum):
    """Why an entitlement use was released: stored, so the statement can say it."""

    UNSERVED = "unserved"  # the booking closed without service (declined, cancelled, no-show…)
    UNVERIFIED = "unverified"  # served, but neither verified nor cleared within the deadline
    NOT_SERVED = "not_served"  # a follow-up call found the visit not served: withheld


RELEASE_REASON_LABELS = {
    ReleaseReason.UNSERVED: _l("Closed without service"),
    ReleaseReason.UNVERIFIED: _l("Not verified within the deadline: released unpaid"),
    ReleaseReason.NOT_SERVED: _l("Follow-up call found it not served: withheld"),
}

USE_MACHINE = StateMachine(
    "entitlement_use", UseStatus, USE_TRANSITIONS,
    initial=U.REQUESTED, terminal={U.RELEASED}, labels=USE_STATUS_LABELS,
    message=lambda old, new: _l("This entitlement is %(old)s; it cannot become %(new)s.", old=old, new=new),
)


class EntitlementUse(db.Model):
    """A booking paid by a programme: the allowance unit and budget it holds."""

    __tablename__ = "entitlement_use"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("deduction_fen >= 0 AND deduction_fen <= amount_fen", name="deduction_within_amount"),
        # Only a released use has a release reason (older released rows may have none).
        sa.CheckConstraint("release_reason IS NULL OR status = 'released'", name="reason_only_when_released"),
        # A clawback takes back a payment: only a use paid in a settlement is clawed back.
        sa.CheckConstraint("clawed_back_at IS NULL OR settlement_id IS NOT NULL", name="clawback_only_when_paid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"), unique=True)
    programme_id: Mapped[int] = mapped_column(sa.ForeignKey("purchase_programme.id"), index=True)
    enrolment_id: Mapped[int] = mapped_column(sa.ForeignKey("programme_enrolment.id"), index=True)
    award_id: Mapped[int] = mapped_column(sa.ForeignKey("programme_award.id"), index=True)
    month: Mapped[str] = mapped_column(sa.String(7))
    amount_fen: Mapped[int] = mapped_column()  # the award's contract price
    status: Mapped[UseStatus] = mapped_column(enum_column(UseStatus, "entitlement_use_status"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    reserved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Settlement: the performance deduction and what was paid.
    deduction_fen: Mapped[int] = mapped_column(default=0)
    settlement_id: Mapped[int | None] = mapped_column(sa.ForeignKey("settlement.id"))
    # Why it was released (billing/programmes/visit_money.py, entitlements.py).
    release_reason: Mapped[ReleaseReason | None] = mapped_column(enum_column(ReleaseReason, "release_reason"))
    # A follow-up call found a paid visit not served: its payment was taken back
    # (ledger ``clawback:visit:<booking_id>``, netted by the next settlement).
    clawed_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    programme: Mapped[PurchaseProgramme] = relationship()
    award: Mapped[ProgrammeAward] = relationship()
    enrolment: Mapped[Enrolment] = relationship()
    booking: Mapped[Booking] = relationship()

    @property
    def status_label(self) -> str:
        return str(USE_STATUS_LABELS[self.status])

    @property
    def awaiting_proof(self) -> bool:
        """Served but not verified or cleared yet: still reserved, not used (the resident's
        page must not call it used before the resident or a call confirmed it)."""
        return self.status == U.RESERVED and self.booking.status == BookingStatus.COMPLETED

    @property
    def release_label(self) -> str | None:
        return str(RELEASE_REASON_LABELS[self.release_reason]) if self.release_reason else None
