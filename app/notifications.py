"""In-app notifications: every change that concerns a user leaves one here.

A notification stores its kind and parameters, not a rendered sentence, so it
reads in the language of whoever opens it.  Domains add them inside their own
transaction (a notification never exists without the change it reports).

Each notification is also copied to the channels its user chose (SMS by
default, email on request: app/delivery/preferences.py) as outbox rows in the
same transaction, which the delivery worker sends after commit.

The shell's own kinds are below; each domain registers its kinds and parameter
labels from its ``init_app`` (``registry().notifications(...)``, app/registry.py),
not as a side effect of importing a module.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column
from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

from app.clock import now
from app.delivery.templates import Template
from app.delivery.templates import register as register_template
from app.db import UTCDateTime
from app.extensions import db

# Kind → translatable text.  Empty in the shell: every domain registers its own kinds.
MESSAGES: dict[str, object] = {}


# Parameters stored as codes (a complaint's kind, a decision's outcome) and the
# labels to show for them, registered by the domain that owns the codes, so a
# notification reads in the language of whoever opens it.
PARAM_LABELS: dict[str, Mapping] = {}


def register_labels(param: str, labels: Mapping) -> None:
    PARAM_LABELS[param] = labels


def register_kinds(kinds: Mapping) -> None:
    """Add notification kinds (kind → translatable text); a kind keeps one text."""
    for kind, text in kinds.items():
        if MESSAGES.get(kind, text) is not text:
            raise ValueError(f"notification kind {kind!r} registered twice with different texts")
        MESSAGES[kind] = text


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


def _notice_variables(params: Mapping) -> dict:
    note = Notification(kind=params.get("kind", ""), params=params.get("params") or {})
    return {"message": note.message}


# The outbox's template for a notification copied to SMS/email (app/delivery/templates.py).
register_template(Template("notice", _l("Linli notification"), _l("Linli: %(message)s"), _notice_variables))


def notify(session: Session, user_ids, kind: str, /, *, link: str | None = None, **params) -> None:
    """Queue a notification for each user (in the caller's transaction), and its copy
    by SMS/email per each user's preferences (outbox rows, sent after commit)."""
    from app.delivery.preferences import copy_to_channels

    if kind not in MESSAGES:
        raise ValueError(f"unknown notification kind {kind!r}")
    at = now()
    notes = [Notification(user_id=user_id, kind=kind, params=params, link=link, created_at=at)
             for user_id in dict.fromkeys(user_ids)]
    session.add_all(notes)
    session.flush()
    copy_to_channels(session, notes)


def unread_count(session: Session, user_id: int) -> int:
    stmt = sa.select(sa.func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return session.scalar(stmt) or 0


def recent(session: Session, user_id: int, limit: int = 50) -> list[Notification]:
    """The user's latest notifications, newest first by when they happened (a row written
    later may be about something earlier: a loaded or replayed event); ties by id."""
    stmt = (
        sa.select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
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
