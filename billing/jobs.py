"""Scheduled billing jobs (run by the scheduler process; the settlement, the payouts and the
refunds commit provider by provider, payout by payout, refund by refund).

A job that calls the gateway reads what to ask, ends that transaction, calls with none open
and no row locked, and records the answer in a short transaction it commits itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from billing.settlements import Period, Settlement, current_period, providers_to_settle, settle


def settle_month(session: Session, period: Period) -> list[Settlement]:
    """Settle the month for every provider that has something in it, each provider in
    a transaction of its own, committed; return the settlements made now.

    A run that stops half-way (database lost, process killed) leaves every provider's
    settlement whole or absent, and the next run settles only the rest (``settle``
    is idempotent per provider and month).  One provider's work is all a transaction
    holds, so a month-end for many thousands of providers needs neither one long
    transaction nor memory for all of them.
    """
    from app.db import write_transaction

    made = []
    for provider_id in providers_to_settle(session, period):
        with write_transaction(session):  # BEGIN IMMEDIATE on SQLite; row locks and unique keys on PostgreSQL
            settlement = settle(session, provider_id, period)
        session.commit()
        made.append(settlement)
    return made


def settle_previous_month(session: Session) -> int:
    """Settle last month for every provider (idempotent: a settled provider is skipped).

    Stripe payouts are sent afterwards by :func:`send_payouts`.
    """
    return len(settle_month(session, current_period().previous()))


def send_payouts(session: Session) -> int:
    """Send pending or failed Stripe payouts (same idempotency key on every attempt).

    Each payout is sent and committed on its own (:func:`send_payout`), so a gateway error on
    one keeps the others.
    """
    from billing.payouts import pending_stripe_payouts

    paid = 0
    for payout_id in pending_stripe_payouts(session):
        paid += send_payout(session, payout_id).status == "paid"
    return paid


def send_payout(session: Session, payout_id: int):
    """Send one Stripe payout: read it, call the gateway with no transaction open and no row
    locked, then record the answer in a short transaction of its own, committed.

    NotFound for an unknown payout, Conflict for a bank-file one (nothing changes).  A gateway
    error marks it failed (attempts + 1); a retry sends the same key ``payout:<id>``, so the
    gateway pays once, and the ledger posts once (the answer is recorded under the payout's
    row lock, and a paid payout is left as it is).  Killed between the call and the record,
    the payout is still pending and the next run sends it again with the same key.
    """
    from billing.gateways import GatewayError
    from billing.payment_models import Payout
    from billing.payouts import ask_gateway, record_transfer, transfer_order

    order = transfer_order(session, payout_id)
    _end_reads(session)
    if order is None:
        return session.get(Payout, payout_id)  # already paid: nothing is sent or changed
    transfer_id, error = None, None
    if not order.destination:
        error = "The provider has no Stripe connected account any more."
    else:
        try:
            transfer_id = ask_gateway(order)
        except GatewayError as refused:
            error = str(refused)
    payout = record_transfer(session, order, transfer_id=transfer_id, error=error)
    session.commit()
    return payout


def _end_reads(session: Session) -> None:
    """End the transaction that only read what the gateway is to be asked, before the call:
    nothing is held open (no row lock, no snapshot) while the gateway answers."""
    session.rollback()


REFUND_BATCH = 50  # refunds submitted per run at most; the rest wait for the next run
_REFUND_CLAIMS = 0x4C52  # advisory-lock namespace of refunds being sent ("LR")


def submit_refunds(session: Session) -> int:
    """Submit gateway refunds still pending and unsent: those whose submission after their
    commit failed (gateway down) or never ran (the process stopped).

    Oldest first, at most REFUND_BATCH, each committed on its own with its key ``refund:<id>``
    (see :func:`send_refunds`); safe to run twice or concurrently.
    """
    return send_refunds(session, limit=REFUND_BATCH)


def send_refunds(session: Session, ids: list[int] | None = None, *, limit: int | None = None) -> int:
    """Send pending, unsent gateway refunds (those named, or all, oldest first, at most ``limit``);
    the after-commit callback of a new refund and the retry job both come here.

    For each refund: claim it, read it again (still pending and unsent?), end that read, call
    the gateway with no transaction open and no row locked, then record the answer under the
    refund's row lock in a transaction of its own and commit it.  On PostgreSQL the claim is
    an advisory lock held by a connection of its own (no row, no data): a concurrent run skips
    a refund being sent and, once it is recorded, finds it sent, so one run sends a refund at
    most once; a run that dies mid-call loses its claim with its connection.  SQLite has no
    such lock: a second sender repeats the call with the same ``refund:<id>`` key, which Stripe
    answers with the same refund.  A gateway error leaves the refund pending and unsent
    (logged) for the next run.  Returns how many were sent.
    """
    from flask import current_app

    from billing.gateways import GatewayError
    from billing.refunds import ask_gateway, record_answer, refund_order, unsent_refunds

    candidates = unsent_refunds(session, ids, limit=limit)
    _end_reads(session)
    sent = 0
    for refund_id in candidates:
        with _claim(session, _REFUND_CLAIMS, refund_id) as claimed:
            if not claimed:
                continue  # being sent by another run
            order = refund_order(session, refund_id)
            _end_reads(session)
            if order is None:
                continue  # sent meanwhile
            try:
                ref, status = ask_gateway(order)
            except GatewayError as error:
                current_app.logger.warning("refund %s not submitted (%s), left pending: %s", refund_id,
                                           "will retry" if error.retryable else "refused", error)
                continue
            record_answer(session, order, ref, status)
            session.commit()
            sent += 1
    return sent


@contextmanager
def _claim(session: Session, namespace: int, key: int) -> Iterator[bool]:
    """Hold an advisory claim on ``(namespace, key)`` for the block; yields whether it was won.

    PostgreSQL: ``pg_try_advisory_xact_lock`` on a connection of its own, released when the
    block ends (or the connection dies).  It locks no row, so the session's work and every
    other transaction go on.  Elsewhere the claim is always won.
    """
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        yield True
        return
    engine = bind.engine if isinstance(bind, sa.Connection) else bind
    with engine.connect() as conn:
        won = bool(conn.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(namespace, key))))
        try:
            yield won
        finally:
            conn.rollback()


# (job, APScheduler trigger arguments): 02:00 local on the 1st, payouts 30 minutes later
# and hourly after that (retries of failed transfers); pending refunds every 5 minutes.
JOBS = [
    (settle_previous_month, {"trigger": "cron", "day": 1, "hour": 2, "minute": 0}),
    (send_payouts, {"trigger": "cron", "minute": 30}),
    (submit_refunds, {"trigger": "interval", "minutes": 5}),
]


# --- CLI: flask --app app settle --period 2026-10 ------------------------------------


def _summary_table(session: Session, settlements) -> list[str]:
    from app.money import format_fen
    from billing.settlements import payout_of
    from providers.models import Provider

    header = ("provider", "bookings", "gross", "fee", "penalties", "subsidies", "collected", "net", "payout")
    rows = []
    for s in settlements:
        provider = session.get(Provider, s.provider_id)
        payout = payout_of(session, s)
        rows.append((f"{provider.name} (#{provider.id})", str(s.booking_count), format_fen(s.gross_fen),
                     format_fen(s.fee_fen), format_fen(s.penalties_fen), format_fen(s.subsidies_fen),
                     format_fen(s.collected_offline_fen),
                     format_fen(s.net_fen), f"{payout.method} {payout.status.value}" if payout else "none"))
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return [line(header), *(line(r) for r in rows)]


@click.command("settle")
@click.option("--period", required=True, help="The month to settle, YYYY-MM (Asia/Shanghai).")
@with_appcontext
def settle_command(period: str) -> None:
    """Settle a month for every provider (idempotent), send Stripe payouts, print a summary."""
    from app.errors import LinliError
    from app.extensions import db
    from billing.payouts import pending_stripe_payouts
    from billing.settlements import parse_period, settlements_of

    try:
        parsed = parse_period(period)
        made = settle_month(db.session, parsed)
    except LinliError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    for payout_id in pending_stripe_payouts(db.session, parsed.key):
        payout = send_payout(db.session, payout_id)
        if payout.status != "paid":
            click.echo(f"Payout {payout.id} failed (attempt {payout.attempts}): {payout.last_error}", err=True)
    every = settlements_of(db.session, parsed)
    click.echo(f"Settlement {parsed.key}: {len(made)} provider(s) settled now, {len(every)} in all.")
    if not made:
        click.echo("Nothing new to settle; nothing changed.")
    for text in _summary_table(db.session, every):
        click.echo(text)
