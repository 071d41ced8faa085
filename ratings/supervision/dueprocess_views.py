"""Due-process pages: the statement of reasons of a penalty report, and grade reviews.

``/supervision/reports/<id>/statement``: the statement as a Markdown download, for the
report's provider's staff and officials (404 for anyone else: no IDOR).
``/provider/supervision/grades``: the provider's grades, each with its review deadline and a
request form; ``/official/supervision/grade-reviews``: the open requests, each with a
decision form.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import login_required, official_required, provider_staff_required
from app.extensions import db
from app.models import Role
from app.uow import form_action
from providers.registration import provider_of
from ratings.supervision import grade_reviews, reasons, reports
from ratings.supervision.dueprocess_forms import GradeDecisionForm, GradeReviewForm
from ratings.supervision.models import GRADE_LABELS
from ratings.supervision.views import evidence_rows

bp = Blueprint("dueprocess", __name__, template_folder="templates")


@bp.route("/supervision/reports/<int:report_id>/statement")
@login_required
def statement(report_id: int):
    """The statement of reasons as ``text/markdown`` (the report's provider's staff and officials; else 404)."""
    provider_id = None
    if current_user.role == Role.PROVIDER_STAFF:
        provider_id = provider_of(db.session, current_user).id
    elif not current_user.is_official:
        abort(404)
    report = reports.report_for(db.session, report_id, provider_id=provider_id)
    if report is None:
        abort(404)
    facts = reasons.statement(db.session, report)
    text = render_template("supervision/statement.md.html", s=facts, r=report, rows=evidence_rows(report),
                           threshold_label=reports.threshold_label, describe_limits=reports.describe_limits)
    response = Response(text, mimetype="text/markdown")
    response.headers["Content-Disposition"] = f'attachment; filename="{facts.filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- Grade reviews: the provider --------------------------------------------------------------


def render_grades(form: GradeReviewForm | None = None, status: int = 200, failed: int | None = None):
    provider = provider_of(db.session, current_user)
    grades = grade_reviews.grades_of(db.session, provider.id)
    reviews = grade_reviews.reviews_of(db.session, provider.id)
    return render_template(
        "supervision/grades.html", grades=grades, reviews=reviews, grade_labels=GRADE_LABELS,
        deadline=grade_reviews.review_deadline, reviewed=lambda s: GRADE_LABELS[grade_reviews.reviewed_grade(s, reviews)],
        waiting={r.snapshot_id for r in reviews if r.is_open}, form=form, failed=failed,
        blank=GradeReviewForm(formdata=None),
    ), status


@bp.route("/provider/supervision/grades")
@provider_staff_required
def my_grades():
    """The provider's grades with their review deadlines and the request form (200)."""
    return render_grades()


@bp.route("/provider/supervision/grades/<int:snapshot_id>/review", methods=["POST"])
@provider_staff_required
def request_review(snapshot_id: int):
    """Ask for a human review of a grade; 404 another provider's, 409 one waiting, 422 late or no reason."""
    form = GradeReviewForm()
    provider = provider_of(db.session, current_user)
    with form_action(form, lambda status: render_grades(form, status, failed=snapshot_id), reraise=(404,)):
        grade_reviews.request_review(db.session, current_user, provider.id, snapshot_id, form.reason.data)
    flash(_("Your request is sent. An official will look at the grade again and tell you the decision."), "success")
    return redirect(url_for("dueprocess.my_grades"))


# --- Grade reviews: officials -----------------------------------------------------------------


def render_queue(form: GradeDecisionForm | None = None, status: int = 200, failed: int | None = None):
    return render_template("supervision/grade_reviews.html", items=grade_reviews.queue(db.session),
                           grade_labels=GRADE_LABELS, form=form, failed=failed,
                           blank=GradeDecisionForm(formdata=None)), status


@bp.route("/official/supervision/grade-reviews")
@official_required
def review_queue():
    """Open grade-review requests, oldest first, each with a decision form (200)."""
    return render_queue()


@bp.route("/official/supervision/grade-reviews/<int:review_id>/decide", methods=["POST"])
@official_required
def decide_review(review_id: int):
    """Uphold or change a grade with a reason; 404 unknown, 409 decided, 422 with the field at fault."""
    form = GradeDecisionForm()
    with form_action(form, lambda status: render_queue(form, status, failed=review_id), reraise=(404,)):
        grade_reviews.decide(db.session, current_user, review_id, form.outcome.data, form.reason.data,
                             new_grade=form.new_grade.data)
    flash(_("The decision is recorded and the provider is told."), "success")
    return redirect(url_for("dueprocess.review_queue"))
