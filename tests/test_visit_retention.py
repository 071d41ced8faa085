"""Issue 13, privacy: raw check-in and check-out coordinates are dropped
VISIT_LOCATION_RETENTION_DAYS (180) days after check-out; distances, accuracy and
verdicts stay, and so does the consented home.  Batched and idempotent."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.registry import registry
from app.scheduler import registered_jobs
from providers.visits import home, jobs
from providers.visits.geo import Position, home_of
from providers.visits.models import LocationMethod, VerifiedBy, VisitRecord
from tests.visit_office_helpers import HOME, served_visit

DAYS = 180


def record(booking_id: int) -> VisitRecord:
    db.session.expire_all()
    return db.session.get(VisitRecord, booking_id)


def coordinates(row: VisitRecord) -> tuple:
    return row.check_in_lat, row.check_in_lon, row.check_out_lat, row.check_out_lon


def test_coordinates_go_after_the_retention_period_and_the_verdicts_stay(app, clock):
    booking, _staff = served_visit(clock, verified_at=clock.now(), verified_by=VerifiedBy.CODE)
    home.set_home(db.session, booking.resident, booking.resident, Position(*HOME), LocationMethod.ENTERED,
                  consent=True)
    db.session.commit()
    assert app.config["VISIT_LOCATION_RETENTION_DAYS"] == DAYS
    clock.set(booking.completed_at + timedelta(days=DAYS) - timedelta(minutes=1))
    assert jobs.drop_old_coordinates(db.session) == 0
    assert None not in coordinates(record(booking.id))
    clock.set(booking.completed_at + timedelta(days=DAYS, minutes=1))
    assert jobs.drop_old_coordinates(db.session) == 1
    db.session.commit()
    row = record(booking.id)
    assert coordinates(row) == (None, None, None, None)
    assert row.coordinates_dropped_at == clock.now()
    assert (row.check_in_distance_m, row.check_out_distance_m, row.check_in_accuracy_m) == (14, 14, 12.0)
    assert (row.verified_by, row.check_in_device is not None) == (VerifiedBy.CODE, True)
    assert (home_of(db.session, booking.resident_id).lat, home_of(db.session, booking.resident_id).lon) == HOME


def test_a_second_run_changes_nothing(clock):
    booking, _staff = served_visit(clock)
    clock.set(booking.completed_at + timedelta(days=DAYS + 1))
    assert jobs.drop_old_coordinates(db.session) == 1
    db.session.commit()
    dropped_at = record(booking.id).coordinates_dropped_at
    clock.advance(days=1)
    assert jobs.drop_old_coordinates(db.session) == 0
    assert record(booking.id).coordinates_dropped_at == dropped_at


def test_many_visits_go_in_batches_and_recent_ones_stay(clock):
    old = [served_visit(clock)[0] for _ in range(3)]
    clock.set(old[-1].completed_at + timedelta(days=DAYS + 1))
    recent, _staff = served_visit(clock)
    assert jobs.drop_old_coordinates(db.session, batch=2) == 3
    db.session.commit()
    assert all(coordinates(record(b.id)) == (None,) * 4 for b in old)
    assert None not in coordinates(record(recent.id))


def test_a_visit_never_checked_out_counts_from_its_check_in(clock):
    booking, _staff = served_visit(clock)
    db.session.execute(sa.update(type(booking)).where(type(booking).id == booking.id).values(completed_at=None))
    db.session.commit()
    clock.set(booking.checked_in_at + timedelta(days=DAYS, minutes=5))
    assert jobs.drop_old_coordinates(db.session) == 1


def test_the_job_is_registered_with_the_scheduler(app):
    assert jobs.drop_old_coordinates in [fn for fn, _trigger in registered_jobs(app)]
    [job] = [job for job in registry(app).jobs if job.fn is jobs.drop_old_coordinates]
    assert job.trigger["trigger"] == "cron"


def test_the_command_runs_the_job_now(app, clock):
    booking, _staff = served_visit(clock)
    clock.set(booking.completed_at + timedelta(days=DAYS + 1))
    result = app.test_cli_runner().invoke(args=["drop-visit-coordinates"])
    assert result.exit_code == 0 and result.output.strip() == "1 visit records"
    assert record(booking.id).coordinates_dropped_at is not None
