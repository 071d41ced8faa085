"""The scorecard in the JSON API: every figure with the ids behind it.

``GET /api/v1/my/scorecard`` for a provider's staff (their own provider) and
``GET /api/v1/official/providers/<id>/scorecard`` for officials (any
provider), each over ``?window_days=`` (default: the SCORECARD_WINDOW_DAYS
setting) ending now.  The figures are those of :mod:`ratings.scorecard`;
residents' personal data never appears, only ids.
"""

from __future__ import annotations

from decimal import Decimal

from flask import request
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate

from app.access import OFFICIAL_ROLES
from app.api import AUTHENTICATED, Blueprint, problems, require_user
from app.errors import NotFound
from app.extensions import db
from app.models import Role
from providers import registration
from providers.api_schemas import ProviderRefSchema
from providers.models import Provider
from ratings import scorecard as sc

MAX_WINDOW_DAYS = 730

scorecard_blp = Blueprint(
    "scorecard_api",
    __name__,
    url_prefix="/api/v1",
    description="Providers' scorecards: each figure over the window, with the ids behind it",
)


@scorecard_blp.before_request
def _callers_only():
    """401/403 before the query is parsed, so no one learns about validation."""
    own = request.endpoint == f"{scorecard_blp.name}.my_scorecard"
    require_user(*((Role.PROVIDER_STAFF,) if own else OFFICIAL_ROLES))


class ScorecardQuerySchema(Schema):
    window_days = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=MAX_WINDOW_DAYS),
        metadata={"description": "Days back from now (default 90, the SCORECARD_WINDOW_DAYS setting)."},
    )


class ScorecardWindowSchema(Schema):
    start = fields.DateTime(metadata={"description": "Exclusive: a fact at exactly this time is outside."})
    end = fields.DateTime(metadata={"description": "Inclusive (now)."})
    days = fields.Integer()


class FigureSchema(Schema):
    key = fields.String(metadata={"enum": list(sc.METRICS)})
    label = fields.String(metadata={"description": "In the caller's language."})
    explains = fields.String(metadata={"description": "What the figure counts, in the caller's language."})
    kind = fields.String(metadata={"enum": ["count", "rate", "mean"]})
    subject = fields.String(
        metadata={"enum": ["booking", "complaint", "rating", "document", "follow_up_call"],
                  "description": "What the ids are ids of."}
    )
    value = fields.Raw(
        allow_none=True,
        metadata={
            "type": "number",
            "nullable": True,
            "description": "A count, a rate between 0 and 1, or a mean score (null: no ratings or no "
                           "follow-up calls; the follow-up satisfaction has one decimal).",
        },
    )
    numerator = fields.String(allow_none=True, metadata={"description": "For a rate: the figure on top."})
    denominator = fields.String(allow_none=True, metadata={"description": "For a rate: the figure below."})
    ids = fields.List(fields.Integer(),
                      metadata={"description": "The bookings, complaints, ratings or documents behind it."})


class ScorecardSchema(Schema):
    provider = fields.Nested(ProviderRefSchema)
    window = fields.Nested(ScorecardWindowSchema)
    figures = fields.List(fields.Nested(FigureSchema))


def scorecard_body(provider: Provider, window_days: int | None) -> dict:
    """The scorecard of ``provider`` as the API answers it (two statements)."""
    window = sc.current_window(window_days)
    card = sc.scorecard(db.session, provider.id, window, with_ids=True)
    figures = []
    for figure in card.figures.values():
        metric = figure.metric
        figures.append({
            "key": metric.key,
            "label": str(metric.label),
            "explains": str(metric.explains),
            "kind": metric.kind,
            "subject": metric.subject.name,
            "value": float(figure.value) if isinstance(figure.value, Decimal) else figure.value,
            "numerator": metric.numerator.key if metric.kind == "rate" else None,
            "denominator": metric.denominator.key if metric.kind == "rate" else None,
            "ids": figure.ids,
        })
    return {
        "provider": provider,
        "window": {"start": window.start, "end": window.end, "days": round(window.days)},
        "figures": figures,
    }


@scorecard_blp.route("/my/scorecard")
@scorecard_blp.doc(security=AUTHENTICATED)
@scorecard_blp.arguments(ScorecardQuerySchema, location="query")
@scorecard_blp.response(200, ScorecardSchema)
@problems(scorecard_blp, 401, 403, 422)
def my_scorecard(args):
    """The scorecard of the caller's provider (provider staff only; 422 for a bad window)."""
    user = require_user(Role.PROVIDER_STAFF)
    provider = registration.provider_of(db.session, user)
    return scorecard_body(provider, args["window_days"])


@scorecard_blp.route("/official/providers/<int:provider_id>/scorecard")
@scorecard_blp.doc(security=AUTHENTICATED)
@scorecard_blp.arguments(ScorecardQuerySchema, location="query")
@scorecard_blp.response(200, ScorecardSchema)
@problems(scorecard_blp, 401, 403, 404, 422)
def provider_scorecard(args, provider_id: int):
    """Any provider's scorecard (officials only; 404 for an unknown provider)."""
    require_user(*OFFICIAL_ROLES)
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        raise NotFound(_l("No such provider."))
    return scorecard_body(provider, args["window_days"])
