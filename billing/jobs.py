"""Scheduled billing jobs (run by the scheduler process; the settlement and the payouts
commit provider by provider, payout by payout)."""

from __future__ import annotations

import click
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

    Each payout is committed on its own, so a gateway error on one keeps the others.
    """
    from billing.payouts import execute_payout, pending_stripe_payouts

    paid = 0
    for payout_id in pending_stripe_payouts(session):
        payout = execute_payout(session, payout_id)
        session.commit()
        paid += payout.status == "paid"
    return paid


REFUND_BATCH = 50  # refunds submitted per run at most; the rest wait for the next run


def submit_refunds(session: Session) -> int:
    """Submit gateway refunds still pending and unsent: those created outside a request (a
    scheduler job expiring a paid request) and those whose submission failed (gateway down).

    Oldest first, at most REFUND_BATCH, each committed on its own with its key ``refund:<id>``
    (see :func:`billing.refunds.submit_pending_refunds`); safe to run twice or concurrently.
    """
    from billing.refunds import submit_pending_refunds

    return submit_pending_refunds(session, limit=REFUND_BATCH)


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
    from billing.payouts import execute_payout, pending_stripe_payouts
    from billing.settlements import parse_period, settlements_of

    try:
        parsed = parse_period(period)
        made = settle_month(db.session, parsed)
    except LinliError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    for payout_id in pending_stripe_payouts(db.session, parsed.key):
        payout = execute_payout(db.session, payout_id)
        db.session.commit()
        if payout.status != "paid":
            click.echo(f"Payout {payout.id} failed (attempt {payout.attempts}): {payout.last_error}", err=True)
    every = settlements_of(db.session, parsed)
    click.echo(f"Settlement {parsed.key}: {len(made)} provider(s) settled now, {len(every)} in all.")
    if not made:
        click.echo("Nothing new to settle; nothing changed.")
    for text in _summary_table(db.session, every):
        click.echo(text)
