"""JSON API for build-then-subsidise (under ``/api/v1``).

- ``subsidy_policies_api``: the current policies and tier caps (anyone logged in);
- ``my_subsidies_api``: a provider's staff register projects and file claims
  (multipart, with the evidence files); someone else's project or claim is a 404;
- ``official_subsidies_api``: officials version policies, review claims, resolve
  objections, disburse, record early stops;
- ``subsidy_notices_api``: anyone logged in reads the public notices and objects.
"""

from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from app.access import OFFICIAL_ROLES
from app.api import AUTHENTICATED, ApiParser, Blueprint, problems, require_user, unit_of_work
from app.db import write_transaction
from app.errors import NotFound
from app.extensions import db
from app.models import Role
from billing.subsidies import claims, obligations, policies, projects, review
from billing.subsidies.api_schemas import (
    SubsidyApproveInputSchema,
    SubsidyClaimInputSchema,
    SubsidyClaimSchema,
    SubsidyEarlyStopInputSchema,
    SubsidyNoteInputSchema,
    SubsidyNoticeSchema,
    SubsidyObjectionInputSchema,
    SubsidyObjectionSchema,
    SubsidyObligationSchema,
    SubsidyPoliciesSchema,
    SubsidyPolicyInputSchema,
    SubsidyPolicySchema,
    SubsidyProjectInputSchema,
    SubsidyProjectSchema,
    SubsidyQueueQuerySchema,
    SubsidyReasonInputSchema,
    SubsidyResolveInputSchema,
    SubsidyTierCapInputSchema,
    SubsidyTierCapSchema,
)
from billing.subsidies.models import ClaimStatus, EvidenceKind, SubsidyClaim
from providers import registration

class _MultipartParser(ApiParser):
    """Also reads ``form_and_files``: a multipart body's fields and files with one schema."""


_multipart_parser = _MultipartParser()


@_multipart_parser.location_loader("form_and_files")
def _load_form_and_files(request, schema):
    return MultiDictProxy(CombinedMultiDict([request.form, request.files]), schema)


class MultipartBlueprint(Blueprint):
    """A blueprint whose ``form_and_files`` arguments are one multipart/form-data body."""

    ARGUMENTS_PARSER = _multipart_parser
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {**Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
                                             "form_and_files": "multipart/form-data"}


policies_blp = Blueprint("subsidy_policies_api", __name__, url_prefix="/api/v1/subsidy-policies",
                         description="Build-then-subsidise policies and community tier caps (current versions)")
my_blp = MultipartBlueprint("my_subsidies_api", __name__, url_prefix="/api/v1/my/subsidies",
                   description="A provider's projects and subsidy claims (provider staff only)")
official_blp = Blueprint("official_subsidies_api", __name__, url_prefix="/api/v1/official/subsidies",
                         description="Officials version policies and review subsidy claims")
notices_blp = Blueprint("subsidy_notices_api", __name__, url_prefix="/api/v1/subsidy-notices",
                        description="Public notices of approved subsidies and objections (anyone logged in)")


def blueprints() -> list[Blueprint]:
    return [policies_blp, my_blp, official_blp, notices_blp]


@my_blp.before_request
def _staff_only():
    require_user(Role.PROVIDER_STAFF)


@official_blp.before_request
def _officials_only():
    require_user(*OFFICIAL_ROLES)


@policies_blp.before_request
@notices_blp.before_request
def _logged_in():
    require_user()


@notices_blp.before_request
def _objectors_only():
    """Who may object is refused before the body is read: 403/409 with the reason
    (a claim that is not public is the view's 404, so nothing is revealed)."""
    if request.endpoint != "subsidy_notices_api.object_to":
        return
    claim = db.session.get(SubsidyClaim, (request.view_args or {}).get("claim_id"))
    if claim is not None and claim.status in (ClaimStatus.NOTICE, ClaimStatus.OBJECTED):
        refusal = review.objection_refusal(db.session, claim, current_user)
        if refusal is not None:
            raise refusal


# --- Policies ---------------------------------------------------------------------


@policies_blp.route("")
@policies_blp.doc(security=AUTHENTICATED)
@policies_blp.response(200, SubsidyPoliciesSchema)
@problems(policies_blp, 401)
def current():
    """The current version of every policy and tier cap."""
    return {"policies": policies.current_policies(db.session), "tier_caps": policies.current_tier_caps(db.session)}


@official_blp.route("/policies/<project_type>", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(SubsidyPolicyInputSchema)
@official_blp.response(201, SubsidyPolicySchema)
@problems(official_blp, 400, 401, 403, 404, 422)
def new_policy(data, project_type: str):
    """Add the next version of a project type's policy (old versions never change).

    422 for an unknown type, a share outside (0, 100] or with more than two
    decimals, a rate or cap not above zero.
    """
    official = require_user(*OFFICIAL_ROLES)
    with unit_of_work():
        return policies.new_policy_version(db.session, project_type=project_type, actor=official, **data)


@official_blp.route("/tier-caps/<tier>", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(SubsidyTierCapInputSchema)
@official_blp.response(201, SubsidyTierCapSchema)
@problems(official_blp, 400, 401, 403, 404, 422)
def new_tier_cap(data, tier: str):
    """Add the next version of a community tier's yearly cap."""
    official = require_user(*OFFICIAL_ROLES)
    with unit_of_work():
        return policies.new_tier_cap_version(db.session, tier=tier, actor=official, **data)


# --- Provider staff -----------------------------------------------------------------


def _provider():
    return registration.provider_of(db.session, require_user(Role.PROVIDER_STAFF))


@my_blp.route("/projects", methods=["GET"])
@my_blp.doc(security=AUTHENTICATED)
@my_blp.response(200, SubsidyProjectSchema(many=True))
@problems(my_blp, 401, 403)
def my_projects():
    """The caller's provider's projects, newest first."""
    return projects.projects_of(db.session, _provider())


@my_blp.route("/projects", methods=["POST"])
@my_blp.doc(security=AUTHENTICATED)
@my_blp.arguments(SubsidyProjectInputSchema)
@my_blp.response(201, SubsidyProjectSchema)
@problems(my_blp, 400, 401, 403, 409, 422)
def register_project(data):
    """Register a project before building.  409 when the provider is not active; 422 with the field."""
    provider = _provider()
    with unit_of_work():
        return projects.register_project(db.session, provider, projects.ProjectInput(**data),
                                         actor=require_user(Role.PROVIDER_STAFF))


@my_blp.route("/projects/<int:project_id>")
@my_blp.doc(security=AUTHENTICATED)
@my_blp.response(200, SubsidyProjectSchema)
@problems(my_blp, 401, 403, 404)
def my_project(project_id: int):
    """One of the caller's provider's projects (404 for anyone else's)."""
    return projects.own_project(db.session, _provider(), project_id)


@my_blp.route("/projects/<int:project_id>/claim", methods=["POST"])
@my_blp.doc(security=AUTHENTICATED)
@my_blp.arguments(SubsidyClaimInputSchema, location="form_and_files")
@my_blp.response(201, SubsidyClaimSchema)
@problems(my_blp, 400, 401, 403, 404, 409, 422)
def file_claim(data, project_id: int):
    """File the project's one claim (multipart/form-data with the evidence files).

    404 an unregistered or someone else's project; 409 a second claim; 422 a
    missing certificate or invoice, a file that is not PDF/JPEG/PNG (a photo
    must be an image), too large, an acceptance date before the registration
    or in the future, a requested amount above the eligible one (refused, the
    message gives the eligible amount and the binding term).
    """
    provider = _provider()
    staff = require_user(Role.PROVIDER_STAFF)
    projects.own_project(db.session, provider, project_id)
    uploads = []
    if data.get("acceptance_certificate"):
        uploads.append((EvidenceKind.ACCEPTANCE_CERTIFICATE, data["acceptance_certificate"]))
    uploads += [(EvidenceKind.INVOICE, f) for f in request.files.getlist("invoices")]
    uploads += [(EvidenceKind.PHOTO, f) for f in request.files.getlist("photos")]
    stored = claims.store_evidence([(kind, f.stream, f.filename) for kind, f in uploads])
    try:
        with unit_of_work():
            claim = claims.file_claim(db.session, provider, project_id, claims.ClaimInput(
                evidence=stored, accepted_on=data["accepted_on"], verified_quantity=data["verified_quantity"],
                verified_investment_fen=data["verified_investment_fen"], requested_fen=data["requested_fen"]),
                                      actor=staff)
    except Exception:
        claims.discard_all(stored)
        raise
    return claim


@my_blp.route("/claims")
@my_blp.doc(security=AUTHENTICATED)
@my_blp.response(200, SubsidyClaimSchema(many=True))
@problems(my_blp, 401, 403)
def my_claims():
    """The caller's provider's claims with every term of their computation."""
    return claims.claims_of(db.session, _provider())


@my_blp.route("/claims/<int:claim_id>")
@my_blp.doc(security=AUTHENTICATED)
@my_blp.response(200, SubsidyClaimSchema)
@problems(my_blp, 401, 403, 404)
def my_claim(claim_id: int):
    """One of the caller's provider's claims (404 for anyone else's)."""
    return claims.own_claim(db.session, _provider(), claim_id)


# --- Officials ----------------------------------------------------------------------


@official_blp.route("/claims")
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(SubsidyQueueQuerySchema, location="query")
@official_blp.response(200, SubsidyClaimSchema(many=True))
@problems(official_blp, 401, 403, 422)
def claim_queue(args):
    """Claims to review: open ones by default, or those of one status."""
    return review.queue(db.session, args.get("status"))


@official_blp.route("/claims/<int:claim_id>")
@official_blp.doc(security=AUTHENTICATED)
@official_blp.response(200, SubsidyClaimSchema)
@problems(official_blp, 401, 403, 404)
def get_claim(claim_id: int):
    """Any claim."""
    return review.claim_by_id(db.session, claim_id)


def _decision(action):
    official = require_user(*OFFICIAL_ROLES)
    with unit_of_work(), write_transaction(db.session):  # BEGIN IMMEDIATE on SQLite; row locks on PostgreSQL
        return action(official)


@official_blp.route("/claims/<int:claim_id>/verify", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(SubsidyNoteInputSchema)
@official_blp.response(200, SubsidyClaimSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def verify(data, claim_id: int):
    """District verification (step 1).  409 when the claim is not waiting for it."""
    return _decision(lambda o: review.verify(db.session, claim_id, official=o, note=data["note"]))


@official_blp.route("/claims/<int:claim_id>/approve", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(SubsidyApproveInputSchema)
@official_blp.response(200, SubsidyClaimSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def approve(data, claim_id: int):
    """City approval (step 2), full or partial; starts the public notice.

    403 for the official who verified it; 422 an amount above the eligible one
    or a partial one without a reason; 409 not verified yet, or the
    community's yearly cap has no room for it.
    """
    return _decision(lambda o: review.approve(db.session, claim_id, official=o, **data))


@official_blp.route("/claims/<int:claim_id>/reject", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(SubsidyReasonInputSchema)
@official_blp.response(200, SubsidyClaimSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def reject(data, claim_id: int):
    """Reject at either step with the reason the provider sees."""
    return _decision(lambda o: review.reject(db.session, claim_id, official=o, reason=data["reason"]))


@official_blp.route("/claims/<int:claim_id>/disburse", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.response(200, SubsidyClaimSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def disburse(claim_id: int):
    """Pay a claim whose public notice is over (the scheduler does it too).  409 before then."""
    return _decision(lambda o: review.disburse(db.session, claim_id, actor=o))


@official_blp.route("/claims/<int:claim_id>/early-stop", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(SubsidyEarlyStopInputSchema)
@official_blp.response(200, SubsidyObligationSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def early_stop(data, claim_id: int):
    """Record an early stop; the clawback (50 % < 3 years, 30 % to the end) is posted as a penalty."""
    return _decision(lambda o: obligations.record_early_stop(db.session, claim_id, official=o, **data))


@official_blp.route("/objections/<int:objection_id>/resolve", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(SubsidyResolveInputSchema)
@official_blp.response(200, SubsidyObjectionSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def resolve(data, objection_id: int):
    """Uphold (the claim is rejected), dismiss, or dismiss as abusive (the objector is told the
    note); a dismissal resumes the notice with the time left once none is open.

    403 for the official who verified the claim at the district step.
    """
    return _decision(lambda o: review.resolve_objection(db.session, objection_id, official=o, **data))


# --- Public notices -------------------------------------------------------------------


@notices_blp.route("")
@notices_blp.doc(security=AUTHENTICATED)
@notices_blp.response(200, SubsidyNoticeSchema(many=True))
@problems(notices_blp, 401)
def list_notices():
    """Claims in public notice, or paused by an objection."""
    return review.in_notice(db.session)


@notices_blp.route("/<int:claim_id>/objections", methods=["POST"])
@notices_blp.doc(security=AUTHENTICATED)
@notices_blp.arguments(SubsidyObjectionInputSchema)
@notices_blp.response(201, SubsidyObjectionSchema)
@problems(notices_blp, 400, 401, 403, 404, 409, 422)
def object_to(data, claim_id: int):
    """Object during the notice (the first open objection pauses the claim and tells the officials).

    403 for anyone but a resident of the project's community (and the claimant's
    own staff); 409 after the notice or for a second objection by the same person.
    """
    user = require_user()
    claim = db.session.get(SubsidyClaim, claim_id)
    if claim is None or claim.status not in (ClaimStatus.NOTICE, ClaimStatus.OBJECTED):
        raise NotFound(_l("This claim is not in public notice."))
    with unit_of_work(), write_transaction(db.session):  # BEGIN IMMEDIATE on SQLite; the claim's row lock on PostgreSQL
        return review.object_to(db.session, claim_id, user=user, text=data["text"])
