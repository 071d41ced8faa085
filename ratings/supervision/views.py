"""Supervision pages.

Officials: the rule set (current, history, new version), exclusions, runs
(list; one run with every provider's snapshot and grade), penalty reports
(list with filters; one report with its evidence).  Providers: their own
reports (``/provider/supervision/reports/<id>``, 404 for anyone else's) and
the supervision section of their scorecard (:func:`scorecard_section`).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.access import official_required, provider_staff_required
from app.extensions import db
from app.uow import form_action
from providers.bookings.models import Booking
from providers.models import QualificationDocument
from providers.registration import provider_of
from ratings.models import Complaint, Rating
from ratings.supervision import exclusions, grade_reviews, publication, reports, rules, runs
from ratings.supervision.forms import ExclusionForm, RuleSetForm
from ratings.supervision.sanctions import SANCTIONED
from ratings.supervision.sanctions import history as sanction_history
from ratings.supervision.models import (
    GRADE_LABELS,
    REPORT_STATUS_LABELS,
    SEVERITY_LABELS,
    EvaluationRun,
    PenaltyReport,
    ReportStatus,
    Severity,
)

bp = Blueprint("supervision", __name__, template_folder="templates")
PAGE = 200


def _helpers() -> dict:
    return {"grade_labels": GRADE_LABELS, "threshold_label": reports.threshold_label,
            "threshold_labels": reports.threshold_labels,
            "describe_limits": reports.describe_limits, "thresholds": rules.THRESHOLDS}


# --- The rule set ---------------------------------------------------------------------


def render_rules(form: RuleSetForm | None = None, status: int = 200):
    current = rules.current(db.session)
    if form is None:
        form = RuleSetForm(formdata=None, data={**{k: str(v) for k, v in rules.human(current).items()}})
    return render_template("supervision/rules.html", current=current, values=rules.human(current), form=form,
                           fields=rules.FIELDS, versions=rules.versions(db.session), **_helpers()), status


@bp.route("/official/supervision/rules")
@official_required
def rule_set():
    """The current rule set, its history and the form for a new version (200)."""
    return render_rules()


@bp.route("/official/supervision/rules", methods=["POST"])
@official_required
def save_rule_set():
    """Save a new version and redirect; 422 with the field's message for nonsense (nothing saved)."""
    form = RuleSetForm()
    with form_action(form, lambda status: render_rules(form, status)):
        rule_set = publication.create_draft(db.session, current_user, form.values(), form.note.data)
    flash(_("Rule set version %(v)d saved as a draft. Publish it to open the comment period.", v=rule_set.version),
          "success")
    return redirect(url_for("supervision.rule_set"))


# --- Exclusions ---------------------------------------------------------------------------


def render_exclusions(form: ExclusionForm | None = None, status: int = 200):
    items = exclusions.exclusions(db.session)
    bookings = {b.id: b for b in db.session.scalars(
        sa.select(Booking).options(joinedload(Booking.provider), joinedload(Booking.listing))
        .where(Booking.id.in_([e.booking_id for e in items])))} if items else {}
    return render_template("supervision/exclusions.html", form=form or ExclusionForm(formdata=None),
                           items=items, bookings=bookings), status


@bp.route("/official/supervision/exclusions")
@official_required
def exclusion_list():
    """Excluded bookings, newest first, and the form to exclude one (200)."""
    return render_exclusions()


@bp.route("/official/supervision/exclusions", methods=["POST"])
@official_required
def add_exclusion():
    """Exclude a booking and redirect; 404/409/422 with the message (nothing saved)."""
    form = ExclusionForm()
    with form_action(form, lambda status: render_exclusions(form, status)):
        exclusion = exclusions.exclude(db.session, current_user, form.booking_id.data, form.cause.data,
                                       form.reason.data)
    flash(_("Booking #%(n)d no longer counts against its provider.", n=exclusion.booking_id), "success")
    return redirect(url_for("supervision.exclusion_list"))


# --- Runs ------------------------------------------------------------------------------------


@bp.route("/official/supervision/runs")
@official_required
def run_list():
    """Evaluation runs, newest as-of first (200)."""
    return render_template("supervision/runs.html", items=runs.runs(db.session), trigger_label=runs.trigger_label,
                           **_helpers())


@bp.route("/official/supervision/runs/<int:run_id>")
@official_required
def run_detail(run_id: int):
    """One run: rule version, counts, every provider's snapshot and grade (404 unknown)."""
    run = db.session.get(EvaluationRun, run_id)
    if run is None:
        abort(404)
    items = db.session.scalars(reports.reports_query(run_id=run.id)).all()
    by_provider: dict[int, list[PenaltyReport]] = {}
    for item in items:
        by_provider.setdefault(item.provider_id, []).append(item)
    return render_template("supervision/run.html", run=run, snapshots=runs.snapshots(db.session, run.id),
                           reports_of=by_provider, **_helpers())


# --- Reports -------------------------------------------------------------------------------


def _filter(name: str, kind):
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        abort(404)


@bp.route("/official/supervision/reports")
@official_required
def report_list():
    """Penalty reports, oldest first; ``?status=&severity=&run=&provider=`` filter (404 bad filter)."""
    filters = report_filters()
    items = db.session.scalars(reports.reports_query(**filters).limit(PAGE)).all()
    return render_template("supervision/reports.html", items=items, status=filters["status"],
                           severity=filters["severity"], statuses=REPORT_STATUS_LABELS, severities=SEVERITY_LABELS,
                           query=query_of(filters), **_helpers())


def report_filters() -> dict:
    """The report list's filters from the query string (404 for a bad one); its CSV uses them too."""
    return {"status": _filter("status", ReportStatus), "severity": _filter("severity", Severity),
            "run_id": _filter("run", int), "provider_id": _filter("provider", int),
            "community_id": _filter("community", int), "category_id": _filter("category", int)}


def query_of(filters: dict) -> dict:
    """The filters as the query string carries them (for the CSV link)."""
    names = {"run_id": "run", "provider_id": "provider", "community_id": "community", "category_id": "category"}
    return {names.get(k, k): getattr(v, "value", v) for k, v in filters.items() if v is not None}


def evidence_rows(report: PenaltyReport) -> dict[str, list]:
    """The objects behind a report's evidence ids (one statement per kind)."""
    ids = report.evidence or {}
    out: dict[str, list] = {}
    if ids.get("booking"):
        out["booking"] = list(db.session.scalars(
            sa.select(Booking).options(joinedload(Booking.listing)).where(Booking.id.in_(ids["booking"]))
            .order_by(Booking.starts_at)))
    if ids.get("complaint"):
        out["complaint"] = list(db.session.scalars(
            sa.select(Complaint).where(Complaint.id.in_(ids["complaint"])).order_by(Complaint.decided_at)))
    if ids.get("rating"):
        out["rating"] = list(db.session.scalars(
            sa.select(Rating).where(Rating.id.in_(ids["rating"])).order_by(Rating.created_at)))
    if ids.get("document"):
        out["document"] = list(db.session.scalars(
            sa.select(QualificationDocument).where(QualificationDocument.id.in_(ids["document"]))))
    return out


def render_report(report: PenaltyReport, *, official: bool):
    return render_template("supervision/report.html", report=report, rows=evidence_rows(report),
                           reasons=reports.visit_reasons(db.session, report), official_view=official, **_helpers())


@bp.route("/official/supervision/reports/<int:report_id>")
@official_required
def report_detail(report_id: int):
    """One report with its metric, threshold, proposed sanction and evidence (404 unknown)."""
    report = reports.report_for(db.session, report_id)
    if report is None:
        abort(404)
    return render_report(report, official=True)


@bp.route("/provider/supervision/reports/<int:report_id>")
@provider_staff_required
def my_report(report_id: int):
    """One of the caller's provider's reports (404 for another provider's: no IDOR)."""
    provider = provider_of(db.session, current_user)
    report = reports.report_for(db.session, report_id, provider_id=provider.id)
    if report is None:
        abort(404)
    return render_report(report, official=False)


def scorecard_section(provider_id: int) -> dict:
    """What the scorecard page shows about supervision: the latest grade and the reports
    (two statements, whatever the number of reports)."""
    items = db.session.scalars(reports.reports_query(provider_id=provider_id).limit(50)).all()
    snapshot = runs.latest_snapshot(db.session, provider_id)
    changed = grade_reviews.changed_grades(db.session, [snapshot.id]) if snapshot else {}
    return {
        "snapshot": snapshot,
        # An official's change on review (ratings/supervision/grade_reviews.py), else None.
        "changed_grade": GRADE_LABELS[changed[snapshot.id]] if snapshot and snapshot.id in changed else None,
        "reports": items,
        # Review half (ratings/supervision/sanctions.py); no statement when nothing was confirmed.
        "sanctions": sanction_history(db.session, provider_id) if any(r.status in SANCTIONED for r in items) else [],
        "grade_labels": GRADE_LABELS,
        "threshold_label": reports.threshold_label,
        "threshold_labels": reports.threshold_labels,
    }
