"""Helpers for the outbox tests: a scripted transport and counting what is due."""

from __future__ import annotations

import sqlalchemy as sa

from app.delivery.channels import DeliveryFailed, Sent
from app.delivery.models import OutboxMessage
from app.extensions import db


class ScriptedTransport:
    """Fails the first ``failures`` sends (transient, or permanent), then succeeds; records each send."""

    channel, name = "sms", "scripted"

    def __init__(self, failures: int = 0, permanent: bool = False):
        self.failures, self.permanent = failures, permanent
        self.sent: list[tuple[str, str]] = []  # (dedup key, text) of each successful send
        self.tries = 0

    def send(self, message, rendered):
        self.tries += 1
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryFailed("provider down (scripted)", permanent=self.permanent)
        self.sent.append((message.dedup_key, rendered.text))
        return Sent(ref=f"ref-{self.tries}")


def message(key: str) -> OutboxMessage:
    return db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.dedup_key == key))


def count(**where) -> int:
    stmt = sa.select(sa.func.count()).select_from(OutboxMessage)
    for name, value in where.items():
        stmt = stmt.where(getattr(OutboxMessage, name) == value)
    return db.session.scalar(stmt)
