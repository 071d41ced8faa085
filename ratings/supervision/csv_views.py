"""The supervision lists as CSV files (``app.csv_export``): the same rows as the page for the
same query string (every row, not one page), localized headers, labels instead of codes,
amounts in yuan with two decimals, times in Asia/Shanghai.  Who may download: whoever may
see the page (officials; the league table is public)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import Blueprint
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from app.access import official_required, public
from app.csv_export import csv_response
from app.extensions import db
from app.i18n import format_local
from app.registry import fact_of
from providers.bookings.models import Booking
from ratings.supervision import exclusions, grade_reviews, league, reports, review, runs
from ratings.supervision.models import GRADE_LABELS, Grade, PenaltyReport, Sanction
from ratings.supervision.review_views import _int_arg, queue_filters
from ratings.supervision.sanction_models import PenaltyReview
from ratings.supervision.sanctions import SANCTIONED
from ratings.supervision.views import report_filters

bp = Blueprint("supervision_csv", __name__)


def when(at: datetime | None) -> str:
    """A time as the pages show it: Asia/Shanghai, to the minute."""
    return format_local(at) if at is not None else ""


def yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else (Decimal(fen) / 100).quantize(Decimal("0.01"))


def value_text(r: PenaltyReport) -> str:
    """A report's figure as the pages show it (supervision/_value.html)."""
    if r.denominator is not None:
        return f"{(r.value or 0) * 100:.1f}% ({r.count} / {r.denominator})"
    if r.value is not None:
        return f"{r.value:.2f} ({r.count})"
    return str(r.count)


@bp.route("/official/supervision/runs.csv")
@official_required
def runs_csv():
    """Every evaluation run, newest as-of first."""
    grades = list(Grade)
    header = [_("Run"), _("As of"), _("Rule set"), _("Started by"), _("Stored at"), _("Providers"), _("Breaches"),
              _("Penalty reports"), *(str(GRADE_LABELS[g]) for g in grades)]
    rows = ([run.id, when(run.as_of), f"v{run.rule_set.version}", runs.trigger_label(run.trigger), when(run.created_at),
             run.provider_count, run.breach_count, run.report_count,
             *((run.grade_counts or {}).get(g.value, 0) for g in grades)]
            for run in runs.runs(db.session, limit=None))
    return csv_response("evaluation-runs.csv", header, rows)


def _report_row(r: PenaltyReport) -> list:
    return [r.id, r.provider.name, reports.threshold_label(r.metric), value_text(r), reports.describe_limits(r.threshold),
            r.sanction_label, r.severity_label, r.status_label, when(r.run.as_of), when(r.created_at)]


@bp.route("/official/supervision/reports.csv")
@official_required
def reports_csv():
    """The penalty reports the list's filters select (``?status=&severity=&run=&provider=…``), oldest first."""
    items = db.session.scalars(reports.reports_query(**report_filters())).all()
    header = [_("Report"), _("Provider"), _("Figure"), _("Value"), _("Threshold"), _("Proposed"), _("Severity"),
              _("Status"), _("Evaluation"), _("Created at")]
    return csv_response("penalty-reports.csv", header, (_report_row(r) for r in items))


@bp.route("/official/supervision/queue.csv")
@official_required
def queue_csv():
    """The review queue for its status and filters, oldest first, with each review so far."""
    status, filters = queue_filters()
    items = review.queue(db.session, status=status, limit=None, **filters)
    header = [_("Report"), _("Provider"), _("Figure"), _("Sanction"), _("Severity"), _("Status"),
              _("First approval by"), _("Since")]
    rows = ([r.id, r.provider.name, reports.threshold_label(r.metric), rv.sanction_label if rv else r.sanction_label,
             r.severity_label, r.status_label, rv.first_official.name if rv else "", when(r.created_at)]
            for r, rv in items)
    return csv_response("penalty-review.csv", header, rows)


@bp.route("/official/supervision/sanctions.csv")
@official_required
def sanctions_csv():
    """Sanctions on record (confirmed, appealed, in effect), newest confirmation first, with the fine."""
    items = db.session.scalars(
        sa.select(PenaltyReview).join(PenaltyReview.report)
        .options(joinedload(PenaltyReview.report).joinedload(PenaltyReport.provider),
                 joinedload(PenaltyReview.first_official), joinedload(PenaltyReview.second_official))
        .where(PenaltyReport.status.in_(SANCTIONED))
        .order_by(PenaltyReview.confirmed_at.desc(), PenaltyReview.id.desc())).all()
    header = [_("Report"), _("Provider"), _("Figure"), _("Sanction"), _("Fine (yuan)"), _("Status"),
              _("Confirmed at"), _("Appeal until"), _("In effect since"), _("Suspended until"), _("Officials")]
    rows = ([rv.report_id, rv.report.provider.name, reports.threshold_label(rv.report.metric), rv.sanction_label,
             yuan(fact_of("supervision.fine_fen", rv)) if rv.sanction == Sanction.FINE else None,
             rv.report.status_label, when(rv.confirmed_at), when(rv.appeal_deadline), when(rv.effective_at),
             when(rv.suspended_until),
             "、".join(o.name for o in (rv.first_official, rv.second_official) if o is not None)]
            for rv in items)
    return csv_response("sanctions.csv", header, rows)


@bp.route("/grades.csv")
@public
def grades_csv():
    """The league table of published grades for ``?community=&category=``, best first."""
    run, rows = league.league(db.session, community_id=_int_arg("community"), category_id=_int_arg("category"))
    header = [_("Rank"), _("Provider"), _("Grade"), _("Average rating"), _("Number of ratings"), _("Bookings finished"),
              _("Evaluation")]
    body = ([i, row.provider.name, row.grade_label,
             round(row.rating_mean, 2) if row.rating_mean is not None else None, row.rating_count,
             row.finished_bookings, when(run.as_of)]
            for i, row in enumerate(rows, start=1))
    return csv_response("provider-grades.csv", header, body)


@bp.route("/official/supervision/grade-reviews.csv")
@official_required
def grade_reviews_csv():
    """Open grade-review requests, oldest first."""
    header = [_("Request"), _("Provider"), _("Evaluation"), _("Grade"), _("Reason"), _("Requested at")]
    rows = ([item.id, item.snapshot.provider.name, when(item.snapshot.run.as_of), str(GRADE_LABELS[item.snapshot.grade]),
             item.reason, when(item.requested_at)]
            for item in grade_reviews.queue(db.session))
    return csv_response("grade-reviews.csv", header, rows)


@bp.route("/official/supervision/exclusions.csv")
@official_required
def exclusions_csv():
    """Excluded bookings, newest first."""
    items = exclusions.exclusions(db.session, limit=None)
    bookings = {b.id: b for b in db.session.scalars(
        sa.select(Booking).options(joinedload(Booking.provider), joinedload(Booking.listing))
        .where(Booking.id.in_([e.booking_id for e in items])))} if items else {}
    header = [_("Booking"), _("Service"), _("Provider"), _("Status"), _("Why"), _("Reason"), _("By"), _("When")]
    rows = ([e.booking_id, bookings[e.booking_id].listing.title, bookings[e.booking_id].provider.name,
             bookings[e.booking_id].status_label, e.cause_label, e.reason, e.decided_by.name, when(e.created_at)]
            for e in items)
    return csv_response("excluded-bookings.csv", header, rows)
