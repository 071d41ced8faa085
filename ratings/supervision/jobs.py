"""Scheduled supervision jobs and ``flask --app app evaluate``.

- :func:`monthly_evaluation` runs every hour and acts only on the rule set's
  evaluation day (in the rule set's zone), as of that day's local midnight;
  the run's unique as-of makes every later call that day a no-op.
- :func:`early_warning` runs daily: providers close to a threshold (and not
  new) get one notification a day at most (unique (provider, day) row).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from app.clock import now
from app.db import write_transaction
from app.models import User
from app.notifications import notify
from providers.models import ProviderStaff
from ratings.supervision import rules
from ratings.supervision.evaluator import as_of_day, evaluate
from ratings.supervision.models import EarlyWarning
from ratings.supervision.runs import Outcome, insert_ignoring_conflict, run_evaluation, snapshots


def monthly_evaluation(session: Session) -> int:
    """Evaluate every provider on the rule set's evaluation day (once; idempotent)."""
    with write_transaction(session):
        rule_set = rules.current(session)
        today = now().astimezone(rules.zone_of(rule_set)).date()
        if today.day != rule_set.evaluation_day:
            return 0
        outcome = run_evaluation(session, as_of_day(today, rule_set), trigger="scheduler")
        return outcome.run.report_count if outcome.created else 0


def early_warning(session: Session) -> int:
    """Warn providers close to a threshold (at most once a day each); return how many were warned."""
    import sqlalchemy as sa

    with write_transaction(session):
        rule_set = rules.current(session)
        today = now().astimezone(rules.zone_of(rule_set)).date()
        at = as_of_day(today, rule_set)
        evaluation = evaluate(session, rules.for_period(session, at), at)
        close = [r for r in evaluation.results if r.near and not r.is_new]
        if not close:
            return 0
        at = now()
        warned = session.scalars(
            insert_ignoring_conflict(session, EarlyWarning, [
                {"provider_id": r.provider_id, "on_date": today, "metrics": r.near, "created_at": at} for r in close
            ]).returning(EarlyWarning.provider_id)
        ).all()
        if not warned:
            return 0
        by_provider = {r.provider_id: r for r in close}
        staff = session.execute(
            sa.select(ProviderStaff.provider_id, ProviderStaff.user_id).where(ProviderStaff.provider_id.in_(warned))
        ).all()
        for provider_id in warned:
            notify(session, [u for p, u in staff if p == provider_id], "supervision.warning",
                   link="/provider/scorecard#supervision", count=len(by_provider[provider_id].near))
        return len(warned)


# (job, APScheduler trigger arguments)
JOBS = [
    (monthly_evaluation, {"trigger": "cron", "minute": 10}),
    (early_warning, {"trigger": "cron", "hour": 8, "minute": 0}),
]


# --- CLI: flask --app app evaluate --as-of 2026-11-01 [--dry-run] ------------------------


GRADE_ZH = {"excellent": "优秀", "good": "良好", "qualified": "合格", "unqualified": "不合格", "new": "新"}


def summary_lines(outcome: Outcome, session: Session) -> list[str]:
    """The table the CLI prints: provider, grade, window, breaches (threshold keys), proposed sanction."""
    from ratings.supervision.reports import reports_query

    def grade(value: str) -> str:
        return f"{value} {GRADE_ZH[value]}"

    if outcome.evaluation is not None:
        sanctions = {p.provider_id: p.sanction.value for p in outcome.proposals}
        rows = [(f"{r.name} (#{r.provider_id})", grade(r.grade.value), f"{r.window_days}d",
                 ",".join(r.breaches) or "-", sanctions.get(r.provider_id, "-"))
                for r in outcome.evaluation.results]
    else:
        sanctions = {r.provider_id: r.proposed_sanction.value for r in session.scalars(reports_query(run_id=outcome.run.id))}
        rows = [(f"{s.provider.name} (#{s.provider_id})", grade(s.grade), f"{s.window_days}d",
                 ",".join(s.breaches) or "-", sanctions.get(s.provider_id, "-"))
                for s in snapshots(session, outcome.run.id)]
    header = ("provider", "grade", "window", "breaches", "proposed sanction")
    widths = [max(_width(r[i]) for r in (header, *rows)) for i in range(len(header))]
    return ["  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths)).rstrip() for r in (header, *rows)]


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


@click.command("evaluate")
@click.option("--as-of", "as_of", required=True, help="The evaluation day, YYYY-MM-DD (windows end at its local midnight).")
@click.option("--dry-run", is_flag=True, help="Evaluate and print; store nothing, notify no one.")
@click.option("--official", "official_phone", default=None, help="Phone of the official running it (audited).")
@with_appcontext
def evaluate_command(as_of: str, dry_run: bool, official_phone: str | None) -> None:
    """Evaluate every provider as of a day (idempotent), print a summary table."""
    from datetime import date

    import sqlalchemy as sa

    from app.extensions import db

    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD, e.g. 2026-11-01", param_hint="--as-of") from None
    actor = None
    if official_phone:
        actor = db.session.scalar(sa.select(User).where(User.phone == official_phone))
        if actor is None or not actor.is_official:
            raise click.ClickException(f"No official with phone {official_phone}.")
    try:
        with write_transaction(db.session):
            rule_set = rules.current(db.session)
            at = as_of_day(day, rule_set)
            if at > now():
                raise click.ClickException("The as-of day is in the future: its figures are not known yet.")
            outcome = run_evaluation(db.session, at, trigger="cli", actor=actor, dry_run=dry_run)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if outcome.evaluation is not None:
        rule_set = outcome.evaluation.rule_set
    if dry_run:
        click.echo(f"Dry run as of {day} (rule set v{rule_set.version}): nothing stored.")
    elif outcome.created:
        run = outcome.run
        click.echo(f"Run #{run.id} as of {day} (rule set v{rule_set.version}): {run.provider_count} provider(s), "
                   f"{run.breach_count} breach(es), {run.report_count} penalty report(s).")
    else:
        click.echo(f"Run #{outcome.run.id} as of {day} exists already: nothing changed.")
    for line in summary_lines(outcome, db.session):
        click.echo(line)
