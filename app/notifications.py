"""In-app notifications: every change that concerns a user leaves one here.

A notification stores its kind and parameters, not a rendered sentence, so it
reads in the language of whoever opens it.  Domains add them inside their own
transaction (a notification never exists without the change it reports).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, Session, mapped_column
from collections.abc import Mapping

from app.clock import now
from app.db import UTCDateTime
from app.extensions import db

MESSAGES = {
    "booking.requested": _l("New booking request #%(booking)s: %(title)s on %(when)s."),
    "booking.accepted": _l("Your booking #%(booking)s (%(title)s) was accepted."),
    "booking.declined": _l("Your booking #%(booking)s (%(title)s) was declined: %(reason)s"),
    "booking.expired": _l("Booking #%(booking)s (%(title)s) expired: the provider did not answer in time."),
    "booking.in_service": _l("The provider has arrived for booking #%(booking)s (%(title)s)."),
    "booking.completed": _l("Booking #%(booking)s (%(title)s) is done. Please confirm and rate it."),
    "booking.confirmed": _l("The resident confirmed booking #%(booking)s (%(title)s)."),
    "booking.cancelled_by_resident": _l("The resident cancelled booking #%(booking)s (%(title)s)."),
    "booking.cancelled_by_provider": _l("The provider cancelled your booking #%(booking)s (%(title)s): %(reason)s"),
    "booking.no_show_reported": _l("The resident reports that nobody came for booking #%(booking)s (%(title)s)."),
    "booking.no_show_provider": _l("Booking #%(booking)s (%(title)s) is recorded as a provider no-show."),
    "booking.no_show_resident": _l("Booking #%(booking)s (%(title)s) is recorded as: resident not there."),
    "rating.received": _l("You received a %(stars)s-star rating for booking #%(booking)s."),
    "rating.replied": _l("The provider replied to your rating of booking #%(booking)s."),
    "rating.hidden": _l("An official hid a rating of booking #%(booking)s: %(reason)s"),
    "complaint.filed": _l("A complaint (%(complaint_kind)s) was filed about booking #%(booking)s. Please respond within 48 hours."),
    "complaint.responded": _l("The provider responded to your complaint about booking #%(booking)s."),
    "complaint.decided": _l("The complaint about booking #%(booking)s was decided: %(outcome)s."),
    "supervision.report": _l("Evaluation of %(as_of)s: %(threshold)s over the threshold. Proposed sanction: %(sanction)s. An official will review it; you will be able to appeal."),
    "supervision.reports_ready": _l("Evaluation of %(as_of)s: %(reports)s penalty report(s) for %(providers)s provider(s) to review."),
    "supervision.warning": _l("Early warning: %(count)s of your figures are close to a supervision threshold. See your scorecard before the next evaluation."),
    "supervision.exclusion": _l("An official excluded booking #%(booking)s from your figures: %(reason)s"),
}


# Parameters stored as codes (a complaint's kind, a decision's outcome) and the
# labels to show for them, registered by the domain that owns the codes, so a
# notification reads in the language of whoever opens it.
PARAM_LABELS: dict[str, Mapping] = {}


def register_labels(param: str, labels: Mapping) -> None:
    PARAM_LABELS[param] = labels


def _display(param: str, value):
    if value is None:
        return ""
    labels = PARAM_LABELS.get(param)
    if labels is not None and value in labels:
        return str(labels[value])
    return value


class Notification(db.Model):
    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_user_unread", "user_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    link: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def message(self) -> str:
        template = MESSAGES.get(self.kind)
        if template is None:
            return self.kind
        params = {k: _display(k, v) for k, v in (self.params or {}).items()}
        try:
            return str(template) % params
        except (KeyError, TypeError, ValueError):
            return str(template)


def notify(session: Session, user_ids, kind: str, /, *, link: str | None = None, **params) -> None:
    """Queue a notification for each user (in the caller's transaction)."""
    if kind not in MESSAGES:
        raise ValueError(f"unknown notification kind {kind!r}")
    at = now()
    for user_id in dict.fromkeys(user_ids):
        session.add(Notification(user_id=user_id, kind=kind, params=params, link=link, created_at=at))
    session.flush()


def unread_count(session: Session, user_id: int) -> int:
    stmt = sa.select(sa.func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return session.scalar(stmt) or 0


def recent(session: Session, user_id: int, limit: int = 50) -> list[Notification]:
    stmt = (
        sa.select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def mark_all_read(session: Session, user_id: int) -> int:
    result = session.execute(
        sa.update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now())
    )
    return result.rowcount
