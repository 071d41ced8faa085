"""Review, appeal and sanction tables (the second half of supervision).

- ``penalty_review``: an official's decision on one penalty report — the
  sanction decided (the proposed one or a changed one, with a reason), who
  approved it (removal needs a SECOND, different official: a CHECK refuses the
  same official twice), when it was confirmed, the appeal deadline (7 local days),
  when it took effect and what the effect was (fine in fen, suspension end).
- ``penalty_appeal``: the provider's plan of action (root cause, corrective
  actions, preventive steps) and the decision of a different official.  Its
  status (``APPEAL_MACHINE``: pending → upheld | rejected) is derived from the
  stored ``outcome`` (none yet = pending), so it needs no column of its own.
- ``penalty_appeal_file``: evidence files of an appeal (sniffed, size-checked,
  stored outside the web root like qualification documents).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import UTCDateTime, enum_column
from app.extensions import db
from app.models import User
from app.states import StateMachine
from ratings.supervision.models import SANCTION_LABELS, PenaltyReport, Sanction


class PenaltyReview(db.Model):
    __tablename__ = "penalty_review"
    __table_args__ = (
        sa.UniqueConstraint("report_id"),  # one decision per report
        # Removal needs two different officials: the database refuses the same one twice.
        sa.CheckConstraint("second_official_id IS NULL OR second_official_id <> first_official_id",
                           name="two_different_officials"),
        sa.CheckConstraint("fine_fen IS NULL OR fine_fen >= 0", name="fine_nonnegative"),
        # The scheduler's question: confirmed reports whose appeal window has passed.
        sa.Index("ix_penalty_review_deadline", "appeal_deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("penalty_report.id"))
    sanction: Mapped[Sanction] = mapped_column(enum_column(Sanction, "review_sanction"))
    reason: Mapped[str | None] = mapped_column(sa.Text)  # why the sanction was changed, or dismissed
    first_official_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    second_official_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    second_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    appeal_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # No longer written: a fine is billing's, posted and stored on its side when the sanction
    # takes effect (billing/supervision_receivers.py, fine_of).  Kept until a migration drops it.
    fine_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    report: Mapped[PenaltyReport] = relationship()
    first_official: Mapped[User] = relationship(foreign_keys=[first_official_id])
    second_official: Mapped[User | None] = relationship(foreign_keys=[second_official_id])

    @property
    def sanction_label(self) -> str:
        return str(SANCTION_LABELS[self.sanction])

    @property
    def officials(self) -> set[int]:
        """The officials who approved the sanction (none of them may decide the appeal)."""
        return {i for i in (self.first_official_id, self.second_official_id) if i is not None}


class AppealOutcome(StrEnum):
    UPHELD = "upheld"  # the appeal succeeds: the report is overturned
    REJECTED = "rejected"  # the sanction takes effect


APPEAL_OUTCOME_LABELS = {
    AppealOutcome.UPHELD: _l("Appeal upheld: the sanction is overturned"),
    AppealOutcome.REJECTED: _l("Appeal rejected: the sanction takes effect"),
}


class AppealStatus(StrEnum):
    """An appeal's place in its state machine: waiting, or decided with its outcome."""

    PENDING = "pending"
    UPHELD = AppealOutcome.UPHELD.value
    REJECTED = AppealOutcome.REJECTED.value


APPEAL_TRANSITIONS: dict[AppealStatus, frozenset[AppealStatus]] = {
    AppealStatus.PENDING: frozenset({AppealStatus.UPHELD, AppealStatus.REJECTED}),
    AppealStatus.UPHELD: frozenset(),
    AppealStatus.REJECTED: frozenset(),
}

APPEAL_STATUS_LABELS = {
    AppealStatus.PENDING: _l("Waiting for a decision"),
    AppealStatus.UPHELD: APPEAL_OUTCOME_LABELS[AppealOutcome.UPHELD],
    AppealStatus.REJECTED: APPEAL_OUTCOME_LABELS[AppealOutcome.REJECTED],
}

APPEAL_MACHINE = StateMachine(
    "appeal", AppealStatus, APPEAL_TRANSITIONS,
    initial=AppealStatus.PENDING, terminal={AppealStatus.UPHELD, AppealStatus.REJECTED},
    labels=APPEAL_STATUS_LABELS,
    message=lambda old, new: _l("An appeal cannot go from “%(old)s” to “%(new)s”.", old=old, new=new),
)


class PenaltyAppeal(db.Model):
    __tablename__ = "penalty_appeal"
    __table_args__ = (sa.UniqueConstraint("report_id"),)  # one appeal per report

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("penalty_report.id"))
    root_cause: Mapped[str] = mapped_column(sa.Text)
    corrective_actions: Mapped[str] = mapped_column(sa.Text)
    preventive_steps: Mapped[str] = mapped_column(sa.Text)
    submitted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[AppealOutcome | None] = mapped_column(enum_column(AppealOutcome, "appeal_outcome"))
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)

    report: Mapped[PenaltyReport] = relationship()
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    files: Mapped[list[AppealFile]] = relationship(back_populates="appeal", order_by="AppealFile.id")

    @property
    def outcome_label(self) -> str:
        return str(APPEAL_OUTCOME_LABELS[self.outcome]) if self.outcome else ""

    @property
    def status(self) -> AppealStatus:
        """Pending until decided, then the outcome (moved only through ``APPEAL_MACHINE``)."""
        return AppealStatus.PENDING if self.outcome is None else AppealStatus(self.outcome.value)

    @status.setter
    def status(self, value: AppealStatus) -> None:
        self.outcome = None if value == AppealStatus.PENDING else AppealOutcome(value)


class AppealFile(db.Model):
    __tablename__ = "penalty_appeal_file"
    __table_args__ = (sa.CheckConstraint("size_bytes > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(sa.ForeignKey("penalty_appeal.id"), index=True)
    original_name: Mapped[str] = mapped_column(sa.String(200))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    appeal: Mapped[PenaltyAppeal] = relationship(back_populates="files")
