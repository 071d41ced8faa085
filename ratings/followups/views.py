"""The follow-up call queue (``/follow-ups``): officials see every open call, an
evaluator the calls of the programmes that appointed them.  Showing a resident's
phone number is a POST (logged); recording a result commits once and redirects.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, TextAreaField

from app.access import OFFICIAL_ROLES, roles_required
from app.extensions import db
from app.models import Role
from app.uow import form_action
from ratings.followups import calls
from ratings.followups.models import CALL_OUTCOME_LABELS, CallOutcome, SampleReason

bp = Blueprint("follow_ups", __name__, template_folder="templates")

callers_required = roles_required(*OFFICIAL_ROLES, Role.EVALUATOR)

REASON_LABELS = {SampleReason.SAMPLED: _l("Sampled"), SampleReason.FLAGGED: _l("Flagged visit")}


class RecordCallForm(FlaskForm):
    """What the resident said on the phone."""

    outcome = RadioField(_l("What the resident said"), choices=[(o.value, CALL_OUTCOME_LABELS[o]) for o in CallOutcome],
                         validate_choice=False)
    satisfaction = SelectField(_l("Satisfaction (1 to 5; not needed when unreachable)"),
                               choices=[("", "—")] + [(str(n), str(n)) for n in range(5, 0, -1)],
                               validate_choice=False)
    note = TextAreaField(_l("Note"))


class RevealPhoneForm(FlaskForm):
    """Show the resident's phone number (the view is logged)."""


def render_queue(*, failed: RecordCallForm | None = None, failed_booking: int | None = None,
                 revealed: dict[int, str] | None = None, status: int = 200):
    queue = calls.queue_for(db.session, current_user)
    forms, reveal_forms = {}, {}
    for call in queue:
        prefix = f"call-{call.booking_id}"
        forms[call.id] = failed if failed is not None and call.booking_id == failed_booking else \
            RecordCallForm(formdata=None, prefix=prefix)
        reveal_forms[call.id] = RevealPhoneForm(formdata=None, prefix=f"phone-{call.booking_id}")
    return render_template(
        "follow_ups/queue.html", queue=queue, forms=forms, reveal_forms=reveal_forms, revealed=revealed or {},
        masked_phone=calls.masked_phone, reason_labels=REASON_LABELS,
    ), status


@bp.route("/follow-ups")
@callers_required
def queue():
    """The open calls the user may work (200)."""
    return render_queue()


@bp.route("/follow-ups/visits/<int:booking_id>/phone", methods=["POST"])
@callers_required
def reveal_phone(booking_id: int):
    """The queue with this call's phone number shown; the view is logged (404 when the
    visit is not in the user's queue)."""
    with form_action(None, lambda status: render_queue(status=status), reraise=(404,)):
        call = calls.call_for_visit(db.session, current_user, booking_id)
        phone = calls.reveal_phone(db.session, call, current_user)
    return render_queue(revealed={call.id: phone})


@bp.route("/follow-ups/visits/<int:booking_id>/record", methods=["POST"])
@callers_required
def record(booking_id: int):
    """Record one try of the call and return to the queue; a refusal (a missing
    satisfaction, 422; a call already done, 409) re-renders the queue with the message
    beside the field and changes nothing; 404 for a visit not in the user's queue."""
    form = RecordCallForm(prefix=f"call-{booking_id}")
    with form_action(form, lambda status: render_queue(failed=form, failed_booking=booking_id, status=status),
                     reraise=(404,)):
        call = calls.call_for_visit(db.session, current_user, booking_id, for_update=True)
        calls.record_call(db.session, call, current_user, outcome=form.outcome.data,
                          satisfaction=form.satisfaction.data, note=form.note.data or "")
    if call.outcome is None:
        flash(_("Unreachable: the call stays in the queue for another try (%(n)d so far).", n=call.attempts), "success")
    else:
        flash(_("Recorded for visit #%(booking)s: %(outcome)s.", booking=booking_id, outcome=call.outcome_label),
              "success")
    return redirect(url_for("follow_ups.queue"))


@bp.route("/follow-ups.csv")
@callers_required
def queue_csv():
    """The open calls the user may work, as the queue lists them (phone numbers masked), as CSV."""
    from app.csv_export import csv_response
    from app.i18n import format_local

    header = [_("Visit"), _("Service"), _("Provider"), _("Visit time"), _("Why it is called"), _("Tries so far"),
              _("Resident"), _("Phone"), _("Queued at")]
    rows = ([c.booking_id, c.booking.listing.title, c.booking.provider.name, format_local(c.booking.starts_at),
             str(REASON_LABELS[c.reason]), c.attempts, c.booking.resident.name, calls.masked_phone(c),
             format_local(c.created_at)] for c in calls.queue_for(db.session, current_user))
    return csv_response("follow-up-calls.csv", header, rows)
