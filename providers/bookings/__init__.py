"""Bookings: slots and capacity, the booking state machine, deadlines and lateness."""

from __future__ import annotations


def init_app(app) -> None:
    from app.registry import registry
    from providers.bookings import jobs, schedule, staff_views, views  # noqa: F401  (staff_views: routes on views.bp)
    from providers.bookings.api import bookings_blp
    from providers.bookings.notifications import NOTIFICATIONS

    found = registry(app)
    found.models("providers.bookings.models")
    found.notifications(NOTIFICATIONS)
    found.pages(views.bp, schedule.bp)
    found.api(bookings_blp)
    found.jobs_from(jobs.JOBS)
    from providers.bookings.reminders import send_respond_by_reminders, send_visit_reminders

    found.job(send_visit_reminders, trigger="interval", minutes=5)  # the outbox sends them (app/delivery)
    found.job(send_respond_by_reminders, trigger="interval", minutes=5)
