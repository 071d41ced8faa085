"""The outbox's tables: one row per message to send, and each user's channel choices.

An :class:`OutboxMessage` is generic (SMS, email, and later webhooks use the same
row): a channel, a recipient, a template with its parameters (JSON), the
recipient's language and a deduplication key.  The key is UNIQUE: whatever asks
for the same message twice (a job re-run, a retried request) gets one row, so one
delivery.  The row is written in the transaction of the event that causes it and
sent after commit by the worker (app/delivery/worker.py), which owns every
change of ``status`` after that:

    pending ──claim──▶ sending ──▶ sent
       ▲                  │ ├──▶ dead     (a permanent refusal, or max_attempts reached)
       └──retry/hold──────┘ └──▶ expired  (held past ``expires_at``: a stale reminder)

``attempts`` counts the sends tried; ``next_attempt_at`` is when the row may be
claimed next (the caller's ``send_after``, the end of the quiet hours, or the
backoff after a failure); ``lease_until``/``lease_token`` mark a claim, so a
worker that died mid-send leaves its rows to be claimed again once the lease
has passed (at least once), and a worker whose lease was taken over records
nothing (its conditional update matches no row).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.db import UTCDateTime, enum_column
from app.extensions import db


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    EXPIRED = "expired"


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (
        # What the worker asks for: due rows of one status, oldest first.
        sa.Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),
        # The daily limit counts what one phone received since local midnight.
        sa.Index("ix_outbox_message_recipient_sent_at", "recipient", "sent_at"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.CheckConstraint("max_attempts >= 1", name="max_attempts_positive"),
        # A claim always carries its lease; a row at rest carries none.
        sa.CheckConstraint("(status = 'sending') = (lease_token IS NOT NULL)", name="lease_iff_sending"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(20))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    template: Mapped[str] = mapped_column(sa.String(60))
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    language: Mapped[str] = mapped_column(sa.String(8), default="zh")
    dedup_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    urgent: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[str | None] = mapped_column(sa.String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    provider_ref: Mapped[str | None] = mapped_column(sa.String(100))
    # What was sent (the text as rendered for the recipient), for the officials' page.
    rendered: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationPreference(db.Model):
    """A user's choice of channels beside the in-app centre (which always receives).

    No row means the defaults: SMS on (many residents read nothing else), email off
    (there is no address until the user gives one).
    """

    __tablename__ = "notification_preference"
    __table_args__ = (
        sa.CheckConstraint("NOT email OR email_address IS NOT NULL", name="email_needs_address"),
    )

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), primary_key=True)
    sms: Mapped[bool] = mapped_column(default=True)
    email: Mapped[bool] = mapped_column(default=False)
    email_address: Mapped[str | None] = mapped_column(sa.String(254))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)
