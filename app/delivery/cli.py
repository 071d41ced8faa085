"""``flask --app app outbox``: print the outbox; ``outbox deliver``: run the worker;
``outbox retry ID``: send a dead letter again."""

from __future__ import annotations

import logging
import time

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from app.extensions import db


@click.group("outbox", invoke_without_command=True)
@click.option("--limit", default=20, show_default=True, help="How many messages, newest first.")
@click.option("--phone", default=None, help="Only the messages to this number (or address).")
@click.option("--dead", is_flag=True, help="Only the dead letters.")
@click.pass_context
@with_appcontext
def outbox(ctx: click.Context, limit: int, phone: str | None, dead: bool) -> None:
    """Print the outbox (every channel, codes masked), newest first; then, with no SMS provider, the
    texts the embedded channel received (the codes a user on this machine is waiting for)."""
    if ctx.invoked_subcommand is not None:
        return
    from app.clock import local
    from app.delivery.models import OutboxMessage, OutboxStatus
    from app.delivery.templates import render

    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if phone:
        stmt = stmt.where(OutboxMessage.recipient == phone)
    if dead:
        stmt = stmt.where(OutboxMessage.status == OutboxStatus.DEAD)
    messages = db.session.scalars(stmt).all()
    if not messages:
        click.echo("The outbox is empty.")
    for m in messages:
        try:
            text = m.rendered or render(m.template, m.params, m.language).text
        except Exception as error:  # a template that no longer renders: show why
            text = f"({m.template}: {error})"
        line = f"{local(m.created_at):%Y-%m-%d %H:%M}  {m.channel:5}  {m.recipient}  {m.status.value:7} {m.attempts}/{m.max_attempts}  {text}"
        if m.last_error:
            line += f"  [{m.last_error}]"
        click.echo(line)
    from flask import current_app

    if current_app.config.get("SMS_SENDER", "outbox") == "outbox" and not dead:
        # No SMS provider: the embedded channel is every account's phone, and its texts hold the
        # codes the outbox above keeps masked (for the operator of a machine that sends none).
        from app.models import SmsMessage

        texts = sa.select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)
        if phone:
            texts = texts.where(SmsMessage.phone == phone)
        received = db.session.scalars(texts).all()
        if received:
            click.echo("Texts on the embedded SMS channel (no SMS provider is configured):")
        for t in received:
            click.echo(f"{local(t.created_at):%Y-%m-%d %H:%M}  {t.phone}  {t.body}")


@outbox.command("deliver")
@click.option("--loop", is_flag=True, help="Keep delivering (a worker process); Ctrl-C to stop.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between rounds with --loop.")
@with_appcontext
def deliver(loop: bool, interval: float) -> None:
    """Send what is due now (several of these may run at once)."""
    from app.delivery.outbox import deliver_due

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    while True:
        tally = deliver_due(db.session, rounds=100)
        db.session.remove()
        if tally.claimed or not loop:
            click.echo(f"claimed {tally.claimed}, sent {tally.sent}, retried {tally.retried}, "
                       f"dead {tally.dead}, held {tally.held}, expired {tally.expired}")
        if not loop:
            return
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            return


@outbox.command("retry")
@click.argument("message_id", type=int)
@with_appcontext
def retry(message_id: int) -> None:
    """Send a dead letter again."""
    from app.delivery.models import OutboxMessage
    from app.delivery.outbox import retry_dead
    from app.errors import LinliError

    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        raise click.ClickException(f"No outbox message {message_id}.")
    try:
        retry_dead(db.session, message)
    except LinliError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Message {message_id} will be sent again.")
