"""The review/appeal/sanction JSON API (under ``/api/v1/supervision``, beside :mod:`.api`).

Officials: the review queue, confirm (or change) and dismiss, decide an appeal,
the dashboard figures.  Provider staff: read their own report's review and
appeal, and appeal it (another provider's report is a 404: no IDOR).  Everyone:
the league table of published grades.  Evidence files are uploaded on the
appeal page, or through the API as multipart ``files`` once the plan of action (JSON) is in.
"""

from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from app.access import OFFICIAL_ROLES
from app.api import AUTHENTICATED, PUBLIC, Blueprint, problems, require_user, unit_of_work
from app.errors import NotFound
from app.extensions import db
from app.models import Role
from app.registry import fact_of
from providers import uploads
from providers.api_schemas import ProviderRefSchema
from providers.registration import provider_of
from ratings.supervision import appeals, dashboard as dash, league as league_service, review
from ratings.supervision.models import ReportStatus, Sanction, Severity
from ratings.supervision.reports import report_for
from ratings.supervision.sanction_models import AppealOutcome

sanctions_blp = Blueprint(
    "sanctions_api", __name__, url_prefix="/api/v1/supervision",
    description="Supervision: review of penalty reports, appeals, sanctions, the league table and the dashboard",
)

READERS = (Role.PROVIDER_STAFF, *OFFICIAL_ROLES)
CALLERS = {"get_review": READERS, "appeal": (Role.PROVIDER_STAFF,), "appeal_files": (Role.PROVIDER_STAFF,),
           "grades": None}


@sanctions_blp.before_request
def _check_caller():
    """401/403 before anything is parsed (the league table is public)."""
    name = (request.endpoint or "").rsplit(".", 1)[-1]
    roles = CALLERS.get(name, OFFICIAL_ROLES)
    if roles is not None:
        require_user(*roles)


def _values(enum) -> list[str]:
    return [m.value for m in enum]


class ReviewSchema(Schema):
    sanction = fields.String(metadata={"enum": _values(Sanction)})
    reason = fields.String(allow_none=True)
    first_official_id = fields.Integer()
    second_official_id = fields.Integer(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)
    appeal_deadline = fields.DateTime(allow_none=True, metadata={"description": "End of the 7th local day."})
    effective_at = fields.DateTime(allow_none=True)
    fine_fen = fields.Integer(allow_none=True)
    suspended_until = fields.DateTime(allow_none=True)

    def get_attribute(self, obj, attr, default):
        if attr == "fine_fen":  # a fine is billing's: it answers (app/registry.py), else none
            return fact_of("supervision.fine_fen", obj)
        return super().get_attribute(obj, attr, default)


class AppealSchema(Schema):
    id = fields.Integer()
    root_cause = fields.String()
    corrective_actions = fields.String()
    preventive_steps = fields.String()
    submitted_at = fields.DateTime()
    files = fields.List(fields.String(), metadata={"description": "Names of the evidence files."})
    outcome = fields.String(allow_none=True, metadata={"enum": _values(AppealOutcome)})
    decision_reason = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class ReportReviewSchema(Schema):
    report_id = fields.Integer()
    provider = fields.Nested(ProviderRefSchema)
    metric = fields.String()
    proposed_sanction = fields.String(metadata={"enum": _values(Sanction)})
    severity = fields.String(metadata={"enum": _values(Severity)})
    status = fields.String(metadata={"enum": _values(ReportStatus)})
    created_at = fields.DateTime()
    awaiting_second_approval = fields.Boolean()
    review = fields.Nested(ReviewSchema, allow_none=True)
    appeal = fields.Nested(AppealSchema, allow_none=True)


class QueueQuerySchema(Schema):
    status = fields.String(load_default=ReportStatus.PROPOSED.value,
                           validate=validate.OneOf(_values(ReportStatus)))
    severity = fields.String(load_default=None, validate=validate.OneOf(_values(Severity)))
    community_id = fields.Integer(load_default=None)
    category_id = fields.Integer(load_default=None)


class ConfirmInputSchema(Schema):
    sanction = fields.String(load_default=None, metadata={"enum": _values(Sanction),
                                                          "description": "Omit to confirm the proposed one."})
    reason = fields.String(load_default="", metadata={"description": "Required when the sanction is changed."})


class DismissInputSchema(Schema):
    reason = fields.String(required=True)


class AppealInputSchema(Schema):
    root_cause = fields.String(required=True)
    corrective_actions = fields.String(required=True)
    preventive_steps = fields.String(required=True)


class AppealFilesInputSchema(Schema):
    files = fields.List(Upload(), required=True, metadata={"description": "PDF, JPEG or PNG; 5 per appeal in all."})


class AppealDecisionInputSchema(Schema):
    outcome = fields.String(required=True, metadata={"enum": _values(AppealOutcome)})
    reason = fields.String(required=True)


class LeagueQuerySchema(Schema):
    community_id = fields.Integer(load_default=None)
    category_id = fields.Integer(load_default=None)


class LeagueRowSchema(Schema):
    provider = fields.Nested(ProviderRefSchema)
    grade = fields.String()
    rating_mean = fields.Float(allow_none=True)
    rating_count = fields.Integer()
    finished_bookings = fields.Integer()


class LeagueSchema(Schema):
    as_of = fields.DateTime(allow_none=True)
    rows = fields.List(fields.Nested(LeagueRowSchema))


class DashboardSchema(Schema):
    reports_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    months = fields.List(fields.String())
    sanctions_by_month = fields.Dict(keys=fields.String(), values=fields.List(fields.Integer()))
    providers_by_grade = fields.Dict(keys=fields.String(), values=fields.Integer())


def _body(report, found=None, appeal=None) -> dict:
    found = found if found is not None else review.review_of(db.session, report.id)
    appeal = appeal if appeal is not None else appeals.appeal_of(db.session, report.id)
    appeal_body = None
    if appeal is not None:
        appeal_body = {key: getattr(appeal, key) for key in ("id", "root_cause", "corrective_actions",
                                                             "preventive_steps", "submitted_at", "outcome",
                                                             "decision_reason", "decided_at")}
        appeal_body["files"] = [f.original_name for f in appeal.files]
    return {"report_id": report.id, "provider": report.provider, "metric": report.metric,
            "proposed_sanction": report.proposed_sanction, "severity": report.severity, "status": report.status,
            "created_at": report.created_at, "awaiting_second_approval": review.awaiting_second(found, report),
            "review": found, "appeal": appeal_body}


@sanctions_blp.route("/queue")
@sanctions_blp.doc(security=AUTHENTICATED)
@sanctions_blp.arguments(QueueQuerySchema, location="query")
@sanctions_blp.response(200, ReportReviewSchema(many=True))
@problems(sanctions_blp, 401, 403, 422)
def queue(args):
    """Reports to review, oldest first, filtered by status, community, category, severity (officials)."""
    items = review.queue(db.session, status=ReportStatus(args["status"]), community_id=args["community_id"],
                         category_id=args["category_id"],
                         severity=Severity(args["severity"]) if args["severity"] else None)
    return [_body(report, found) for report, found in items]


@sanctions_blp.route("/reports/<int:report_id>/review")
@sanctions_blp.doc(security=AUTHENTICATED)
@sanctions_blp.response(200, ReportReviewSchema)
@problems(sanctions_blp, 401, 403, 404)
def get_review(report_id: int):
    """A report's review and appeal (provider staff: their own provider's only, else 404)."""
    user = require_user(*READERS)
    own = provider_of(db.session, user).id if user.role == Role.PROVIDER_STAFF else None
    report = report_for(db.session, report_id, provider_id=own)
    if report is None:
        raise NotFound(_l("No such penalty report."))
    return _body(report)


@sanctions_blp.route("/reports/<int:report_id>/confirm", methods=["POST"])
@sanctions_blp.doc(security=AUTHENTICATED)
@sanctions_blp.arguments(ConfirmInputSchema)
@sanctions_blp.response(200, ReportReviewSchema)
@problems(sanctions_blp, 400, 401, 403, 404, 409, 422)
def confirm(body, report_id: int):
    """Confirm (or change with a reason) a proposed report; a removal needs two different officials (audited)."""
    user = require_user(*OFFICIAL_ROLES)
    with unit_of_work():
        review.confirm(db.session, report_id, user, sanction=body["sanction"], reason=body["reason"])
    return _body(report_for(db.session, report_id))


@sanctions_blp.route("/reports/<int:report_id>/dismiss", methods=["POST"])
@sanctions_blp.doc(security=AUTHENTICATED)
@sanctions_blp.arguments(DismissInputSchema)
@sanctions_blp.response(200, ReportReviewSchema)
@problems(sanctions_blp, 400, 401, 403, 404, 409, 422)
def dismiss(body, report_id: int):
    """Dismiss a proposed report with a reason (officials; audited)."""
    user = require_user(*OFFICIAL_ROLES)
    with unit_of_work():
        review.dismiss(db.session, report_id, user, reason=body["reason"])
    return _body(report_for(db.session, report_id))


@sanctions_blp.route("/reports/<int:report_id>/appeal", methods=["POST"])
@sanctions_blp.doc(security=AUTHENTICATED)
@sanctions_blp.arguments(AppealInputSchema)
@sanctions_blp.response(201, ReportReviewSchema)
@problems(sanctions_blp, 400, 401, 403, 404, 409, 422)
def appeal(body, report_id: int):
    """Appeal the caller's provider's confirmed report within 7 days with a plan of action (404 for another's)."""
    user = require_user(Role.PROVIDER_STAFF)
    provider = provider_of(db.session, user)
    with unit_of_work():
        appeals.submit(db.session, report_id, provider_id=provider.id, staff=user, **body)
    return _body(report_for(db.session, report_id))


@sanctions_blp.route("/reports/<int:report_id>/appeal/files", methods=["POST"])
@sanctions_blp.doc(security=AUTHENTICATED)
@sanctions_blp.arguments(AppealFilesInputSchema, location="files")
@sanctions_blp.response(201, ReportReviewSchema)
@problems(sanctions_blp, 400, 401, 403, 404, 409, 422)
def appeal_files(data, report_id: int):
    """Add evidence files (multipart ``files``; PDF, JPEG, PNG; 5 in all) to the caller's undecided appeal."""
    user = require_user(Role.PROVIDER_STAFF)
    provider = provider_of(db.session, user)
    stored = []
    try:
        for upload in request.files.getlist("files"):
            stored.append(uploads.save_document(upload.stream, upload.filename, field="files"))
        with unit_of_work():
            appeals.add_files(db.session, report_id, provider_id=provider.id, staff=user, files=stored)
    except Exception:
        for item in stored:
            uploads.discard(item)
        raise
    return _body(report_for(db.session, report_id))


@sanctions_blp.route("/reports/<int:report_id>/appeal-decision", methods=["POST"])
@sanctions_blp.doc(security=AUTHENTICATED)
@sanctions_blp.arguments(AppealDecisionInputSchema)
@sanctions_blp.response(200, ReportReviewSchema)
@problems(sanctions_blp, 400, 401, 403, 404, 409, 422)
def decide_appeal(body, report_id: int):
    """Uphold (overturn) or reject (sanction takes effect) an appeal; not by an approving official."""
    user = require_user(*OFFICIAL_ROLES)
    with unit_of_work():
        appeals.decide(db.session, report_id, user, outcome=body["outcome"], reason=body["reason"])
    return _body(report_for(db.session, report_id))


@sanctions_blp.route("/grades")
@sanctions_blp.doc(security=PUBLIC)
@sanctions_blp.arguments(LeagueQuerySchema, location="query")
@sanctions_blp.response(200, LeagueSchema)
@problems(sanctions_blp, 422)
def grades(args):
    """The league table: published grades of the latest evaluation, per community and category (public)."""
    run, rows = league_service.league(db.session, community_id=args["community_id"],
                                      category_id=args["category_id"])
    return {"as_of": run.as_of if run else None, "rows": rows}


@sanctions_blp.route("/dashboard")
@sanctions_blp.doc(security=AUTHENTICATED)
@sanctions_blp.response(200, DashboardSchema)
@problems(sanctions_blp, 401, 403)
def dashboard():
    """Reports by status, sanctions per month by kind, providers by grade (officials)."""
    statuses = dict(db.session.execute(
        db.select(review.PenaltyReport.status, db.func.count()).group_by(review.PenaltyReport.status)).all())
    months, series = dash.sanctions_by_month(db.session)
    run = league_service.latest_run(db.session)
    return {"reports_by_status": {s.value: int(statuses.get(s, 0)) for s in ReportStatus}, "months": months,
            "sanctions_by_month": series, "providers_by_grade": dict(run.grade_counts or {}) if run else {}}
