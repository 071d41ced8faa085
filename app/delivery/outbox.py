"""Durable delivery: the outbox's one mechanism (enqueue, claim, send, record).

Invariants:

- **Written with its cause.**  :func:`enqueue` adds the row in the caller's
  transaction and flushes; it never commits.  A rolled-back event leaves no
  message; a committed one always has its message.
- **One row per deduplication key** (UNIQUE): enqueueing a key again returns the
  row that exists (inside a savepoint, so a race between two writers leaves the
  caller's transaction usable) and sends nothing more.
- **Sent after commit, outside transactions.**  :func:`deliver_due` claims a batch
  in one short transaction — ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP
  LOCKED)`` on PostgreSQL, so concurrent workers claim disjoint rows; one UPDATE
  under SQLite's single writer lock on SQLite, which serialises claims — marking
  each row ``sending`` with a lease (token, until).  It commits, sends each
  message with no transaction open, and records each result in a second short
  transaction whose UPDATE matches only while the lease is still its own.
- **At least once.**  A worker that dies mid-send leaves a ``sending`` row whose
  lease runs out; the next claim takes it again.  Attempts are counted at claim.
- **Retries back off exponentially**: after the n-th failed attempt the row waits
  ``min(BASE * 2**(n-1), CAP)`` seconds; after ``max_attempts`` failures, or a
  permanent refusal, it is ``dead`` (shown on /official/outbox, retried by an
  official or ``flask outbox retry``).
- **No sleeping.**  Every time comes from the ``clock`` argument (default: the
  app's clock), so tests move time instead of waiting.

Webhooks reuse all of it with a channel and a transport of their own.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.clock import now as app_now
from app.delivery import policy
from app.delivery.channels import DeliveryFailed, Outgoing, Sent, Transport, transports
from app.delivery.models import OutboxMessage, OutboxStatus
from app.delivery.templates import UnknownTemplate, is_secret, language_of, masked, render
from app.uow import after_commit

log = logging.getLogger("linli.outbox")

Clock = Callable[[], datetime]


# --- enqueue --------------------------------------------------------------------------------

def enqueue(
    session: Session,
    *,
    channel: str,
    recipient: str,
    template: str,
    dedup_key: str,
    params: Mapping | None = None,
    language: str | None = None,
    urgent: bool = False,
    user_id: int | None = None,
    send_after: datetime | None = None,
    expires_at: datetime | None = None,
    max_attempts: int | None = None,
) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction (flushed, not committed).

    ``send_after`` schedules it (a reminder); ``expires_at`` drops it unsent if it
    could only go out later than that (held by quiet hours or the daily limit).
    The same ``dedup_key`` twice gives the first row back.
    """
    existing = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key))
    if existing is not None:
        return existing
    due = send_after or app_now()
    message = OutboxMessage(
        channel=channel, recipient=recipient, template=template, params=dict(params or {}),
        language=language_of(language), dedup_key=dedup_key, urgent=urgent, user_id=user_id,
        status=OutboxStatus.PENDING, attempts=0,
        max_attempts=max_attempts or current_app.config.get("DELIVERY_MAX_ATTEMPTS", 8),
        next_attempt_at=policy.not_before(due, channel=channel, urgent=urgent),
        expires_at=expires_at, created_at=app_now(),
    )
    try:
        with session.begin_nested():
            session.add(message)
    except sa.exc.IntegrityError:  # another transaction enqueued the same key meanwhile
        existing = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key))
        if existing is None:
            raise
        return existing
    if urgent and current_app.config.get("DELIVERY_URGENT_AFTER_COMMIT", True):
        # A code the user waits for goes out as soon as the request commits; the worker
        # is the safety net if this process fails to send it.
        message_id = message.id
        after_commit(session, lambda: _deliver_now(message_id))
    return message


def new_key(prefix: str) -> str:
    """A deduplication key for a message that has no natural one (sent once, by one request)."""
    return f"{prefix}-{uuid.uuid4().hex}"


def _deliver_now(message_id: int) -> None:
    from app.extensions import db

    deliver_due(db.session, ids=[message_id])


# --- the worker -----------------------------------------------------------------------------

@dataclass
class Round:
    """What one call of :func:`deliver_due` did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    held: int = 0
    expired: int = 0
    sent_ids: list[int] = field(default_factory=list)

    def __iadd__(self, other: Round) -> Round:
        for name in ("claimed", "sent", "retried", "dead", "held", "expired"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.sent_ids.extend(other.sent_ids)
        return self


def backoff(attempt: int, base: int | None = None, cap: int | None = None) -> timedelta:
    """How long to wait after the ``attempt``-th failed attempt (1, 2, …)."""
    base = base if base is not None else current_app.config.get("DELIVERY_BACKOFF_SECONDS", 30)
    cap = cap if cap is not None else current_app.config.get("DELIVERY_BACKOFF_CAP_SECONDS", 6 * 3600)
    return timedelta(seconds=min(base * 2 ** max(attempt - 1, 0), cap))


def _due(at: datetime):
    M = OutboxMessage
    return sa.or_(
        sa.and_(M.status == OutboxStatus.PENDING, M.next_attempt_at <= at),
        sa.and_(M.status == OutboxStatus.SENDING, M.lease_until <= at),  # its worker died
    )


def claim(session: Session, *, at: datetime, batch: int, ids: Iterable[int] | None = None,
          channels: Iterable[str] | None = None) -> list[Outgoing]:
    """Claim up to ``batch`` due messages for this worker and commit the claim."""
    M = OutboxMessage
    session.commit()  # the claim is a transaction of its own, begun by its UPDATE
    token = uuid.uuid4().hex
    due = sa.select(M.id).where(_due(at)).order_by(M.next_attempt_at, M.id).limit(batch)
    if ids is not None:
        due = due.where(M.id.in_(list(ids)))
    if channels is not None:
        due = due.where(M.channel.in_(list(channels)))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    lease = timedelta(seconds=current_app.config.get("DELIVERY_LEASE_SECONDS", 300))
    session.execute(
        sa.update(M).where(M.id.in_(due.scalar_subquery())).values(
            status=OutboxStatus.SENDING, lease_token=token, lease_until=at + lease, attempts=M.attempts + 1,
        ).execution_options(synchronize_session=False)
    )
    rows = session.scalars(sa.select(M).where(M.lease_token == token).order_by(M.id)).all()
    claimed = [
        Outgoing(id=m.id, channel=m.channel, recipient=m.recipient, template=m.template, params=dict(m.params or {}),
                 language=m.language, dedup_key=m.dedup_key, urgent=m.urgent, attempts=m.attempts,
                 max_attempts=m.max_attempts, token=token, expires_at=m.expires_at)
        for m in rows
    ]
    session.commit()
    return claimed


def _record(session: Session, message: Outgoing, **values) -> bool:
    """Write the outcome of ``message``'s claim, if the claim is still ours; commit.

    A message that is done (sent, dead, expired) keeps no secret: a code it carried is
    masked in its params and in the text kept of it (templates.masked)."""
    M = OutboxMessage
    if values.get("status") in (OutboxStatus.SENT, OutboxStatus.DEAD, OutboxStatus.EXPIRED) \
            and is_secret(message.template):
        values["params"] = masked(message.template, message.params)
        if values.get("rendered"):
            values["rendered"] = render(message.template, values["params"], message.language).text
    result = session.execute(
        sa.update(M).where(M.id == message.id, M.lease_token == message.token)
        .values(lease_token=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    mine = result.rowcount == 1
    if not mine:
        log.warning("outbox message %s: lease lost before its result was recorded", message.id)
    return mine


def _hold_until(session: Session, message: Outgoing, at: datetime) -> datetime | None:
    """When a claimed message must wait instead of going out now (quiet hours, daily limit)."""
    if message.urgent:
        return None
    later = policy.not_before(at, channel=message.channel, urgent=False)
    if later > at:
        return later
    if message.channel == "sms":
        return policy.over_daily_limit(session, message.recipient, at)
    return None


def _deliver_one(session: Session, message: Outgoing, transport: Transport | None, clock: Clock, tally: Round) -> None:
    at = clock()
    expires_at = message.expires_at
    hold = _hold_until(session, message, at)
    session.commit()  # end the read; nothing is open while the provider answers
    if hold is not None:
        if expires_at is not None and hold >= expires_at:
            if _record(session, message, status=OutboxStatus.EXPIRED, last_error="held past its expiry"):
                tally.expired += 1
        elif _record(session, message, status=OutboxStatus.PENDING, next_attempt_at=hold,
                     attempts=OutboxMessage.attempts - 1):
            tally.held += 1
        session.commit()
        return
    rendered = None
    try:
        if transport is None:
            raise DeliveryFailed(f"no transport for channel {message.channel!r}", permanent=True)
        try:
            rendered = render(message.template, message.params, message.language)
        except (UnknownTemplate, KeyError, ValueError, TypeError) as error:
            raise DeliveryFailed(f"template {message.template!r}: {error}", permanent=True) from error
        sent: Sent = transport.send(message, rendered)
    except DeliveryFailed as failure:
        at = clock()
        error = str(failure)[:500]
        if failure.permanent or message.attempts >= message.max_attempts:
            if _record(session, message, status=OutboxStatus.DEAD, last_error=error):
                tally.dead += 1
                log.error("outbox message %s is dead after %s attempts: %s", message.id, message.attempts, error)
        elif _record(session, message, status=OutboxStatus.PENDING, last_error=error,
                     next_attempt_at=at + backoff(message.attempts)):
            tally.retried += 1
        session.commit()
        return
    at = clock()
    if _record(session, message, status=OutboxStatus.SENT, sent_at=at, provider_ref=sent.ref[:100],
               rendered=rendered.text, last_error=None):
        session.add_all(sent.rows)
        tally.sent += 1
        tally.sent_ids.append(message.id)
    session.commit()


def deliver_due(
    session: Session,
    *,
    clock: Clock | None = None,
    batch: int | None = None,
    ids: Iterable[int] | None = None,
    channels: Iterable[str] | None = None,
    transports_by_channel: Mapping[str, Transport] | None = None,
    rounds: int = 1,
) -> Round:
    """Claim and send what is due, ``rounds`` batches at most (stops early when nothing is due).

    Commits its own short transactions; returns the tally.  Safe to run in several
    processes at once.
    """
    clock = clock or app_now
    batch = batch or current_app.config.get("DELIVERY_BATCH", 50)
    found = transports_by_channel if transports_by_channel is not None else transports()
    tally = Round()
    for _ in range(rounds):
        claimed = claim(session, at=clock(), batch=batch, ids=ids, channels=channels)
        if not claimed:
            break
        tally.claimed += len(claimed)
        for message in claimed:
            _deliver_one(session, message, found.get(message.channel), clock, tally)
    return tally


def deliver_outbox(session: Session) -> int:
    """Send the outbox's due messages (SMS, email), retrying failures with backoff."""
    return deliver_due(session, rounds=20).sent


# --- officials -------------------------------------------------------------------------------

def retry_dead(session: Session, message: OutboxMessage, *, at: datetime | None = None) -> None:
    """Give a dead letter a new round of attempts, now (flushes; the caller commits)."""
    from flask_babel import lazy_gettext as _l

    from app.errors import Invalid

    if message.status != OutboxStatus.DEAD:
        raise Invalid(_l("Only a dead message can be retried."))
    if is_secret(message.template):  # its code is masked once dead, and stale by now anyway
        raise Invalid(_l("A code is never sent again: the user asks for a new one."))
    message.status = OutboxStatus.PENDING
    message.max_attempts = message.attempts + current_app.config.get("DELIVERY_MAX_ATTEMPTS", 8)
    message.next_attempt_at = at or app_now()
    session.flush()
