"""Retention: a visit's raw coordinates are dropped ``VISIT_LOCATION_RETENTION_DAYS``
days after its check-out (PIPL: kept no longer than the purpose needs).

What stays: the distances to the home, the accuracy, the verdicts (verified,
cleared, flags) — everything settlement, supervision and an appeal judge on.  The
home location stays too: the resident consented to it and the next visit needs it.

The job works in batches (a bounded ``UPDATE … WHERE booking_id IN (…)`` each) and is
idempotent: a record whose coordinates are dropped carries ``coordinates_dropped_at``
and is never selected again, so a second run, or a second scheduler, changes nothing.
A visit never checked out counts from its check-in.

The scheduler runs it nightly; ``flask drop-visit-coordinates`` runs it now (the
same job, through the scheduler's runner: one transaction, committed once).
"""

from __future__ import annotations

from datetime import timedelta

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from app.clock import now
from providers.bookings.models import Booking
from providers.visits.models import VisitRecord

BATCH = 500


def due(cutoff) -> sa.Select:
    """The records whose coordinates are due to go (check-out, or check-in, before ``cutoff``)."""
    ended = sa.func.coalesce(Booking.completed_at, Booking.checked_in_at)
    return (sa.select(VisitRecord.booking_id).join(Booking, Booking.id == VisitRecord.booking_id)
            .where(VisitRecord.coordinates_dropped_at.is_(None), ended.is_not(None), ended < cutoff))


def drop_old_coordinates(session: Session, *, batch: int = BATCH) -> int:
    """Null the raw check-in/check-out coordinates of visits past the retention period."""
    at = now()
    cutoff = at - timedelta(days=int(current_app.config["VISIT_LOCATION_RETENTION_DAYS"]))
    dropped = 0
    while True:
        ids = list(session.scalars(due(cutoff).order_by(VisitRecord.booking_id).limit(batch)))
        if not ids:
            return dropped
        session.execute(
            sa.update(VisitRecord)
            .where(VisitRecord.booking_id.in_(ids), VisitRecord.coordinates_dropped_at.is_(None))
            .values(check_in_lat=None, check_in_lon=None, check_out_lat=None, check_out_lon=None,
                    coordinates_dropped_at=at)
            .execution_options(synchronize_session=False)
        )
        session.flush()
        dropped += len(ids)


# (job, APScheduler trigger arguments): once a night, at a quiet hour.
JOBS = [
    (drop_old_coordinates, {"trigger": "cron", "hour": 3, "minute": 40}),
]


@click.command("drop-visit-coordinates")
@with_appcontext
def drop_coordinates_command() -> None:
    """Drop the raw coordinates of visits past the retention period now (the nightly job)."""
    from app.scheduler import run_job

    click.echo(f"{run_job(current_app._get_current_object(), drop_old_coordinates)} visit records")
