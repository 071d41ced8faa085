"""Supervision tables.

- ``supervision_rule_set``: one row per VERSION of the rule set; a change adds
  a version, an old one is never edited (the service never updates a row; the
  unique version number refuses two officials saving version n+1 at once).
  Rates are stored in basis points (1000 = 10.00 %) and rating cut-offs in
  hundredths (350 = 3.50), so every comparison is integer arithmetic.
- ``booking_exclusion``: a booking an official found outside the provider's
  control; it counts in no booking figure (``ratings.scorecard._counted_booking``).
- ``supervision_run``: one evaluation, unique per as-of time, so a re-run or a
  second scheduler process inserts nothing (``INSERT … ON CONFLICT DO NOTHING``).
- ``supervision_snapshot``: each evaluated provider's figures, window, grade and
  breaches in that run (reproducible and explainable later).
- ``penalty_report``: one per breach, with the proposed sanction from the ladder
  and the evidence (ids of the bookings, complaints, ratings, documents).
- ``supervision_warning``: the daily early warning, at most one per provider and
  local day (unique).
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
from app.models import User
from app.states import StateMachine
from providers.models import Provider


class Publication(StrEnum):
    """A version's place in due process (ratings/supervision/publication.py)."""

    DRAFT = "draft"  # being prepared by officials; applies to nothing
    PUBLISHED = "published"  # announced: open for comment until comment_until, in force from effective_from
    WITHDRAWN = "withdrawn"  # withdrawn before it took effect; applies to nothing, ever


PUBLICATION_LABELS = {
    Publication.DRAFT: _l("Draft"),
    Publication.PUBLISHED: _l("Published"),
    Publication.WITHDRAWN: _l("Withdrawn"),
}


class RuleSet(db.Model):
    __tablename__ = "supervision_rule_set"
    __table_args__ = (
        sa.UniqueConstraint("version"),  # versions are never edited, only added
        # --- Publication (due process) -------------------------------------------------
        # A published version was announced, had its comment period and takes effect after
        # it: the dates the public page shows cannot contradict each other.
        sa.CheckConstraint(
            "publication <> 'published' OR (published_at IS NOT NULL AND comment_until IS NOT NULL "
            "AND effective_from IS NOT NULL AND comment_until >= published_at AND effective_from >= comment_until)",
            name="publication_dates_valid",
        ),
        sa.CheckConstraint("evaluation_day BETWEEN 1 AND 28", name="evaluation_day_valid"),
        sa.CheckConstraint("window_days > 0 AND long_window_days >= window_days", name="windows_valid"),
        sa.CheckConstraint(
            "late_rate_bp BETWEEN 0 AND 10000 AND cancellation_rate_bp BETWEEN 0 AND 10000 "
            "AND expired_rate_bp BETWEEN 0 AND 10000", name="rates_valid",
        ),
        sa.CheckConstraint("verified_rate_below_bp BETWEEN 0 AND 10000 AND flagged_rate_bp BETWEEN 0 AND 10000",
                           name="visit_rates_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(sa.Text, default="")

    @property
    def note_label(self) -> str:
        """The note as people read it: the seeded version's stored English note is translated."""
        return str(SEEDED_NOTES[self.note]) if self.note in SEEDED_NOTES else self.note

    # When and over what.
    evaluation_day: Mapped[int] = mapped_column(sa.SmallInteger)
    timezone: Mapped[str] = mapped_column(sa.String(40))
    window_days: Mapped[int] = mapped_column()
    long_window_days: Mapped[int] = mapped_column()
    min_finished_bookings: Mapped[int] = mapped_column()
    new_provider_days: Mapped[int] = mapped_column()
    # Thresholds: a rate (basis points) AND a count; a breach needs both.
    late_rate_bp: Mapped[int] = mapped_column()
    late_min_count: Mapped[int] = mapped_column()
    cancellation_rate_bp: Mapped[int] = mapped_column()
    cancellation_min_count: Mapped[int] = mapped_column()
    expired_rate_bp: Mapped[int] = mapped_column()
    expired_min_count: Mapped[int] = mapped_column()
    complaint_min_count: Mapped[int] = mapped_column()
    rating_below_x100: Mapped[int] = mapped_column()
    rating_min_count: Mapped[int] = mapped_column()
    expired_document_min_count: Mapped[int] = mapped_column()
    # Grades and the early warning.
    excellent_rating_x100: Mapped[int] = mapped_column()
    good_rating_x100: Mapped[int] = mapped_column()
    unqualified_breaches: Mapped[int] = mapped_column(sa.SmallInteger)
    warning_percent: Mapped[int] = mapped_column(sa.SmallInteger)
    ladder_days: Mapped[int] = mapped_column()
    # Proof of service (migration 0021_visit_rules; ratings.scorecard_visits): the verified-visit
    # rate BELOW a limit with at least so many programme visits; not-served findings; the
    # flagged-visit rate ABOVE a limit with at least so many flagged visits.  The server defaults
    # are the Linli defaults, so every version has them.
    verified_rate_below_bp: Mapped[int] = mapped_column(server_default=sa.text("9000"))
    verified_min_visits: Mapped[int] = mapped_column(server_default=sa.text("10"))
    not_served_min_count: Mapped[int] = mapped_column(server_default=sa.text("1"))
    flagged_rate_bp: Mapped[int] = mapped_column(server_default=sa.text("1000"))
    flagged_min_count: Mapped[int] = mapped_column(server_default=sa.text("5"))

    # --- Publication (due process: ratings/supervision/publication.py) -----------------
    # Kept in one block: set by publish/withdraw only; the thresholds above never change.
    publication: Mapped[Publication] = mapped_column(enum_column(Publication, "rule_publication"),
                                                     default=Publication.DRAFT)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    comment_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    effective_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def publication_label(self) -> str:
        return str(PUBLICATION_LABELS[self.publication])

    created_by: Mapped[User | None] = relationship()


class ExclusionCause(StrEnum):
    RESIDENT_FAULT = "resident_fault"
    FORCE_MAJEURE = "force_majeure"


EXCLUSION_CAUSE_LABELS = {
    ExclusionCause.RESIDENT_FAULT: _l("The resident's fault"),
    ExclusionCause.FORCE_MAJEURE: _l("Force majeure"),
}


class BookingExclusion(db.Model):
    __tablename__ = "booking_exclusion"
    __table_args__ = (sa.UniqueConstraint("booking_id"),)  # a booking is excluded once

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"))
    cause: Mapped[ExclusionCause] = mapped_column(enum_column(ExclusionCause, "exclusion_cause"))
    reason: Mapped[str] = mapped_column(sa.Text)
    decided_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    decided_by: Mapped[User] = relationship()

    @property
    def cause_label(self) -> str:
        return str(EXCLUSION_CAUSE_LABELS[self.cause])


# Notes stored by migrations (0006_supervision seeds version 1), shown translated.
SEEDED_NOTES = {"Linli default rule set (DOMAIN.md)": _l("Linli default rule set")}

# How an evaluation run was started (``EvaluationRun.trigger``).
TRIGGER_LABELS = {
    "scheduler": _l("The scheduler"),
    "cli": _l("System (command line)"),
    "api": _l("Through the API"),
    "page": _l("The supervision page"),
}


class EvaluationRun(db.Model):
    __tablename__ = "supervision_run"
    __table_args__ = (sa.UniqueConstraint("as_of"),)  # one evaluation per as-of time, ever

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    rule_set_id: Mapped[int] = mapped_column(sa.ForeignKey("supervision_rule_set.id"))
    trigger: Mapped[str] = mapped_column(sa.String(20))  # scheduler, cli, api
    started_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    provider_count: Mapped[int] = mapped_column(default=0)
    breach_count: Mapped[int] = mapped_column(default=0)
    report_count: Mapped[int] = mapped_column(default=0)
    grade_counts: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    rule_set: Mapped[RuleSet] = relationship()

    @property
    def trigger_label(self) -> str:
        return str(TRIGGER_LABELS.get(self.trigger, self.trigger))


class Grade(StrEnum):
    EXCELLENT = "excellent"
    GOOD = "good"
    QUALIFIED = "qualified"
    UNQUALIFIED = "unqualified"
    NEW = "new"


GRADE_LABELS = {
    Grade.EXCELLENT: _l("Excellent (优秀)"),
    Grade.GOOD: _l("Good (良好)"),
    Grade.QUALIFIED: _l("Qualified (合格)"),
    Grade.UNQUALIFIED: _l("Unqualified (不合格)"),
    Grade.NEW: _l("New (not graded yet)"),
}


class ProviderSnapshot(db.Model):
    __tablename__ = "supervision_snapshot"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "provider_id"),
        sa.Index("ix_supervision_snapshot_provider", "provider_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("supervision_run.id"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"))
    grade: Mapped[Grade] = mapped_column(enum_column(Grade, "supervision_grade"))
    active_since: Mapped[datetime] = mapped_column(UTCDateTime)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    window_days: Mapped[int] = mapped_column()
    figures: Mapped[dict] = mapped_column(sa.JSON)
    breaches: Mapped[list] = mapped_column(sa.JSON)  # threshold keys
    near: Mapped[list] = mapped_column(sa.JSON)  # close to a threshold (early warning)

    run: Mapped[EvaluationRun] = relationship()
    provider: Mapped[Provider] = relationship()

    @property
    def grade_label(self) -> str:
        return str(GRADE_LABELS[self.grade])


class Sanction(StrEnum):
    WARNING = "warning"
    FINE = "fine"
    SUSPENSION = "suspension"
    REMOVAL = "removal"


# The ladder within 180 days (DOMAIN.md): 1st warning, 2nd fine, 3rd suspension, 4th removal.
LADDER = (Sanction.WARNING, Sanction.FINE, Sanction.SUSPENSION, Sanction.REMOVAL)

SANCTION_LABELS = {
    Sanction.WARNING: _l("Warning"),
    Sanction.FINE: _l("Fine"),
    Sanction.SUSPENSION: _l("Suspension for 30 days"),
    Sanction.REMOVAL: _l("Removal"),
}


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SEVERITY_OF = {
    Sanction.WARNING: Severity.LOW,
    Sanction.FINE: Severity.MEDIUM,
    Sanction.SUSPENSION: Severity.HIGH,
    Sanction.REMOVAL: Severity.CRITICAL,
}

SEVERITY_LABELS = {
    Severity.LOW: _l("Low"),
    Severity.MEDIUM: _l("Medium"),
    Severity.HIGH: _l("High"),
    Severity.CRITICAL: _l("Critical"),
}


class ReportStatus(StrEnum):
    PROPOSED = "proposed"  # made by the evaluator, waiting for an official
    CONFIRMED = "confirmed"  # an official confirmed it (the appeal window runs)
    DISMISSED = "dismissed"  # an official dismissed it, with a reason
    APPEALED = "appealed"  # the provider appealed with a plan of action
    EFFECTIVE = "effective"  # the sanction took effect
    OVERTURNED = "overturned"  # the appeal succeeded


REPORT_STATUS_LABELS = {
    ReportStatus.PROPOSED: _l("Proposed, waiting for review"),
    ReportStatus.CONFIRMED: _l("Confirmed"),
    ReportStatus.DISMISSED: _l("Dismissed"),
    ReportStatus.APPEALED: _l("Appealed"),
    ReportStatus.EFFECTIVE: _l("In effect"),
    ReportStatus.OVERTURNED: _l("Overturned on appeal"),
}

# The one state machine of a penalty report (review and appeals build on it).
REPORT_TRANSITIONS: dict[ReportStatus, frozenset[ReportStatus]] = {
    ReportStatus.PROPOSED: frozenset({ReportStatus.CONFIRMED, ReportStatus.DISMISSED}),
    ReportStatus.CONFIRMED: frozenset({ReportStatus.APPEALED, ReportStatus.EFFECTIVE}),
    ReportStatus.APPEALED: frozenset({ReportStatus.EFFECTIVE, ReportStatus.OVERTURNED}),
    ReportStatus.DISMISSED: frozenset(),
    ReportStatus.EFFECTIVE: frozenset(),
    ReportStatus.OVERTURNED: frozenset(),
}

REPORT_MACHINE = StateMachine(
    "penalty_report", ReportStatus, REPORT_TRANSITIONS,
    initial=ReportStatus.PROPOSED,
    terminal={ReportStatus.DISMISSED, ReportStatus.EFFECTIVE, ReportStatus.OVERTURNED},
    labels=REPORT_STATUS_LABELS,
    message=lambda old, new: _l("A penalty report cannot go from %(old)s to %(new)s.", old=old, new=new),
)


class PenaltyReport(db.Model):
    __tablename__ = "penalty_report"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "provider_id", "metric"),  # one report per breach per run
        sa.Index("ix_penalty_report_status_created", "status", "created_at"),
        sa.Index("ix_penalty_report_provider_created", "provider_id", "created_at"),
        sa.CheckConstraint("ladder_step BETWEEN 1 AND 4", name="ladder_step_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("supervision_run.id"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"))
    metric: Mapped[str] = mapped_column(sa.String(40))  # a threshold key (rules.THRESHOLDS)
    value: Mapped[float | None] = mapped_column(sa.Float)  # the rate or mean (None for a count)
    count: Mapped[int] = mapped_column()  # the count behind it
    denominator: Mapped[int | None] = mapped_column()  # for a rate: bookings due
    threshold: Mapped[dict] = mapped_column(sa.JSON)  # {"rate_bp"|"below_x100": …, "min_count": …}
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    ladder_step: Mapped[int] = mapped_column(sa.SmallInteger)
    proposed_sanction: Mapped[Sanction] = mapped_column(enum_column(Sanction, "sanction"))
    severity: Mapped[Severity] = mapped_column(enum_column(Severity, "report_severity"))
    status: Mapped[ReportStatus] = mapped_column(
        enum_column(ReportStatus, "report_status"), default=ReportStatus.PROPOSED
    )
    evidence: Mapped[dict] = mapped_column(sa.JSON)  # {"booking": [ids], "complaint": [...], ...}
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    run: Mapped[EvaluationRun] = relationship()
    provider: Mapped[Provider] = relationship()

    @property
    def status_label(self) -> str:
        return str(REPORT_STATUS_LABELS[self.status])

    @property
    def sanction_label(self) -> str:
        return str(SANCTION_LABELS[self.proposed_sanction])

    @property
    def severity_label(self) -> str:
        return str(SEVERITY_LABELS[self.severity])

    def transition_to(self, new: ReportStatus) -> ReportStatus:
        """Move to ``new`` if :data:`REPORT_MACHINE` allows it (nothing written otherwise);
        return the old status."""
        old = REPORT_MACHINE.move(self, new)
        self.status_changed_at = now()
        return old


class EarlyWarning(db.Model):
    __tablename__ = "supervision_warning"
    __table_args__ = (sa.UniqueConstraint("provider_id", "on_date"),)  # one a day, whatever runs

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"))
    on_date: Mapped[date] = mapped_column(sa.Date)
    metrics: Mapped[list] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
