"""Visit reminders: 24 hours and 1 hour before an accepted visit, to the resident (by the
channels they chose, app/delivery/preferences.py) and to the carer named on it (by SMS).

The job runs every five minutes and enqueues a reminder only once its moment has come
(so a visit cancelled before then gets none), while the visit is still accepted, and
not later than half its lead (a visit accepted two hours ahead gets the one-hour
reminder, not a "tomorrow" one).  Each reminder's deduplication key names the visit
(``reminder-24h-<booking>``, ``…-carer``, ``…-email``), so re-runs and overlapping
schedulers send it once.  It expires when the visit starts: held by the quiet hours
or the daily limit past that, it is dropped.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from app.clock import local, now
from app.delivery.outbox import enqueue
from app.delivery.preferences import addresses_of
from app.models import User
from providers.bookings.models import Booking, BookingStatus

# (name, lead before the visit, template)
REMINDERS = (("24h", timedelta(hours=24), "reminder_24h"), ("1h", timedelta(hours=1), "reminder_1h"))


def send_visit_reminders(session: Session) -> int:
    """Enqueue the visit reminders now due (24 h and 1 h before); returns how many were due
    (each is enqueued once, whatever the number of runs)."""
    at = now()
    count = 0
    for name, lead, template in REMINDERS:
        bookings = session.scalars(
            sa.select(Booking).options(selectinload(Booking.listing))
            .where(Booking.status == BookingStatus.ACCEPTED,
                   Booking.starts_at <= at + lead, Booking.starts_at > at + lead / 2)
            .order_by(Booking.id)
        ).all()
        for booking in bookings:
            params = {"service": booking.listing.title, "time": local(booking.starts_at).strftime("%H:%M"),
                      "booking": booking.id}
            resident = session.get(User, booking.resident_id)
            key = f"reminder-{name}-{booking.id}"
            for channel, recipient in addresses_of(session, resident):
                enqueue(session, channel=channel, recipient=recipient, template=template, params=params,
                        dedup_key=key if channel == "sms" else f"{key}-{channel}", language=resident.locale,
                        user_id=resident.id, expires_at=booking.starts_at)
                count += 1
            carer = booking.carer if booking.carer_id else None
            if carer is not None and carer.phone:
                enqueue(session, channel="sms", recipient=carer.phone, template=template, params=params,
                        dedup_key=f"{key}-carer", language="zh", expires_at=booking.starts_at)
                count += 1
    return count


# --- respond-by reminders to the provider's staff ----------------------------------------------

# A request still unanswered this long before its respond-by time reminds the provider's staff.
RESPOND_BY_LEAD = timedelta(hours=1)


def send_respond_by_reminders(session: Session) -> int:
    """Remind each staff member of a provider (by the channels they chose) of a booking request
    still unanswered within ``RESPOND_BY_LEAD`` of its respond-by time, once
    (``respond-by-<booking>-<user>``), and only past half the time the provider had to answer
    (a request made with less than two hours to answer is not reminded at once).  A request
    answered, cancelled or expired before that moment gets none; held past its respond-by
    time (quiet hours, the daily limit) it is dropped."""
    from providers.bookings.services import staff_ids

    at = now()
    requests = session.scalars(
        sa.select(Booking).options(selectinload(Booking.listing))
        .where(Booking.status == BookingStatus.REQUESTED, Booking.respond_by > at,
               Booking.respond_by <= at + RESPOND_BY_LEAD)
        .order_by(Booking.id)
    ).all()
    count = 0
    for booking in requests:
        if at < booking.requested_at + (booking.respond_by - booking.requested_at) / 2:
            continue
        params = {"booking": booking.id, "service": booking.listing.title,
                  "time": local(booking.respond_by).strftime("%H:%M")}
        for user_id in staff_ids(session, booking.provider_id):
            staff = session.get(User, user_id)
            key = f"respond-by-{booking.id}-{user_id}"
            for channel, recipient in addresses_of(session, staff):
                enqueue(session, channel=channel, recipient=recipient, template="respond_by_reminder",
                        params=params, dedup_key=key if channel == "sms" else f"{key}-{channel}",
                        language=staff.locale, user_id=staff.id, expires_at=booking.respond_by)
                count += 1
    return count
