"""JSON API: a provider's staff read their organisation's programme awards (``/api/v1/my/programme-awards``)."""

from __future__ import annotations

from app.api import AUTHENTICATED, Blueprint, problems, require_user
from app.extensions import db
from app.models import Role
from billing.programmes.api_schemas import ProviderAwardSchema
from billing.programmes.provider_awards import awards_of
from providers.registration import provider_of

provider_awards_blp = Blueprint("programme_awards_api", __name__, url_prefix="/api/v1/my/programme-awards",
                                description="A provider's own purchase-programme awards")


@provider_awards_blp.before_request
def _staff_only():
    require_user(Role.PROVIDER_STAFF)


@provider_awards_blp.route("", methods=["GET"])
@provider_awards_blp.doc(security=AUTHENTICATED)
@provider_awards_blp.response(200, ProviderAwardSchema(many=True))
@problems(provider_awards_blp, 401, 403)
def my_programme_awards():
    """The caller's provider's awards only: programme, term, contract price, quota used of
    total, visits reserved and consumed, programme status."""
    return awards_of(db.session, provider_of(db.session, require_user(Role.PROVIDER_STAFF)))
