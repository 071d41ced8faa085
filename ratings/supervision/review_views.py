"""Pages of the review half of supervision.

Officials: the review queue (``/official/supervision/queue``, filter by
community, category, severity; oldest first), one report's decision page with
its forms (confirm / change the sanction, dismiss, decide an appeal), and the
supervision dashboard.  Everyone: the league table of published grades
(``/grades``).  Each POST commits once; a refusal rolls back and shows the
message with its 4xx status.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.access import official_required, public
from app.extensions import db
from app.uow import abort_or_show, form_action
from providers import catalogue
from ratings.supervision import appeals, dashboard as dash, league as league_service, review
from ratings.supervision.models import REPORT_STATUS_LABELS, SEVERITY_LABELS, PenaltyReport, ReportStatus, Severity
from ratings.supervision.reports import describe_limits, threshold_label
from ratings.supervision.sanction_forms import AppealDecisionForm, ConfirmForm, DismissForm

bp = Blueprint("sanctions", __name__, template_folder="templates")
QUEUE_TABS = (ReportStatus.PROPOSED, ReportStatus.CONFIRMED, ReportStatus.APPEALED)


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        abort(404)


def _enum_arg(name: str, kind, default=None):
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        abort(404)


@bp.route("/official/supervision/queue")
@official_required
def review_queue():
    """Reports to review (proposed by default; ``?status=confirmed|appealed``), oldest first (404 bad filter)."""
    status, filters = queue_filters()
    items = review.queue(db.session, status=status, **filters)
    return render_template("supervision/queue.html", items=items, status=status, tabs=QUEUE_TABS,
                           statuses=REPORT_STATUS_LABELS, severities=SEVERITY_LABELS, filters=filters,
                           communities=catalogue.communities(db.session), categories=catalogue.categories(db.session),
                           threshold_label=threshold_label, awaiting_second=review.awaiting_second,
                           query={k: getattr(v, "value", v) for k, v in (
                               ("status", status), ("community", filters["community_id"]),
                               ("category", filters["category_id"]), ("severity", filters["severity"]))
                               if v is not None})


def queue_filters() -> tuple[ReportStatus, dict]:
    """The review queue's status and filters from the query string (404 for a bad one); its CSV's too."""
    status = _enum_arg("status", ReportStatus, ReportStatus.PROPOSED)
    return status, {"community_id": _int_arg("community"), "category_id": _int_arg("category"),
                    "severity": _enum_arg("severity", Severity)}


def render_decide(report_id: int, *, confirm_form=None, dismiss_form=None, appeal_form=None, status: int = 200):
    report = db.session.get(PenaltyReport, report_id)
    if report is None:
        abort(404)
    found = review.review_of(db.session, report.id)
    return render_template(
        "supervision/decide.html", report=report, review=found, appeal=appeals.appeal_of(db.session, report.id),
        confirm_form=confirm_form or ConfirmForm(formdata=None, data={"sanction": (found.sanction if found else
                                                                                   report.proposed_sanction).value}),
        dismiss_form=dismiss_form or DismissForm(formdata=None),
        appeal_form=appeal_form or AppealDecisionForm(formdata=None),
        awaiting_second=review.awaiting_second(found, report), threshold_label=threshold_label,
        describe_limits=describe_limits,
        # Four eyes: a form the official may not submit is not offered; the page says why.
        confirm_refusal=review.second_approval_refusal(found, current_user),
        dismiss_refusal=review.second_approval_refusal(found, current_user, dismissing=True),
        appeal_refusal=appeals.decider_refusal(found, current_user),
    ), status


@bp.route("/official/supervision/reports/<int:report_id>/decide")
@official_required
def decide(report_id: int):
    """One report with its review so far and the decisions an official can take (404 unknown)."""
    return render_decide(report_id)


def _decision(report_id: int, form, form_name: str, action):
    """Run one official decision on a report, commit it and return its result; a refusal rolls
    back and answers the decide page again with the message on ``form`` (404 for an unknown report)."""
    with form_action(form, lambda status: render_decide(report_id, **{form_name: form}, status=status),
                     show=abort_or_show(form, 404)):
        result = action()
    return result


@bp.route("/official/supervision/reports/<int:report_id>/confirm", methods=["POST"])
@official_required
def confirm(report_id: int):
    """Confirm (or change and confirm; first approval of a removal); 404/409/422 with the message."""
    form = ConfirmForm()
    found = _decision(report_id, form, "confirm_form", lambda: review.confirm(
        db.session, report_id, current_user, sanction=form.sanction.data, reason=form.reason.data))
    if found.confirmed_at is None:
        flash(_("First approval recorded. A second official must approve the removal."), "success")
    else:
        flash(_("Report #%(n)d confirmed: %(s)s. The provider may appeal within 7 days.", n=report_id,
                s=found.sanction_label), "success")
    return redirect(url_for("sanctions.decide", report_id=report_id))


@bp.route("/official/supervision/reports/<int:report_id>/dismiss", methods=["POST"])
@official_required
def dismiss(report_id: int):
    """Dismiss with a reason; 404/409/422 with the message."""
    form = DismissForm()
    _decision(report_id, form, "dismiss_form", lambda: review.dismiss(
        db.session, report_id, current_user, reason=form.reason.data))
    flash(_("Report #%(n)d dismissed.", n=report_id), "success")
    return redirect(url_for("sanctions.decide", report_id=report_id))


@bp.route("/official/supervision/reports/<int:report_id>/appeal-decision", methods=["POST"])
@official_required
def decide_appeal(report_id: int):
    """Uphold or reject the appeal (an official who did not approve the sanction); 404/409/422."""
    form = AppealDecisionForm()
    appeal = _decision(report_id, form, "appeal_form", lambda: appeals.decide(
        db.session, report_id, current_user, outcome=form.outcome.data, reason=form.reason.data))
    flash(_("Appeal decided: %(outcome)s.", outcome=appeal.outcome_label), "success")
    return redirect(url_for("sanctions.decide", report_id=report_id))


@bp.route("/official/supervision/dashboard")
@official_required
def dashboard():
    """Reports by status, sanctions over time, providers by grade, as inline SVG charts (200)."""
    data = dash.dashboard(db.session)
    charts = {
        "status": dash.bar_chart(data.by_status, title=_("Penalty reports by status")),
        "sanctions": dash.stacked_chart(data.months, data.sanctions, title=_("Sanctions in effect per month")),
        "grades": dash.bar_chart(data.by_grade, title=_("Providers by grade in the latest evaluation"),
                                 colour="#2f855a"),
    }
    return render_template("supervision/dashboard.html", data=data, charts=charts)


@bp.route("/grades")
@public
def league_table():
    """The league table of published grades, per community and category (404 bad filter)."""
    community_id, category_id = _int_arg("community"), _int_arg("category")
    run, rows = league_service.league(db.session, community_id=community_id, category_id=category_id)
    return render_template("supervision/league.html", run=run, rows=rows, community_id=community_id,
                           category_id=category_id, communities=catalogue.communities(db.session),
                           categories=catalogue.categories(db.session))
