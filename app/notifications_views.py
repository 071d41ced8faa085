"""The notification centre: a user's notifications, newest first, and the unread count
shown in the header of every page."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import login_required
from app.auth.forms import EmptyForm
from app.auth.views import safe_next
from app.clock import now
from app.extensions import db
from app.notifications import Notification, mark_all_read, recent, unread_count
from app.uow import commit

bp = Blueprint("notifications", __name__)

SHOWN = 100


@bp.app_context_processor
def inject_unread_count():
    """``unread_notifications``: one COUNT query, for logged-in users only (else None)."""

    if not current_user or not current_user.is_authenticated:
        return {"unread_notifications": None}
    try:
        return {"unread_notifications": unread_count(db.session, current_user.id)}
    except sa.exc.SQLAlchemyError:  # e.g. rendering the error page of a failed transaction
        return {"unread_notifications": None}


@bp.route("/notifications")
@login_required
def index():
    """The user's latest notifications, newest first, unread ones marked (200)."""
    items = recent(db.session, current_user.id, limit=SHOWN)
    return render_template("notifications.html", notifications=items, form=EmptyForm(), shown=SHOWN)


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def read_all():
    """Mark every notification of the user read; back to the centre."""
    if EmptyForm().validate_on_submit():
        count = mark_all_read(db.session, current_user.id)
        commit(db.session)
        flash(_("All notifications are marked as read.") if count else _("There was nothing unread."), "success")
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/<int:notification_id>/open", methods=["POST"])
@login_required
def open_one(notification_id: int):
    """Mark one of the user's notifications read and go to what it is about (404 for others')."""
    note = db.session.scalar(
        sa.select(Notification).where(Notification.id == notification_id, Notification.user_id == current_user.id)
    )
    if note is None:
        abort(404)
    if EmptyForm().validate_on_submit():
        if note.read_at is None:
            note.read_at = now()
            commit(db.session)
        return redirect(safe_next(note.link, url_for("notifications.index")))
    return redirect(url_for("notifications.index"))
