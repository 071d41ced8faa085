"""The scheduler process's jobs: registered, and each a single transaction."""

from datetime import timedelta

from app.scheduler import build_scheduler, registered_jobs
from providers.bookings.models import BookingStatus
from tests import factories


def test_jobs_are_registered_with_the_scheduler(app):
    scheduler = build_scheduler(app)
    names = {job.id for job in scheduler.get_jobs()}
    assert {"expire_requests", "auto_confirm"} <= names
    assert all(job.max_instances == 1 for job in scheduler.get_jobs())


def test_scheduler_once_expires_overdue_requests(app, db_session, clock):
    booking = factories.booking()
    clock.set(booking.respond_by + timedelta(minutes=1))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    assert "expire_requests: 1" in result.output
    db_session.refresh(booking)
    assert booking.status == BookingStatus.EXPIRED
    assert len(registered_jobs()) >= 2
