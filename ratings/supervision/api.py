"""The supervision JSON API (under ``/api/v1/supervision``).

Officials: the rule set (current, versions, a new version), exclusions, runs,
evaluate (``dry_run`` stores nothing), penalty reports.  Provider staff may
read their own provider's penalty reports only (another provider's is a 404).
Refusals are problem documents naming the field (:mod:`app.errors`).
"""

from __future__ import annotations

from datetime import date

from flask import request
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate

from app.access import OFFICIAL_ROLES
from app.api import AUTHENTICATED, Blueprint, problems, require_user, unit_of_work
from app.db import write_transaction
from app.errors import NotFound
from app.extensions import db
from app.models import Role
from providers.api_schemas import ProviderRefSchema
from providers.registration import provider_of
from ratings.supervision import exclusions, publication, reports, rules, runs
from ratings.supervision.models import EvaluationRun, ExclusionCause, Grade, ReportStatus, Sanction, Severity

supervision_blp = Blueprint(
    "supervision_api", __name__, url_prefix="/api/v1/supervision",
    description="Supervision: the rule set, exclusions, evaluation runs and penalty reports",
)

READERS = (Role.PROVIDER_STAFF, *OFFICIAL_ROLES)
CALLERS = {"list_reports": READERS, "get_report": READERS}


@supervision_blp.before_request
def _check_caller():
    """401/403 before anything is parsed."""
    name = (request.endpoint or "").rsplit(".", 1)[-1]
    require_user(*CALLERS.get(name, OFFICIAL_ROLES))


def _values(enum) -> list[str]:
    return [m.value for m in enum]


# --- Schemas -------------------------------------------------------------------------------


def _rule_field(f: rules.Field, *, load: bool):
    meta = {"description": str(f.label)}
    if f.kind == "zone":
        return fields.String(metadata=meta)
    if f.kind in ("percent", "score"):
        if load:  # taken as it comes, so "120" gets the service's own message
            return fields.Raw(metadata={**meta, "type": "number"})
        return fields.Decimal(as_string=True, metadata=meta)
    if load:
        return fields.Raw(metadata={**meta, "type": "integer"})
    return fields.Integer(metadata=meta)


RuleValuesSchema = Schema.from_dict({f.name: _rule_field(f, load=False) for f in rules.FIELDS}, name="RuleValues")


class RuleSetSchema(Schema):
    id = fields.Integer()
    version = fields.Integer()
    created_at = fields.DateTime()
    created_by_id = fields.Integer(allow_none=True)
    note = fields.String()
    publication = fields.String(metadata={"enum": ["draft", "published", "withdrawn"]})
    published_at = fields.DateTime(allow_none=True)
    comment_until = fields.DateTime(allow_none=True)
    effective_from = fields.DateTime(allow_none=True)
    rules = fields.Nested(RuleValuesSchema)


RuleSetInputSchema = Schema.from_dict(
    {**{f.name: _rule_field(f, load=True) for f in rules.FIELDS},
     "note": fields.String(required=True, metadata={"description": "What changed and why (audited)."})},
    name="RuleSetInput",
)


def _rule_set_body(rule_set) -> dict:
    return {"id": rule_set.id, "version": rule_set.version, "created_at": rule_set.created_at,
            "created_by_id": rule_set.created_by_id, "note": rule_set.note,
            "publication": rule_set.publication.value, "published_at": rule_set.published_at,
            "comment_until": rule_set.comment_until, "effective_from": rule_set.effective_from,
            "rules": rules.human(rule_set)}


class ExclusionInputSchema(Schema):
    booking_id = fields.Raw(required=True, metadata={"type": "integer"})
    cause = fields.String(required=True, metadata={"enum": _values(ExclusionCause)})
    reason = fields.String(required=True)


class ExclusionSchema(Schema):
    id = fields.Integer()
    booking_id = fields.Integer()
    cause = fields.String()
    reason = fields.String()
    decided_by_id = fields.Integer()
    created_at = fields.DateTime()


class SnapshotSchema(Schema):
    provider = fields.Nested(ProviderRefSchema)
    grade = fields.String(metadata={"enum": _values(Grade)})
    active_since = fields.DateTime()
    window_start = fields.DateTime()
    window_end = fields.DateTime(metadata={"description": "Exclusive (local midnight of the as-of day)."})
    window_days = fields.Integer()
    figures = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))
    breaches = fields.List(fields.String())
    near = fields.List(fields.String())


class RunSchema(Schema):
    id = fields.Integer()
    as_of = fields.DateTime()
    rule_set_version = fields.Integer(attribute="rule_set.version")
    trigger = fields.String()
    created_at = fields.DateTime()
    provider_count = fields.Integer()
    breach_count = fields.Integer()
    report_count = fields.Integer()
    grade_counts = fields.Dict(keys=fields.String(), values=fields.Integer())


class RunDetailSchema(RunSchema):
    snapshots = fields.List(fields.Nested(SnapshotSchema))


class EvaluateInputSchema(Schema):
    as_of = fields.Date(required=True, metadata={"description": "The evaluation day (windows end at its local midnight)."})
    dry_run = fields.Boolean(load_default=False)


class ProposalSchema(Schema):
    provider_id = fields.Integer()
    threshold = fields.String()
    count = fields.Integer()
    value = fields.Float(allow_none=True)
    sanction = fields.String(metadata={"enum": _values(Sanction)})


class EvaluationSchema(Schema):
    created = fields.Boolean(metadata={"description": "False: dry run, or the as-of day was evaluated already."})
    dry_run = fields.Boolean()
    run = fields.Nested(RunSchema, allow_none=True)
    results = fields.List(fields.Nested(SnapshotSchema))
    proposals = fields.List(fields.Nested(ProposalSchema))


class ReportSchema(Schema):
    id = fields.Integer()
    run_id = fields.Integer()
    provider = fields.Nested(ProviderRefSchema)
    metric = fields.String(metadata={"enum": list(rules.THRESHOLDS)})
    value = fields.Float(allow_none=True)
    count = fields.Integer()
    denominator = fields.Integer(allow_none=True)
    threshold = fields.Dict(keys=fields.String(), values=fields.Integer())
    window_start = fields.DateTime()
    window_end = fields.DateTime()
    ladder_step = fields.Integer()
    proposed_sanction = fields.String(metadata={"enum": _values(Sanction)})
    severity = fields.String(metadata={"enum": _values(Severity)})
    status = fields.String(metadata={"enum": _values(ReportStatus)})
    evidence = fields.Dict(keys=fields.String(), values=fields.List(fields.Integer()),
                           metadata={"description": "Ids of the bookings, complaints, ratings or documents behind it."})
    created_at = fields.DateTime()


class ReportQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(_values(ReportStatus)))
    severity = fields.String(load_default=None, validate=validate.OneOf(_values(Severity)))
    run_id = fields.Integer(load_default=None)
    provider_id = fields.Integer(load_default=None)
    community_id = fields.Integer(load_default=None)
    category_id = fields.Integer(load_default=None)


# --- Rule set ----------------------------------------------------------------------------


@supervision_blp.route("/rule-set")
@supervision_blp.doc(security=AUTHENTICATED)
@supervision_blp.response(200, RuleSetSchema)
@problems(supervision_blp, 401, 403)
def current_rule_set():
    """The current rule set version (officials)."""
    return _rule_set_body(rules.current(db.session))


@supervision_blp.route("/rule-sets")
@supervision_blp.doc(security=AUTHENTICATED)
@supervision_blp.response(200, RuleSetSchema(many=True))
@problems(supervision_blp, 401, 403)
def list_rule_sets():
    """Every version, newest first (officials)."""
    return [_rule_set_body(v) for v in rules.versions(db.session)]


@supervision_blp.route("/rule-sets", methods=["POST"])
@supervision_blp.doc(security=AUTHENTICATED)
@supervision_blp.arguments(RuleSetInputSchema)
@supervision_blp.response(201, RuleSetSchema)
@problems(supervision_blp, 400, 401, 403, 409, 422)
def create_rule_set(body):
    """Save a new version as a DRAFT: the one in force with the fields given (422 names a nonsense field).
    It applies to nothing until published (ratings/supervision/publication.py)."""
    user = require_user(*OFFICIAL_ROLES)
    note = body.pop("note")
    with unit_of_work():
        rule_set = publication.create_draft(db.session, user, body, note)
    return _rule_set_body(rule_set)


# --- Exclusions --------------------------------------------------------------------------


@supervision_blp.route("/exclusions")
@supervision_blp.doc(security=AUTHENTICATED)
@supervision_blp.response(200, ExclusionSchema(many=True))
@problems(supervision_blp, 401, 403)
def list_exclusions():
    """Excluded bookings, newest first (officials)."""
    return exclusions.exclusions(db.session)


@supervision_blp.route("/exclusions", methods=["POST"])
@supervision_blp.doc(security=AUTHENTICATED)
@supervision_blp.arguments(ExclusionInputSchema)
@supervision_blp.response(201, ExclusionSchema)
@problems(supervision_blp, 400, 401, 403, 404, 409, 422)
def create_exclusion(body):
    """Exclude a booking from every figure, with a cause and a reason (officials; audited)."""
    user = require_user(*OFFICIAL_ROLES)
    with unit_of_work():
        return exclusions.exclude(db.session, user, body["booking_id"], body["cause"], body["reason"])


# --- Runs and evaluate ----------------------------------------------------------------------


def _snapshot_body(s) -> dict:
    return {"provider": s.provider, "grade": s.grade, "active_since": s.active_since, "window_start": s.window_start,
            "window_end": s.window_end, "window_days": s.window_days, "figures": s.figures,
            "breaches": s.breaches, "near": s.near}


def _run_body(run) -> dict:
    return {key: getattr(run, key) for key in ("id", "as_of", "rule_set", "trigger", "created_at", "provider_count",
                                               "breach_count", "report_count", "grade_counts")}


@supervision_blp.route("/runs")
@supervision_blp.doc(security=AUTHENTICATED)
@supervision_blp.response(200, RunSchema(many=True))
@problems(supervision_blp, 401, 403)
def list_runs():
    """Evaluation runs, newest as-of first (officials)."""
    return runs.runs(db.session)


@supervision_blp.route("/runs/<int:run_id>")
@supervision_blp.doc(security=AUTHENTICATED)
@supervision_blp.response(200, RunDetailSchema)
@problems(supervision_blp, 401, 403, 404)
def get_run(run_id: int):
    """One run with every provider's snapshot (officials)."""
    run = db.session.get(EvaluationRun, run_id)
    if run is None:
        raise NotFound(_l("No such evaluation run."))
    return {**_run_body(run), "snapshots": [_snapshot_body(s) for s in runs.snapshots(db.session, run.id)]}


@supervision_blp.route("/evaluate", methods=["POST"])
@supervision_blp.doc(security=AUTHENTICATED)
@supervision_blp.arguments(EvaluateInputSchema)
@supervision_blp.response(200, EvaluationSchema)
@problems(supervision_blp, 400, 401, 403, 422)
def evaluate(body):
    """Evaluate as of a day: stored once (``created``), or only computed with ``dry_run`` (officials)."""
    user = require_user(*OFFICIAL_ROLES)
    day: date = body["as_of"]
    db.session.commit()  # a bearer token's last use: write_transaction must begin with nothing pending
    with unit_of_work():
        with write_transaction(db.session):
            at = runs.evaluation_time(db.session, day)
            outcome = runs.run_evaluation(db.session, at, trigger="api", actor=user, dry_run=body["dry_run"])
            if body["dry_run"]:
                results = [{"provider": {"id": r.provider_id, "name": r.name}, "grade": r.grade,
                            "active_since": r.active_since, "window_start": r.window.start,
                            "window_end": r.window.end, "window_days": r.window_days, "figures": r.figures,
                            "breaches": r.breaches, "near": r.near} for r in outcome.evaluation.results]
            else:
                results = [_snapshot_body(s) for s in runs.snapshots(db.session, outcome.run.id)]
            proposals = [{"provider_id": p.provider_id, "threshold": p.threshold, "count": p.count,
                          "value": p.value, "sanction": p.sanction} for p in outcome.proposals]
            answer = {"created": outcome.created, "dry_run": body["dry_run"],
                      "run": _run_body(outcome.run) if outcome.run else None,
                      "results": results, "proposals": proposals}
    return answer


# --- Reports --------------------------------------------------------------------------------


def _own_provider_id(user) -> int | None:
    return provider_of(db.session, user).id if user.role == Role.PROVIDER_STAFF else None


@supervision_blp.route("/reports")
@supervision_blp.doc(security=AUTHENTICATED)
@supervision_blp.arguments(ReportQuerySchema, location="query")
@supervision_blp.response(200, ReportSchema(many=True))
@problems(supervision_blp, 401, 403, 422)
def list_reports(args):
    """Penalty reports, oldest first: every one for officials, the caller's own for provider staff."""
    user = require_user(*READERS)
    own = _own_provider_id(user)
    if own is not None:
        args["provider_id"] = own
    return db.session.scalars(reports.reports_query(**args).limit(500)).all()


@supervision_blp.route("/reports/<int:report_id>")
@supervision_blp.doc(security=AUTHENTICATED)
@supervision_blp.response(200, ReportSchema)
@problems(supervision_blp, 401, 403, 404)
def get_report(report_id: int):
    """One penalty report with its evidence ids (404 for another provider's)."""
    user = require_user(*READERS)
    report = reports.report_for(db.session, report_id, provider_id=_own_provider_id(user))
    if report is None:
        raise NotFound(_l("No such penalty report."))
    return report
