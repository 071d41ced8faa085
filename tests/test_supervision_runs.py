"""Stored runs, penalty reports and the ladder, the CLI and the scheduled jobs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.errors import IllegalTransition
from app.extensions import db
from ratings.supervision import jobs, rules
from ratings.supervision.models import (
    EarlyWarning,
    EvaluationRun,
    Grade,
    PenaltyReport,
    ProviderSnapshot,
    ReportStatus,
    Sanction,
    Severity,
)
from ratings.supervision.reports import counted_earlier, ladder
from ratings.supervision.runs import run_evaluation
from tests import factories
from tests.conftest import START
from tests.rating_helpers import notifications
from tests.helpers import count
from tests.supervision_helpers import SHANGHAI, as_of, bookings, document, serving_provider, upheld


def late_provider():
    provider, listing, resident, staff = serving_provider()
    made = bookings(listing, resident, 50, late=6)
    return provider, made, staff


def test_a_run_stores_snapshots_reports_with_evidence_and_notifies():
    official = factories.official()
    provider, made, staff = late_provider()
    calm, listing, resident, _ = serving_provider()
    bookings(listing, resident, 25)
    outcome = run_evaluation(db.session, as_of(), trigger="cli")
    db.session.commit()
    run = outcome.run
    assert outcome.created and run.rule_set.version == 2
    assert run.provider_count >= 2 and run.breach_count >= 1
    snapshot = db.session.scalar(sa.select(ProviderSnapshot).where(ProviderSnapshot.run_id == run.id,
                                                                   ProviderSnapshot.provider_id == provider.id))
    assert snapshot.grade == Grade.QUALIFIED and snapshot.breaches == ["late"]
    assert snapshot.figures["late_bookings"] == 6 and snapshot.window_days == 90
    report = db.session.scalar(sa.select(PenaltyReport).where(PenaltyReport.provider_id == provider.id))
    assert (report.metric, report.count, report.denominator) == ("late", 6, 50)
    assert report.value == pytest.approx(0.12)
    assert report.threshold == {"min_count": 5, "rate_bp": 1000}
    assert report.proposed_sanction == Sanction.WARNING and report.ladder_step == 1
    assert report.severity == Severity.LOW and report.status == ReportStatus.PROPOSED
    assert report.evidence == {"booking": sorted(b.id for b in made[:6])}
    assert not db.session.scalar(sa.select(PenaltyReport).where(PenaltyReport.provider_id == calm.id))
    assert [n.params["threshold"] for n in notifications("supervision.report", staff.id)] == ["late"]
    assert notifications("supervision.reports_ready", official.id)[0].params["reports"] == run.report_count


def test_running_twice_for_the_same_as_of_changes_nothing():
    late_provider()
    first = run_evaluation(db.session, as_of(), trigger="cli")
    db.session.commit()
    before = (count(EvaluationRun), count(ProviderSnapshot), count(PenaltyReport))
    again = run_evaluation(db.session, as_of(), trigger="scheduler")
    db.session.commit()
    assert not again.created and again.run.id == first.run.id
    assert (count(EvaluationRun), count(ProviderSnapshot), count(PenaltyReport)) == before


def test_a_dry_run_stores_nothing():
    late_provider()
    outcome = run_evaluation(db.session, as_of(), trigger="cli", dry_run=True)
    assert outcome.run is None and outcome.proposals and outcome.proposals[0].sanction == Sanction.WARNING
    assert count(EvaluationRun) == 0 and count(PenaltyReport) == 0


def test_new_providers_get_no_reports():
    provider, listing, resident, _ = serving_provider(days=20)
    bookings(listing, resident, 20, late=10, first=START - timedelta(days=10))
    run_evaluation(db.session, as_of(), trigger="cli")
    assert count(PenaltyReport, PenaltyReport.provider_id == provider.id) == 0
    snapshot = db.session.scalar(sa.select(ProviderSnapshot).where(ProviderSnapshot.provider_id == provider.id))
    assert snapshot.grade == Grade.NEW


def monthly(provider_id: int, *days: date, confirm: bool = True) -> list[PenaltyReport]:
    """Run each month; with ``confirm`` an official confirms the new reports (only confirmed
    sanctions count on the ladder: reports.COUNTED)."""
    for day in days:
        run_evaluation(db.session, as_of(day), trigger="scheduler")
        if confirm:
            for report in db.session.scalars(sa.select(PenaltyReport).where(
                    PenaltyReport.provider_id == provider_id, PenaltyReport.status == ReportStatus.PROPOSED)):
                report.transition_to(ReportStatus.CONFIRMED)
        db.session.commit()
    return list(db.session.scalars(
        sa.select(PenaltyReport).join(EvaluationRun).where(PenaltyReport.provider_id == provider_id)
        .order_by(EvaluationRun.as_of)))


def test_the_whole_ladder_within_180_days():
    """An expired licence breaches every month: warning, fine, suspension, removal, removal."""
    provider, _listing, _resident, staff = serving_provider()
    document(provider, date(2026, 5, 31), uploaded_by=staff)
    reports = monthly(provider.id, *(date(2026, m, 1) for m in (7, 8, 9, 10, 11)))
    assert [r.proposed_sanction for r in reports] == [
        Sanction.WARNING, Sanction.FINE, Sanction.SUSPENSION, Sanction.REMOVAL, Sanction.REMOVAL]
    assert [r.ladder_step for r in reports] == [1, 2, 3, 4, 4]
    assert reports[0].evidence == {"document": [provider.documents[-1].id]}
    assert reports[3].severity == Severity.CRITICAL


def test_dismissed_reports_and_reports_older_than_180_days_do_not_count():
    provider, _listing, _resident, staff = serving_provider(days=600)
    document(provider, date(2025, 12, 31), uploaded_by=staff)
    first, = monthly(provider.id, date(2026, 1, 1))
    # 181 days later the January report has dropped off the ladder
    assert monthly(provider.id, date(2026, 7, 1))[-1].proposed_sanction == Sanction.WARNING
    second = monthly(provider.id, date(2026, 8, 1), confirm=False)[-1]
    assert second.proposed_sanction == Sanction.FINE
    second.transition_to(ReportStatus.DISMISSED)
    db.session.commit()
    assert monthly(provider.id, date(2026, 9, 1))[-1].proposed_sanction == Sanction.FINE
    assert counted_earlier(db.session, [provider.id], as_of(date(2026, 10, 1)), 180) == {provider.id: 2}


def test_several_breaches_in_one_evaluation_are_one_step():
    provider, made, _ = late_provider()
    for b in made[:3]:
        upheld(b, made[0].ends_at + timedelta(days=5))
    db.session.commit()
    reports = monthly(provider.id, date(2026, 11, 1))
    assert sorted(r.metric for r in reports) == ["complaints", "late"]
    assert {r.proposed_sanction for r in reports} == {Sanction.WARNING}
    complaints = next(r for r in reports if r.metric == "complaints")
    assert len(complaints.evidence["complaint"]) == 3
    assert db.session.scalar(sa.select(ProviderSnapshot.grade).where(
        ProviderSnapshot.provider_id == provider.id)) == Grade.UNQUALIFIED


def test_ladder_steps():
    assert [ladder(n) for n in range(6)] == [
        (1, Sanction.WARNING), (2, Sanction.FINE), (3, Sanction.SUSPENSION), (4, Sanction.REMOVAL),
        (4, Sanction.REMOVAL), (4, Sanction.REMOVAL)]


def test_report_state_machine_refuses_illegal_moves():
    provider, _made, _ = late_provider()
    report, = monthly(provider.id, date(2026, 11, 1), confirm=False)
    with pytest.raises(IllegalTransition):
        report.transition_to(ReportStatus.EFFECTIVE)
    report.transition_to(ReportStatus.CONFIRMED)
    report.transition_to(ReportStatus.APPEALED)
    report.transition_to(ReportStatus.OVERTURNED)
    with pytest.raises(IllegalTransition):
        report.transition_to(ReportStatus.CONFIRMED)


# --- The CLI -------------------------------------------------------------------------------


def test_cli_dry_run_then_run_then_rerun(app):
    provider, _made, _ = late_provider()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["evaluate", "--as-of", "2026-11-01", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "nothing stored" in dry.output and f"(#{provider.id})" in dry.output
    line = next(x for x in dry.output.splitlines() if f"(#{provider.id})" in x)
    assert "qualified" in line and "late" in line and "warning" in line
    assert count(EvaluationRun) == 0
    first = runner.invoke(args=["evaluate", "--as-of", "2026-11-01"])
    assert first.exit_code == 0, first.output
    assert "penalty report(s)" in first.output and count(EvaluationRun) == 1
    again = runner.invoke(args=["evaluate", "--as-of", "2026-11-01"])
    assert "exists already: nothing changed" in again.output
    assert count(EvaluationRun) == 1 and count(PenaltyReport, PenaltyReport.provider_id == provider.id) == 1
    assert next(x for x in again.output.splitlines() if f"(#{provider.id})" in x) == line


def test_cli_refuses_bad_and_future_days(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["evaluate", "--as-of", "2026-13-01"]).exit_code == 2
    future = runner.invoke(args=["evaluate", "--as-of", "2026-12-01"])
    assert future.exit_code == 1 and "future" in future.output
    assert count(EvaluationRun) == 0


# --- The jobs --------------------------------------------------------------------------------


def test_monthly_job_acts_only_on_the_evaluation_day_and_once(clock):
    from datetime import datetime

    late_provider()
    clock.set(datetime(2026, 11, 2, 3, tzinfo=SHANGHAI))
    assert jobs.monthly_evaluation(db.session) == 0 and count(EvaluationRun) == 0
    clock.set(datetime(2026, 12, 1, 0, 10, tzinfo=SHANGHAI))
    assert jobs.monthly_evaluation(db.session) >= 1
    run = db.session.scalar(sa.select(EvaluationRun))
    assert run.as_of == datetime(2026, 12, 1, tzinfo=SHANGHAI) and run.trigger == "scheduler"
    clock.set(datetime(2026, 12, 1, 5, 10, tzinfo=SHANGHAI))
    assert jobs.monthly_evaluation(db.session) == 0 and count(EvaluationRun) == 1


def test_early_warning_once_a_day_for_providers_close_to_a_threshold(clock):
    from datetime import datetime

    close, listing, resident, staff = serving_provider()
    bookings(listing, resident, 40, late=4)  # 10 %, 4 late: 80 % of the floor of 5, rate ≥ 8 %
    far, listing2, resident2, far_staff = serving_provider()
    bookings(listing2, resident2, 40, late=1)
    clock.set(datetime(2026, 11, 3, 8, tzinfo=SHANGHAI))
    assert jobs.early_warning(db.session) == 1
    assert jobs.early_warning(db.session) == 0  # same day: nothing more
    assert len(notifications("supervision.warning", staff.id)) == 1
    assert notifications("supervision.warning", far_staff.id) == []
    warning = db.session.scalar(sa.select(EarlyWarning))
    assert warning.provider_id == close.id and warning.metrics == ["late"]
    clock.set(datetime(2026, 11, 4, 8, tzinfo=SHANGHAI))
    assert jobs.early_warning(db.session) == 1
    assert count(EvaluationRun) == 0  # a warning is not an evaluation


def test_jobs_are_registered():
    from app.scheduler import registered_jobs

    names = {job.__name__ for job, _trigger in registered_jobs()}
    assert {"monthly_evaluation", "early_warning"} <= names


def test_rule_set_changes_are_used_by_the_next_run():
    official = factories.official()
    provider, _made, _ = late_provider()
    rules.create_version(db.session, official, {"late_rate_percent": "15"}, "放宽迟到率")
    outcome = run_evaluation(db.session, as_of(), trigger="cli")
    assert outcome.run.rule_set.version == 3
    assert count(PenaltyReport, PenaltyReport.provider_id == provider.id) == 0
