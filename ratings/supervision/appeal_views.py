"""Provider pages of a penalty report's review and appeal, and evidence files.

``/provider/supervision/reports/<id>/appeal``: the decision so far, the appeal
window and the plan-of-action form (404 for another provider's report: no IDOR).
``/supervision/appeal-files/<id>``: an evidence file, for officials and the
appealing provider's staff only (404 for anyone else).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.access import login_required, provider_staff_required
from app.errors import Invalid, LinliError, Problems
from app.extensions import db
from app.models import Role
from app.uow import abort_or_show, form_action
from providers import uploads
from providers.registration import provider_of
from ratings.supervision import appeals, review
from ratings.supervision.reports import describe_limits, report_for, threshold_label
from ratings.supervision.sanction_forms import AppealForm

bp = Blueprint("appeals", __name__, template_folder="templates")


def render_appeal(report_id: int, form: AppealForm | None = None, status: int = 200):
    provider = provider_of(db.session, current_user)
    report = report_for(db.session, report_id, provider_id=provider.id)
    if report is None:
        abort(404)
    found = review.review_of(db.session, report.id)
    return render_template(
        "supervision/appeal.html", report=report, review=found if report.status.value != "proposed" else None,
        appeal=appeals.appeal_of(db.session, report.id), can_appeal=appeals.can_appeal(report, found),
        form=form or AppealForm(formdata=None), threshold_label=threshold_label, describe_limits=describe_limits,
    ), status


@bp.route("/provider/supervision/reports/<int:report_id>/appeal")
@provider_staff_required
def appeal_page(report_id: int):
    """The report's decision, its appeal window and the appeal form (404 for another provider's report)."""
    return render_appeal(report_id)


@bp.route("/provider/supervision/reports/<int:report_id>/appeal", methods=["POST"])
@provider_staff_required
def submit_appeal(report_id: int):
    """Submit a plan of action with evidence files; 404/409/422 with the message (nothing kept)."""
    form = AppealForm()
    provider = provider_of(db.session, current_user)
    if report_for(db.session, report_id, provider_id=provider.id) is None:
        abort(404)  # another provider's report: nothing of the request is read
    stored = []

    def discard_files():
        for item in stored:
            uploads.discard(item)

    with form_action(form, lambda status: render_appeal(report_id, form, status), show=abort_or_show(form, 404),
                     on_failure=discard_files):
        # Every problem at once: the files' (checked first, to keep the good ones out of the
        # way), then the plan's texts, shown together (appeals.plan_of).
        file_problems = Problems()
        uploads_given = [f for f in request.files.getlist("files") if f and f.filename]
        if len(uploads_given) > appeals.MAX_FILES:
            file_problems.add(_l("Attach at most %(n)d files.", n=appeals.MAX_FILES), field="files")
        else:
            for upload in uploads_given:
                try:
                    stored.append(uploads.save_document(upload.stream, upload.filename, field="files"))
                except Invalid as error:
                    file_problems.extend(error)
        texts = {"root_cause": form.root_cause.data, "corrective_actions": form.corrective_actions.data,
                 "preventive_steps": form.preventive_steps.data}
        if file_problems:
            appeals.plan_of(problems=file_problems, **texts)  # raises with the files' and the texts' problems
        appeals.submit(db.session, report_id, provider_id=provider.id, staff=current_user, files=stored, **texts)
    flash(_("Your appeal is submitted. An official who did not confirm the sanction will decide it."), "success")
    return redirect(url_for("appeals.appeal_page", report_id=report_id))


@bp.route("/supervision/appeal-files/<int:file_id>")
@login_required
def appeal_file(file_id: int):
    """An appeal's evidence file (officials, or the appealing provider's staff; 404 for anyone else)."""
    provider_id = None
    if current_user.role == Role.PROVIDER_STAFF:
        provider_id = provider_of(db.session, current_user).id
    elif not current_user.is_official:
        abort(404)
    try:
        found = appeals.appeal_file_for(db.session, file_id, current_user, provider_id)
    except LinliError:
        abort(404)
    path = uploads.document_path(found.stored_name)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=found.content_type, as_attachment=True, download_name=found.original_name,
                         max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response
