"""The follow-up call queue and what the callers found.

- :class:`FollowUpCall`: one per visit put in the queue (sampled, or flagged), with
  its final ``outcome`` once recorded.  ``not_served`` is an upheld finding against
  the provider: billing withholds the visit's programme money or claws it back
  (it listens to :data:`ratings.followups.models.follow_up_recorded`).
- :class:`FollowUpAttempt`: every try, an unreachable one included.
- :class:`EvaluatorAppointment`: a programme appoints a third-party evaluator
  (a user), who then works the queue of that programme's visits.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from blinker import signal
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import UTCDateTime, enum_column
from app.extensions import db
from app.models import User
from providers.bookings.models import Booking

# A call's outcome was recorded: (session, call=…, actor=…), inside the transaction.
follow_up_recorded = signal("linli.follow-up-recorded")


class SampleReason(StrEnum):
    SAMPLED = "sampled"  # drawn in the month's sample
    FLAGGED = "flagged"  # the visit has an anomaly flag


class CallStatus(StrEnum):
    QUEUED = "queued"  # not called yet
    RETRY = "retry"  # unreachable, to be tried again
    DONE = "done"  # an outcome is recorded (final)


class CallOutcome(StrEnum):
    SERVED = "served"  # served as recorded
    PARTLY = "partly"  # served partly
    NOT_SERVED = "not_served"  # not served: an upheld finding
    UNREACHABLE = "unreachable"  # nobody answered (after the last attempt)


CALL_OUTCOME_LABELS = {
    CallOutcome.SERVED: _l("Served as recorded"),
    CallOutcome.PARTLY: _l("Served partly"),
    CallOutcome.NOT_SERVED: _l("Not served"),
    CallOutcome.UNREACHABLE: _l("Unreachable"),
}


class FollowUpCall(db.Model):
    __tablename__ = "follow_up_call"
    __table_args__ = (
        sa.UniqueConstraint("booking_id"),
        sa.CheckConstraint("satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5", name="satisfaction_valid"),
        sa.CheckConstraint("(status = 'done') = (outcome IS NOT NULL)", name="done_has_outcome"),
        sa.Index("ix_follow_up_call_provider_month", "provider_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(sa.ForeignKey("booking.id"))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("provider.id"))
    # The programme that paid for the visit (its evaluators may work this call).
    programme_id: Mapped[int | None] = mapped_column(sa.ForeignKey("purchase_programme.id"), index=True)
    month: Mapped[str] = mapped_column(sa.String(7))  # YYYY-MM, local
    reason: Mapped[SampleReason] = mapped_column(enum_column(SampleReason, "sample_reason"))
    status: Mapped[CallStatus] = mapped_column(enum_column(CallStatus, "call_status"), default=CallStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    outcome: Mapped[CallOutcome | None] = mapped_column(enum_column(CallOutcome, "call_outcome"))
    satisfaction: Mapped[int | None] = mapped_column(sa.SmallInteger)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    booking: Mapped[Booking] = relationship()
    attempt_log: Mapped[list[FollowUpAttempt]] = relationship(back_populates="call", order_by="FollowUpAttempt.id")

    @property
    def outcome_label(self) -> str | None:
        return str(CALL_OUTCOME_LABELS[self.outcome]) if self.outcome else None


class FollowUpAttempt(db.Model):
    __tablename__ = "follow_up_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("follow_up_call.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    caller_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    outcome: Mapped[CallOutcome] = mapped_column(enum_column(CallOutcome, "attempt_outcome"))
    note: Mapped[str] = mapped_column(sa.Text, default="")

    call: Mapped[FollowUpCall] = relationship(back_populates="attempt_log")
    caller: Mapped[User] = relationship()


class EvaluatorAppointment(db.Model):
    """A programme appoints a third-party evaluator for its follow-up calls."""

    __tablename__ = "evaluator_appointment"
    __table_args__ = (sa.UniqueConstraint("programme_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(sa.ForeignKey("purchase_programme.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    appointed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    appointed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
