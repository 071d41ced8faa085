"""The roster in the API, read-only for the provider's staff: what an app needs to
choose the carer of an acceptance (``carer_id`` of the accept action).  The ID
number appears masked only; changes are made on the pages."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from app.api import AUTHENTICATED, Blueprint, problems, require_user
from app.extensions import db
from app.models import Role
from providers import registration
from providers.carers import services

carers_blp = Blueprint(
    "carers_api", __name__, url_prefix="/api/v1/my/carers",
    description="The provider's carers (read-only): who can be assigned to a visit.",
)


class QualificationSchema(Schema):
    kind = fields.String(attribute="kind.value")
    number = fields.String()
    expires_on = fields.Date()


class CarerSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    phone = fields.String()
    id_number = fields.String(attribute="id_number_masked", metadata={"description": "Masked: 3701**********1234."})
    active = fields.Boolean()
    qualifications = fields.List(fields.Nested(QualificationSchema))


@carers_blp.before_request
def _provider_staff_only():
    require_user(Role.PROVIDER_STAFF)


@carers_blp.route("")
class Carers(MethodView):
    @carers_blp.doc(security=AUTHENTICATED)
    @carers_blp.response(200, CarerSchema(many=True))
    @problems(carers_blp, 401, 403)
    def get(self):
        """The caller's provider's carers, active ones first, with their qualifications."""
        user = require_user(Role.PROVIDER_STAFF)
        return services.roster(db.session, registration.provider_of(db.session, user).id)
