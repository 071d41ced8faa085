"""The monthly follow-up sample: a job on the 1st (for the month just ended) and
``flask follow-ups sample --month 2026-11``.  Both are idempotent (sampling.py)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from app.errors import Invalid
from ratings.followups.sampling import previous_month, sample_month


def monthly_sample(session: Session) -> int:
    """Sample the month just ended (run on the 1st; a rerun adds nothing); new calls."""
    outcome = sample_month(session, previous_month())
    return outcome.sampled + outcome.flagged


JOBS = [(monthly_sample, {"trigger": "cron", "day": 1, "hour": 3, "minute": 20})]

follow_ups_cli = AppGroup("follow-ups", help="Follow-up calls (回访).")


@follow_ups_cli.command("sample")
@click.option("--month", required=True, help="The month, YYYY-MM (local), e.g. 2026-11.")
def sample_command(month: str) -> None:
    """Queue the month's follow-up sample and its flagged visits (idempotent)."""
    from app.extensions import db
    from app.uow import commit

    try:
        outcome = sample_month(db.session, month)
    except Invalid as error:
        raise click.BadParameter(str(error), param_hint="--month") from None
    commit(db.session)
    click.echo(f"{outcome.month}: {outcome.sampled} sampled, {outcome.flagged} flagged visits queued")
