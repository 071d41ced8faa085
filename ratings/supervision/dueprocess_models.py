"""Due-process tables: comments on a published rule-set version, and grade reviews.

- ``rule_comment``: what a provider (or any logged-in user) said about a version
  during its comment period; officials read them before it takes effect.
- ``grade_review``: a provider's request for a human review of one grade (a
  ``supervision_snapshot``), with its reason, and an official's decision
  (upheld, or changed to another grade, with a reason).  At most one OPEN
  request per grade: a partial unique index refuses a second one while the
  first waits, on SQLite and PostgreSQL alike.  The snapshot itself is never
  edited (a run stays reproducible); a changed grade is this row's fact.
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
from ratings.supervision.models import GRADE_LABELS, Grade, ProviderSnapshot, RuleSet


class RuleComment(db.Model):
    __tablename__ = "rule_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_set_id: Mapped[int] = mapped_column(sa.ForeignKey("supervision_rule_set.id"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    rule_set: Mapped[RuleSet] = relationship()
    author: Mapped[User] = relationship()


class ReviewOutcome(StrEnum):
    UPHELD = "upheld"  # the grade stands
    CHANGED = "changed"  # the official set another grade


REVIEW_OUTCOME_LABELS = {
    ReviewOutcome.UPHELD: _l("Grade upheld"),
    ReviewOutcome.CHANGED: _l("Grade changed"),
}

OPEN_SQL = "decided_at IS NULL"


class GradeReview(db.Model):
    __tablename__ = "grade_review"
    __table_args__ = (
        # One open request per grade: a second waits for nothing the first does not.
        sa.Index("uq_grade_review_open", "snapshot_id", unique=True,
                 sqlite_where=sa.text(OPEN_SQL), postgresql_where=sa.text(OPEN_SQL)),
        # Decided means an outcome, a reason and an official; a change names the new grade.
        sa.CheckConstraint("(decided_at IS NULL) = (outcome IS NULL)", name="decided_with_outcome"),
        sa.CheckConstraint("outcome IS NULL OR outcome <> 'changed' OR new_grade IS NOT NULL",
                           name="change_names_grade"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(sa.ForeignKey("supervision_snapshot.id"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    reason: Mapped[str] = mapped_column(sa.Text)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[ReviewOutcome | None] = mapped_column(enum_column(ReviewOutcome, "grade_review_outcome"))
    new_grade: Mapped[Grade | None] = mapped_column(enum_column(Grade, "grade_review_grade"))
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)

    snapshot: Mapped[ProviderSnapshot] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def is_open(self) -> bool:
        return self.decided_at is None

    @property
    def outcome_label(self) -> str:
        return str(REVIEW_OUTCOME_LABELS[self.outcome]) if self.outcome else ""

    @property
    def new_grade_label(self) -> str:
        return str(GRADE_LABELS[self.new_grade]) if self.new_grade else ""
