"""JSON API for purchase programmes (under ``/api/v1``).

Three blueprints:

- ``programmes_official_api``: officials create, edit, award, open, close,
  evaluate, enrol (one or CSV), decide applications, read sensitive details
  (logged) and the budget;
- ``programmes_public_api``: anyone reads opened programmes;
- ``entitlements_api``: residents apply, see their entitlements and book with them.

Views are thin: parse, call the services, commit with :func:`app.api.unit_of_work`;
refusals become problem documents (app/errors.py) with the field at fault.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import request
from flask_babel import lazy_gettext as _l

from app.access import OFFICIAL_ROLES
from app.api import AUTHENTICATED, PUBLIC, Blueprint, problems, require_user, unit_of_work
from app.db import write_transaction
from app.errors import Invalid
from app.extensions import db
from app.models import Role
from billing.programmes import budget, eligibility, entitlements, programmes, topups
from billing.programmes.api_schemas import (
    AwardSchema,
    BudgetSchema,
    CsvInputSchema,
    EnrolmentDecisionSchema,
    DetailsRequestSchema,
    EnrolInputSchema,
    EnrolmentSchema,
    EntitlementBookingSchema,
    EntitlementSchema,
    EntitlementUseSchema,
    ProgrammeEvaluationSchema,
    FactsSchema,
    ProfileSchema,
    ProgrammeInputSchema,
    ProgrammeSchema,
    ReasonSchema,
    RowResultSchema,
    TopUpResultSchema,
    TopUpSchema,
)
from billing.programmes.eligibility import ProfileFacts
from billing.programmes.programmes import ProgrammeTerms
from providers.models import ServiceCategory

official_blp = Blueprint("programmes_official_api", __name__, url_prefix="/api/v1/official/programmes",
                         description="Officials run purchase programmes (MOF Order No. 102)")
public_blp = Blueprint("programmes_public_api", __name__, url_prefix="/api/v1/programmes",
                       description="Published purchase programmes: terms, awardees, evaluation")
entitlements_blp = Blueprint("entitlements_api", __name__, url_prefix="/api/v1/my/entitlements",
                             description="A resident's entitlements: what is left, booking with them")


def blueprints() -> list[Blueprint]:
    from billing.programmes.provider_api import provider_awards_blp

    return [official_blp, public_blp, entitlements_blp, provider_awards_blp]


@official_blp.before_request
def _officials_only():
    require_user(*OFFICIAL_ROLES)


@public_blp.before_request
def _residents_apply():
    """The programmes are public; applying is for residents: 401/403 before the body is parsed."""
    if request.endpoint == "programmes_public_api.apply":
        require_user(Role.RESIDENT)


@entitlements_blp.before_request
def _residents_only():
    require_user(Role.RESIDENT)


def _terms(data: dict) -> ProgrammeTerms:
    codes = data.pop("category_codes")
    ids = list(db.session.scalars(sa.select(ServiceCategory.id).where(ServiceCategory.code.in_(codes or ["-"]))))
    if len(ids) != len(set(codes)):
        raise Invalid(_l("Unknown service category."), field="category_codes")
    return ProgrammeTerms(**data, category_ids=ids)


def _facts(data: dict) -> ProfileFacts:
    return ProfileFacts(birth_date=data.get("birth_date"), lives_alone=data.get("lives_alone", False),
                        low_income=data.get("low_income", False), disability=data.get("disability", False))


# --- officials -------------------------------------------------------------------------


@official_blp.route("", methods=["GET"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.response(200, ProgrammeSchema(many=True))
@problems(official_blp, 401, 403)
def list_programmes():
    """Every programme, newest first (drafts included)."""
    return programmes.programmes(db.session)


@official_blp.route("", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(ProgrammeInputSchema)
@official_blp.response(201, ProgrammeSchema)
@problems(official_blp, 400, 401, 403, 422)
def create_programme(data):
    """Create a draft with every contract term; 422 names the field (a 4-year term, a negative budget …)."""
    with unit_of_work():
        programme = programmes.create_programme(db.session, require_user(), _terms(data))
    return programme


@official_blp.route("/<int:programme_id>", methods=["GET"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.response(200, ProgrammeSchema)
@problems(official_blp, 401, 403, 404)
def get_programme(programme_id: int):
    """One programme, any status."""
    return programmes.get_programme(db.session, programme_id)


@official_blp.route("/<int:programme_id>", methods=["PUT"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(ProgrammeInputSchema)
@official_blp.response(200, ProgrammeSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def update_programme(data, programme_id: int):
    """Replace a draft's terms; 409 once opened."""
    with unit_of_work():
        programme = programmes.get_programme(db.session, programme_id, for_update=True)
        programmes.update_programme(db.session, programme, require_user(), _terms(data))
    return programme


@official_blp.route("/<int:programme_id>/<any(open,close,withdraw):action>", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(ReasonSchema)
@official_blp.response(200, ProgrammeSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def move_programme(data, programme_id: int, action: str):
    """Open (422 with budget 0 or no award; commits the budget), close, or withdraw a draft."""
    official = require_user()
    with unit_of_work():
        programme = programmes.get_programme(db.session, programme_id, for_update=True)
        if action == "open":
            programmes.open_programme(db.session, programme, official)
        elif action == "close":
            programmes.close_programme(db.session, programme, official, data["reason"])
        else:
            programmes.withdraw_programme(db.session, programme, official, data["reason"])
    return programme


@official_blp.route("/<int:programme_id>/budget/top-ups", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(TopUpSchema)
@official_blp.response(201, TopUpResultSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def top_up(data, programme_id: int):
    """Add to an open programme's budget (Dr programme_fund / Cr programme_budget, audited).

    422 names the field: ``amount_fen`` missing, not a whole number, zero or
    negative; ``reason`` empty. 409 when the programme is not open. Nothing is
    changed on any refusal."""
    official = require_user()
    db.session.commit()
    with unit_of_work(), write_transaction(db.session):
        programme = programmes.get_programme(db.session, programme_id, for_update=True)
        topups.top_up(db.session, programme, official, amount_fen=data["amount_fen"], reason=data["reason"])
    return {"programme": programme, "amount_fen": data["amount_fen"],
            "budget": budget.figures(db.session, programme).__dict__}


@official_blp.route("/<int:programme_id>/evaluation", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(ProgrammeEvaluationSchema)
@official_blp.response(200, ProgrammeSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def evaluate(data, programme_id: int):
    """Record (and publish) the evaluation result of a closed programme."""
    with unit_of_work():
        programme = programmes.get_programme(db.session, programme_id, for_update=True)
        programmes.record_evaluation(db.session, programme, require_user(), data["result"])
    return programme


@official_blp.route("/<int:programme_id>/awards", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(AwardSchema)
@official_blp.response(201, AwardSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def award(data, programme_id: int):
    """Award to an active provider at a contract price (fen) and quota (visits)."""
    with unit_of_work():
        programme = programmes.get_programme(db.session, programme_id, for_update=True)
        awarded = programmes.award(db.session, programme, require_user(), **data)
    return awarded


@official_blp.route("/<int:programme_id>/enrolments", methods=["GET"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.response(200, EnrolmentSchema(many=True))
@problems(official_blp, 401, 403, 404)
def list_enrolments(programme_id: int):
    """The programme's enrolments and applications (no sensitive facts)."""
    programmes.get_programme(db.session, programme_id)
    return eligibility.enrolments(db.session, programme_id)


@official_blp.route("/<int:programme_id>/enrolments", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(EnrolInputSchema)
@official_blp.response(201, EnrolmentSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def enrol(data, programme_id: int):
    """Enrol one resident by phone with their facts; 422 says why one is not eligible."""
    with unit_of_work():
        programme = programmes.get_programme(db.session, programme_id, for_update=True)
        enrolment = eligibility.enrol(db.session, programme, require_user(), phone=data["phone"], facts=_facts(data))
    return enrolment


@official_blp.route("/<int:programme_id>/enrolments/csv", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(CsvInputSchema)
@official_blp.response(200, RowResultSchema(many=True))
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def enrol_csv(data, programme_id: int):
    """Enrol from CSV text: one result per row; a bad row rejects nothing else."""
    with unit_of_work():
        programme = programmes.get_programme(db.session, programme_id, for_update=True)
        report = eligibility.enrol_csv(db.session, programme, require_user(), data["csv"].encode())
    return report


@official_blp.route("/<int:programme_id>/enrolments/<int:enrolment_id>/decision", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(EnrolmentDecisionSchema)
@official_blp.response(200, EnrolmentSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def decide(data, programme_id: int, enrolment_id: int):
    """Approve or reject (with a reason) an application."""
    with unit_of_work():
        enrolment = eligibility.get_enrolment(db.session, programme_id, enrolment_id)
        eligibility.decide(db.session, enrolment, require_user(), approve=data["approve"], reason=data["reason"])
    return enrolment


@official_blp.route("/<int:programme_id>/enrolments/<int:enrolment_id>/withdrawal", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(ReasonSchema)
@official_blp.response(200, EnrolmentSchema)
@problems(official_blp, 400, 401, 403, 404, 409, 422)
def withdraw_enrolment(data, programme_id: int, enrolment_id: int):
    """End an enrolment (a reason is required); visits already booked stay paid."""
    with unit_of_work():
        enrolment = eligibility.get_enrolment(db.session, programme_id, enrolment_id)
        eligibility.withdraw(db.session, enrolment, require_user(), data["reason"])
    return enrolment


@official_blp.route("/<int:programme_id>/enrolments/<int:enrolment_id>/details", methods=["POST"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.arguments(DetailsRequestSchema)
@official_blp.response(200, ProfileSchema)
@problems(official_blp, 400, 401, 403, 404, 422)
def details(data, programme_id: int, enrolment_id: int):
    """The resident's sensitive eligibility facts; the access is recorded with the reason."""
    with unit_of_work():
        enrolment = eligibility.get_enrolment(db.session, programme_id, enrolment_id)
        profile = eligibility.read_profile(db.session, require_user(), enrolment.resident, data["reason"])
    return profile or {"user_id": enrolment.resident_id}


@official_blp.route("/<int:programme_id>/budget", methods=["GET"])
@official_blp.doc(security=AUTHENTICATED)
@official_blp.response(200, BudgetSchema)
@problems(official_blp, 401, 403, 404)
def programme_budget(programme_id: int):
    """Committed, reserved, consumed, remaining (fen), the burn rate and projection, the daily series."""
    programme = programmes.get_programme(db.session, programme_id)
    figures = budget.figures(db.session, programme)
    return {**figures.__dict__, "series": [{"day": d.isoformat(), "remaining": r, "used": u}
                                           for d, r, u in budget.series(db.session, programme)]}


# --- public ---------------------------------------------------------------------------


@public_blp.route("", methods=["GET"])
@public_blp.doc(security=PUBLIC)
@public_blp.response(200, ProgrammeSchema(many=True))
def public_programmes():
    """Opened programmes (open, closed, evaluated)."""
    return programmes.programmes(db.session, public_only=True)


@public_blp.route("/<int:programme_id>", methods=["GET"])
@public_blp.doc(security=PUBLIC)
@public_blp.response(200, ProgrammeSchema)
@problems(public_blp, 404)
def public_programme(programme_id: int):
    """An opened programme's published terms, awards and evaluation; 404 for a draft."""
    return programmes.public_programme(db.session, programme_id)


@public_blp.route("/<int:programme_id>/applications", methods=["POST"])
@public_blp.doc(security=AUTHENTICATED)
@public_blp.arguments(FactsSchema)
@public_blp.response(201, EnrolmentSchema)
@problems(public_blp, 400, 401, 403, 404, 409, 422)
def apply(data, programme_id: int):
    """A resident applies with their facts (seen only by officials); 422 when not eligible."""
    resident = require_user(Role.RESIDENT)
    with unit_of_work():
        programme = programmes.public_programme(db.session, programme_id)
        enrolment = eligibility.apply(db.session, programme, resident, _facts(data))
    return enrolment


# --- residents ------------------------------------------------------------------------


@entitlements_blp.route("", methods=["GET"])
@entitlements_blp.doc(security=AUTHENTICATED)
@entitlements_blp.response(200, EntitlementSchema(many=True))
@problems(entitlements_blp, 401, 403)
def my_entitlements():
    """This month's visits used and left per programme, and the covered listings."""
    return entitlements.summaries(db.session, require_user())


@entitlements_blp.route("/bookings", methods=["POST"])
@entitlements_blp.doc(security=AUTHENTICATED)
@entitlements_blp.arguments(EntitlementBookingSchema)
@entitlements_blp.response(201, EntitlementUseSchema)
@problems(entitlements_blp, 400, 401, 403, 404, 409, 422)
def book(data):
    """Book a covered listing with the entitlement (no payment); 409 when the allowance or
    budget is used up, 422 when the listing is not covered — nothing booked."""
    resident = require_user()
    db.session.commit()
    with unit_of_work(), write_transaction(db.session):
        booking = entitlements.book_with_entitlement(db.session, resident, **data)
        use = entitlements.use_of(db.session, booking.id)
    return use
