"""Build-then-subsidise (先建后补): policies, projects, claims, objections, obligations.

Rules that span rows live in the database, each with its reason:

- a policy or tier cap is never edited: an edit adds the next version
  (``(project_type, version)`` and ``(tier, version)`` are unique);
- one claim per project (``subsidy_claim.project_id`` is unique);
- district verification and city approval are two different officials (a CHECK);
- the approved amount never exceeds the eligible amount (a CHECK);
- one objection per person and claim, ever (unique): a dismissed or abusive
  objector cannot pause the same notice again; an objection marked abusive is a
  dismissed one (a CHECK);
- a community's yearly awards never exceed its tier cap: the per-community-year
  counter row is locked and updated conditionally (claims.py, review.py), and
  its amount cannot go below zero (a CHECK).

The claim's status is an explicit state machine (``CLAIM_TRANSITIONS``, run by
``CLAIM_MACHINE``); ``SubsidyClaim.transition_to`` refuses anything else with
IllegalTransition before writing.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import UTCDateTime, enum_column
from app.extensions import db
from app.models import Community, CommunityTier, User
from app.states import StateMachine
from providers.models import Provider


class ProjectType(StrEnum):
    EV_CHARGER_DC = "ev_charger_dc"
    EV_CHARGER_AC = "ev_charger_ac"
    ACCESS_CONTROL = "access_control"
    CCTV = "cctv"
    DELIVERY_LOCKER = "delivery_locker"
    DRINKING_WATER = "drinking_water"
    ELDERLY_RENOVATION = "elderly_renovation"


PROJECT_TYPE_LABELS = {
    ProjectType.EV_CHARGER_DC: _l("EV chargers, DC (per kW)"),
    ProjectType.EV_CHARGER_AC: _l("EV chargers, AC (per kW)"),
    ProjectType.ACCESS_CONTROL: _l("Access control (per entrance)"),
    ProjectType.CCTV: _l("CCTV (per camera)"),
    ProjectType.DELIVERY_LOCKER: _l("Smart delivery lockers (per locker bank)"),
    ProjectType.DRINKING_WATER: _l("Drinking-water machines (per machine)"),
    ProjectType.ELDERLY_RENOVATION: _l("Elderly-friendly renovation (per household)"),
}

UNIT_LABELS = {
    "kW": _l("kW"), "entrance": _l("entrances"), "camera": _l("cameras"), "locker": _l("locker banks"),
    "machine": _l("machines"), "household": _l("households"),
}


class SubsidyPolicy(db.Model):
    """One version of the subsidy rule for a project type (never updated)."""

    __tablename__ = "subsidy_policy"
    __table_args__ = (
        sa.UniqueConstraint("project_type", "version"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.CheckConstraint("rate_fen > 0", name="rate_positive"),
        sa.CheckConstraint("share_percent > 0 AND share_percent <= 100", name="share_valid"),
        sa.CheckConstraint("category_cap_fen > 0", name="category_cap_positive"),
        sa.CheckConstraint("obligation_years BETWEEN 1 AND 20", name="obligation_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_type: Mapped[ProjectType] = mapped_column(enum_column(ProjectType, "subsidy_project_type"))
    version: Mapped[int] = mapped_column()
    unit: Mapped[str] = mapped_column(sa.String(20))
    rate_fen: Mapped[int] = mapped_column(sa.BigInteger)  # per unit
    share_percent: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2))  # of verified investment
    category_cap_fen: Mapped[int] = mapped_column(sa.BigInteger)
    obligation_years: Mapped[int] = mapped_column(default=5)
    note: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    @property
    def type_label(self) -> str:
        return str(PROJECT_TYPE_LABELS[self.project_type])

    @property
    def unit_label(self) -> str:
        return str(UNIT_LABELS.get(self.unit, self.unit))


class SubsidyTierCap(db.Model):
    """One version of a community tier's yearly cap (never updated)."""

    __tablename__ = "subsidy_tier_cap"
    __table_args__ = (
        sa.UniqueConstraint("tier", "version"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.CheckConstraint("cap_fen >= 0", name="cap_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tier: Mapped[CommunityTier] = mapped_column(enum_column(CommunityTier, "subsidy_cap_tier"))
    version: Mapped[int] = mapped_column()
    cap_fen: Mapped[int] = mapped_column(sa.BigInteger)  # per community per calendar year
    note: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))


class SubsidyProject(db.Model):
    """A project registered BEFORE building: the only thing a claim can be filed on."""

    __tablename__ = "subsidy_project"
    __table_args__ = (
        sa.CheckConstraint("planned_quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("planned_investment_fen > 0", name="investment_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community.id"), index=True)
    project_type: Mapped[ProjectType] = mapped_column(enum_column(ProjectType, "subsidy_project_type"))
    title: Mapped[str] = mapped_column(sa.String(120))
    planned_quantity: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    planned_investment_fen: Mapped[int] = mapped_column(sa.BigInteger)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    registered_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))

    provider: Mapped[Provider] = relationship()
    community: Mapped[Community] = relationship()
    claim: Mapped[SubsidyClaim | None] = relationship(back_populates="project", uselist=False)

    @property
    def type_label(self) -> str:
        return str(PROJECT_TYPE_LABELS[self.project_type])


class ClaimStatus(StrEnum):
    SUBMITTED = "submitted"  # waiting for district verification
    VERIFIED = "verified"  # waiting for city approval
    NOTICE = "notice"  # approved, in the public notice period
    OBJECTED = "objected"  # paused by an open objection
    DISBURSED = "disbursed"
    REJECTED = "rejected"


CLAIM_TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.SUBMITTED: frozenset({ClaimStatus.VERIFIED, ClaimStatus.REJECTED}),
    ClaimStatus.VERIFIED: frozenset({ClaimStatus.NOTICE, ClaimStatus.REJECTED}),
    ClaimStatus.NOTICE: frozenset({ClaimStatus.OBJECTED, ClaimStatus.DISBURSED}),
    ClaimStatus.OBJECTED: frozenset({ClaimStatus.NOTICE, ClaimStatus.REJECTED}),
    ClaimStatus.DISBURSED: frozenset(),
    ClaimStatus.REJECTED: frozenset(),
}

CLAIM_STATUS_LABELS = {
    ClaimStatus.SUBMITTED: _l("Waiting for district verification"),
    ClaimStatus.VERIFIED: _l("Waiting for city approval"),
    ClaimStatus.NOTICE: _l("In public notice"),
    ClaimStatus.OBJECTED: _l("Paused by an objection"),
    ClaimStatus.DISBURSED: _l("Paid"),
    ClaimStatus.REJECTED: _l("Rejected"),
}

CLAIM_MACHINE = StateMachine(
    "subsidy_claim", ClaimStatus, CLAIM_TRANSITIONS,
    initial=ClaimStatus.SUBMITTED, terminal={ClaimStatus.DISBURSED, ClaimStatus.REJECTED},
    labels=CLAIM_STATUS_LABELS,
    message=lambda old, new: _l("A subsidy claim cannot go from %(old)s to %(new)s.", old=old, new=new),
)


class SubsidyClaim(db.Model):
    """A claim filed after acceptance, with its computation term by term."""

    __tablename__ = "subsidy_claim"
    __table_args__ = (
        # One claim per project: a second claim is refused by the database too.
        sa.UniqueConstraint("project_id"),
        # Two steps, two people: the city approver is never the district verifier.
        sa.CheckConstraint(
            "district_official_id IS NULL OR city_official_id IS NULL OR district_official_id <> city_official_id",
            name="two_officials",
        ),
        sa.CheckConstraint("verified_quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("verified_investment_fen > 0", name="investment_positive"),
        sa.CheckConstraint("eligible_fen >= 0", name="eligible_nonnegative"),
        sa.CheckConstraint("approved_fen IS NULL OR (approved_fen > 0 AND approved_fen <= eligible_fen)",
                           name="approved_within_eligible"),
        sa.Index("ix_subsidy_claim_status", "status", "notice_ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("subsidy_project.id"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    status: Mapped[ClaimStatus] = mapped_column(enum_column(ClaimStatus, "subsidy_claim_status"),
                                                default=ClaimStatus.SUBMITTED)
    accepted_on: Mapped[date] = mapped_column(sa.Date)  # the acceptance (验收) date
    verified_quantity: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    verified_investment_fen: Mapped[int] = mapped_column(sa.BigInteger)
    requested_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The computation (the policy and tier-cap versions it used, every term).
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("subsidy_policy.id"))
    tier_cap_id: Mapped[int] = mapped_column(sa.ForeignKey("subsidy_tier_cap.id"))
    award_year: Mapped[int] = mapped_column()
    rate_term_fen: Mapped[int] = mapped_column(sa.BigInteger)
    share_term_fen: Mapped[int] = mapped_column(sa.BigInteger)
    category_cap_fen: Mapped[int] = mapped_column(sa.BigInteger)
    tier_room_fen: Mapped[int] = mapped_column(sa.BigInteger)
    eligible_fen: Mapped[int] = mapped_column(sa.BigInteger)
    binding_term: Mapped[str] = mapped_column(sa.String(20))
    approved_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    filed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    district_official_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    district_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    district_note: Mapped[str | None] = mapped_column(sa.Text)
    city_official_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    city_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notice_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disbursed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[SubsidyProject] = relationship(back_populates="claim")
    provider: Mapped[Provider] = relationship()
    policy: Mapped[SubsidyPolicy] = relationship()
    tier_cap: Mapped[SubsidyTierCap] = relationship()
    district_official: Mapped[User | None] = relationship(foreign_keys=[district_official_id])
    city_official: Mapped[User | None] = relationship(foreign_keys=[city_official_id])
    evidence: Mapped[list[SubsidyEvidence]] = relationship(back_populates="claim", order_by="SubsidyEvidence.id")
    objections: Mapped[list[SubsidyObjection]] = relationship(back_populates="claim",
                                                               order_by="SubsidyObjection.id")

    @property
    def status_label(self) -> str:
        return str(CLAIM_STATUS_LABELS[self.status])

    def transition_to(self, new: ClaimStatus) -> ClaimStatus:
        """Move to ``new`` if the state machine allows it; return the old status."""
        return CLAIM_MACHINE.move(self, new)


class EvidenceKind(StrEnum):
    ACCEPTANCE_CERTIFICATE = "acceptance_certificate"
    INVOICE = "invoice"
    PHOTO = "photo"


EVIDENCE_KIND_LABELS = {
    EvidenceKind.ACCEPTANCE_CERTIFICATE: _l("Acceptance certificate"),
    EvidenceKind.INVOICE: _l("Invoice"),
    EvidenceKind.PHOTO: _l("Photo"),
}


class SubsidyEvidence(db.Model):
    """A claim's evidence file, sniffed and stored outside the web root."""

    __tablename__ = "subsidy_evidence"
    __table_args__ = (sa.CheckConstraint("size_bytes > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("subsidy_claim.id"), index=True)
    kind: Mapped[EvidenceKind] = mapped_column(enum_column(EvidenceKind, "subsidy_evidence_kind"))
    original_name: Mapped[str] = mapped_column(sa.String(200))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))

    claim: Mapped[SubsidyClaim] = relationship(back_populates="evidence")

    @property
    def kind_label(self) -> str:
        return str(EVIDENCE_KIND_LABELS[self.kind])


class ObjectionStatus(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


OBJECTION_STATUS_LABELS = {
    ObjectionStatus.OPEN: _l("Open"),
    ObjectionStatus.UPHELD: _l("Upheld"),
    ObjectionStatus.DISMISSED: _l("Dismissed"),
}


ABUSIVE_LABEL = _l("Dismissed as abusive")


class SubsidyObjection(db.Model):
    """An objection raised during the public notice (one per person and claim).

    Only residents of the project's community object (review.py).  An official
    may dismiss one as abusive (``abusive``, with the reason in
    ``resolution_note``): it stops pausing the notice and the objector is told.
    """

    __tablename__ = "subsidy_objection"
    __table_args__ = (
        # One objection per person and claim: a second one would pause the notice again.
        sa.UniqueConstraint("claim_id", "user_id"),
        # "Abusive" is a way of dismissing: never on an open or upheld objection.
        sa.CheckConstraint("NOT abusive OR status = 'dismissed'", name="abusive_is_dismissed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("subsidy_claim.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    text: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[ObjectionStatus] = mapped_column(enum_column(ObjectionStatus, "subsidy_objection_status"),
                                                    default=ObjectionStatus.OPEN)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_note: Mapped[str | None] = mapped_column(sa.Text)
    abusive: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    claim: Mapped[SubsidyClaim] = relationship(back_populates="objections")

    @property
    def status_label(self) -> str:
        return str(ABUSIVE_LABEL if self.abusive else OBJECTION_STATUS_LABELS[self.status])


class SubsidyCommunityYear(db.Model):
    """What a community was awarded in one (local) calendar year: the tier cap's counter.

    City approval locks this row (``FOR UPDATE``) and adds with a conditional
    UPDATE, so two approvals at once cannot pass the cap together.
    """

    __tablename__ = "subsidy_community_year"
    __table_args__ = (sa.CheckConstraint("awarded_fen >= 0", name="awarded_nonnegative"),)

    community_id: Mapped[int] = mapped_column(sa.ForeignKey("community.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    awarded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ObligationStatus(StrEnum):
    RUNNING = "running"
    STOPPED_EARLY = "stopped_early"


class SubsidyObligation(db.Model):
    """The duty to operate the subsidised facility (default 5 years from acceptance)."""

    __tablename__ = "subsidy_obligation"
    __table_args__ = (
        sa.UniqueConstraint("claim_id"),
        sa.CheckConstraint("ends_on > starts_on", name="period_valid"),
        sa.CheckConstraint("clawback_fen IS NULL OR clawback_fen >= 0", name="clawback_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("subsidy_claim.id"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[ObligationStatus] = mapped_column(enum_column(ObligationStatus, "subsidy_obligation_status"),
                                                     default=ObligationStatus.RUNNING)
    stopped_on: Mapped[date | None] = mapped_column(sa.Date)
    stop_reason: Mapped[str | None] = mapped_column(sa.Text)
    clawback_percent: Mapped[int | None] = mapped_column()
    clawback_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    claim: Mapped[SubsidyClaim] = relationship()


# Notification texts of this domain and the labels of its coded parameters
# (registered by the package's init_app).
NOTIFICATION_LABELS = {"objection_outcome": {**{s.value: label for s, label in OBJECTION_STATUS_LABELS.items()},
                                              "abusive": ABUSIVE_LABEL}}
NOTIFICATIONS = {
    "subsidy.filed": _l("Your subsidy claim #%(claim)s (%(title)s) was filed; eligible now: %(amount)s."),
    "subsidy.verified": _l("The district verified your subsidy claim #%(claim)s (%(title)s)."),
    "subsidy.approved": _l("The city approved %(amount)s for claim #%(claim)s (%(title)s); public notice until %(until)s."),
    "subsidy.rejected": _l("Your subsidy claim #%(claim)s (%(title)s) was rejected: %(reason)s"),
    "subsidy.objected": _l("An objection paused your subsidy claim #%(claim)s (%(title)s) until an official resolves it."),
    "subsidy.objection_resolved": _l("The objection to claim #%(claim)s (%(title)s) was %(objection_outcome)s: %(note)s"),
    "subsidy.disbursed": _l("The subsidy of %(amount)s for claim #%(claim)s (%(title)s) was paid."),
    "subsidy.clawback": _l("Early stop of the project of claim #%(claim)s: %(amount)s will be deducted from your settlements."),
    "subsidy.claim_to_review": _l("%(provider)s filed subsidy claim #%(claim)s (%(title)s) for %(amount)s: it waits for district verification."),
    "subsidy.objection_abusive": _l("An official dismissed your objection to subsidy claim #%(claim)s (%(title)s) as abusive: %(reason)s"),
    "subsidy.objection_to_review": _l("An objection to subsidy claim #%(claim)s (%(title)s) was raised; the claim is paused until an official resolves it."),
}
