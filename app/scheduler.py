"""The scheduler process: ``flask --app app scheduler``.

APScheduler's job store cannot be shared between processes, so Linli runs its
jobs in one dedicated process.  The jobs are those the domains registered from
their ``init_app`` (app/registry.py); a job's id is its function's name.  Each job still makes itself safe to run twice
(row locks, conditional updates, unique period rows), so a second scheduler or
a manual re-run never applies anything twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.extensions import db
from app.uow import commit

log = logging.getLogger("linli.scheduler")


def registered_jobs(app: Flask | None = None) -> list[tuple[Callable, dict]]:
    """The jobs the domains registered (``registry().job``), in domain order: (job, trigger)."""
    from app.registry import registry

    return [(job.fn, job.trigger) for job in registry(app).jobs]


def run_job(app: Flask, job: Callable) -> int:
    """Run one job in its own app context and transaction; commit once."""
    with app.app_context():
        try:
            count = job(db.session)
            commit(db.session)
        except Exception:
            db.session.rollback()
            log.exception("job %s failed; nothing it did was kept", job.__name__)
            raise
        finally:
            db.session.remove()
        if count:
            log.info("job %s: %s rows", job.__name__, count)
        return count


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=app.config["LINLI_TIMEZONE"])
    for job, trigger in registered_jobs(app):
        scheduler.add_job(
            run_job, args=(app, job), id=job.__name__, name=job.__doc__ or job.__name__,
            max_instances=1, coalesce=True, misfire_grace_time=300, **trigger,
        )
    return scheduler


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run every job once now, then exit.")
@with_appcontext
def scheduler_command(once: bool) -> None:
    """Run the scheduled jobs (one dedicated process)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = current_app._get_current_object()
    if once:
        for job, _trigger in registered_jobs(app):
            click.echo(f"{job.__name__}: {run_job(app, job)}")
        return
    scheduler = build_scheduler(app)
    click.echo(f"Linli scheduler running {len(scheduler.get_jobs())} jobs; Ctrl-C to stop.")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
