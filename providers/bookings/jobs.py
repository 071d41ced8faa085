"""Scheduled booking jobs (run by the scheduler process, each in one transaction)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from providers.bookings import services


def expire_requests(session: Session) -> int:
    """Expire requests nobody answered by their respond-by time."""
    return services.expire_overdue_requests(session)


def auto_confirm(session: Session) -> int:
    """Confirm completed bookings the resident left unconfirmed for 72 hours."""
    return services.auto_confirm_completed(session)


# (job, APScheduler trigger arguments)
JOBS = [
    (expire_requests, {"trigger": "interval", "minutes": 1}),
    (auto_confirm, {"trigger": "interval", "minutes": 15}),
]
