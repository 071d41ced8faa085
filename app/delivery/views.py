"""The outbox's pages: the user's channel choices, and the outbox with its dead letters
for officials and administrators."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app import audit
from app.access import login_required, official_required
from app.auth.forms import EmptyForm
from app.delivery.forms import OutboxFilterForm, PreferencesForm
from app.delivery.models import OutboxMessage, OutboxStatus
from app.delivery.outbox import retry_dead
from app.delivery.preferences import preference_of, set_preferences
from app.delivery.templates import is_secret, masked, render
from app.extensions import db
from app.uow import form_action

bp = Blueprint("delivery", __name__)

SHOWN = 200

STATUS_LABELS = {
    OutboxStatus.PENDING: _l("Waiting"),
    OutboxStatus.SENDING: _l("Sending"),
    OutboxStatus.SENT: _l("Delivered"),
    OutboxStatus.DEAD: _l("Dead letter"),
    OutboxStatus.EXPIRED: _l("Expired"),
}
CHANNEL_LABELS = {"sms": _l("SMS"), "email": _l("Email")}


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def preferences():
    """The user's channels for notifications beside the in-app centre (200; 422 with the errors)."""
    pref = preference_of(db.session, current_user.id)
    form = PreferencesForm(obj=pref)

    def page(status: int = 200):
        return render_template("delivery/preferences.html", form=form), status

    if request.method == "POST" and form.validate_on_submit():
        with form_action(form, page):
            set_preferences(db.session, current_user, sms=form.sms.data, email=form.email.data,
                            email_address=form.email_address.data)
        flash(_("Your notification choices are saved."), "success")
        return redirect(url_for("delivery.preferences"))
    return page(422 if form.errors else 200)


def preview(message: OutboxMessage) -> str:
    """The text as sent, or as it will be sent (in the recipient's language), with any code
    it carries masked: an official reading the outbox never sees a log-in or reset code."""
    if message.rendered and not is_secret(message.template):
        return message.rendered
    try:
        return render(message.template, masked(message.template, message.params), message.language).text
    except Exception:  # a template that no longer renders: the worker will say why
        return message.template


@bp.route("/official/outbox")
@official_required
def outbox():
    """The latest outbox messages of every channel, newest first; ``?status=dead`` for the dead letters."""
    form = OutboxFilterForm(request.args)
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(SHOWN)
    status = form.status.data if form.validate() else ""
    if status:
        stmt = stmt.where(OutboxMessage.status == OutboxStatus(status))
    counts = dict(db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)).all())
    messages = db.session.scalars(stmt).all()
    return render_template(
        "delivery/outbox.html", messages=messages, previews={m.id: preview(m) for m in messages}, form=form,
        counts=counts,
        status_labels=STATUS_LABELS, channel_labels=CHANNEL_LABELS, shown=SHOWN, empty_form=EmptyForm(),
        OutboxStatus=OutboxStatus,
    )


@bp.route("/official/outbox/<int:message_id>/retry", methods=["POST"])
@official_required
def retry(message_id: int):
    """Send a dead letter again (a new round of attempts); back to the dead letters."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    back = redirect(url_for("delivery.outbox", status="dead"))
    if not EmptyForm().validate_on_submit():
        return back
    with form_action(None, lambda status: back):
        retry_dead(db.session, message)
        audit.record(db.session, actor=current_user, action="outbox.retry", object_type="outbox_message",
                     object_id=message.id, before={"status": "dead"}, after={"status": "pending"})
    flash(_("The message will be sent again."), "success")
    return back
