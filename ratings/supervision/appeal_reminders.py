"""The appeal deadline, reminded to a sanctioned provider: ``APPEAL_REMINDER_LEAD`` (48 hours)
before the appeal window of a confirmed penalty report closes, each of the provider's staff
gets one message by the channels they chose (``appeal-deadline-<report>-<user>``), through
the outbox (app/delivery).  Only while the report is still confirmed and unappealed: a report
appealed or dismissed before then gets none.  Held past the deadline (quiet hours, the daily
limit) the message is dropped.  The job runs every 15 minutes; re-runs add nothing.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import local, now
from app.delivery.outbox import enqueue
from app.delivery.preferences import addresses_of
from app.models import User
from providers.bookings.services import staff_ids
from ratings.supervision.models import PenaltyReport, ReportStatus
from ratings.supervision.sanction_models import PenaltyReview

APPEAL_REMINDER_LEAD = timedelta(hours=48)


def send_appeal_deadline_reminders(session: Session) -> int:
    """Enqueue the appeal-deadline reminders now due; returns how many (each once, whatever the runs)."""
    at = now()
    rows = session.execute(
        sa.select(PenaltyReport, PenaltyReview).join(PenaltyReview, PenaltyReview.report_id == PenaltyReport.id)
        .where(PenaltyReport.status == ReportStatus.CONFIRMED, PenaltyReview.appeal_deadline > at,
               PenaltyReview.appeal_deadline <= at + APPEAL_REMINDER_LEAD)
        .order_by(PenaltyReport.id)
    ).all()
    count = 0
    for report, review in rows:
        # The notice's convention: the last minute of the window (…23:59 of the 7th day).
        deadline = (local(review.appeal_deadline) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
        for user_id in staff_ids(session, report.provider_id):
            staff = session.get(User, user_id)
            key = f"appeal-deadline-{report.id}-{user_id}"
            for channel, recipient in addresses_of(session, staff):
                enqueue(session, channel=channel, recipient=recipient, template="appeal_deadline",
                        params={"report": report.id, "deadline": deadline},
                        dedup_key=key if channel == "sms" else f"{key}-{channel}", language=staff.locale,
                        user_id=staff.id, expires_at=review.appeal_deadline)
                count += 1
    return count
