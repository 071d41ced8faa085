"""Text messages to phones: one small interface, and the embedded default.

``send(session, phone, text)`` hands a message to the channel that configuration
names (``LINLI_SMS_SENDER``).  The only channel today is ``outbox``: the message is
a row of ``sms_outbox`` written in the caller's transaction (so it exists exactly
when what it announces was committed), which officials read on
``/official/sms-outbox`` and ``flask --app app outbox`` prints; ``make run`` needs
no keys.  A channel that reaches a real SMS provider implements :class:`SmsSender`
and calls out in :func:`app.uow.after_commit` (never under the request's locks,
never for a transaction that rolled back); the reach issue adds those.
"""

from __future__ import annotations

from typing import Protocol

from flask import current_app
from sqlalchemy.orm import Session

from app.models import SmsMessage


class SmsSender(Protocol):
    """A channel for text messages."""

    name: str

    def send(self, session: Session, phone: str, text: str) -> None:
        """Deliver ``text`` to ``phone`` once ``session``'s transaction commits."""


class OutboxSender:
    """The embedded channel: the message is a row of the outbox, nothing leaves the machine."""

    name = "outbox"

    def send(self, session: Session, phone: str, text: str) -> None:
        session.add(SmsMessage(phone=phone, body=text[:500]))
        session.flush()


SENDERS: dict[str, type] = {"outbox": OutboxSender}


def sender() -> SmsSender:
    """The configured channel (one per app)."""
    found = current_app.extensions.get("linli.sms")
    if found is None:
        name = current_app.config.get("SMS_SENDER", "outbox")
        if name not in SENDERS:
            raise RuntimeError(f"LINLI_SMS_SENDER={name!r} is not one of {', '.join(SENDERS)}")
        found = current_app.extensions["linli.sms"] = SENDERS[name]()
    return found


def send(session: Session, phone: str, text: str) -> None:
    sender().send(session, phone, text)
