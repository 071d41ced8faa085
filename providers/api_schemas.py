"""Marshmallow schemas of the providers API (``providers/api.py``).

Request schemas check types and presence only; the domain rules (known
category, price and duration bounds, capacity, overlapping windows, legal
transitions) stay in the services, which answer 422/409 with the field at fault.
The bounds are still shown in the OpenAPI document through ``metadata``.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import object_session

from providers.catalogue import Sort, bayesian_mean
from providers.listings import ListingInput, Window
from providers.registration import open_change
from providers.models import (
    ChangeStatus,
    MAX_DURATION_MINUTES,
    MAX_PRICE_FEN,
    MAX_RESPONSE_HOURS,
    MAX_SLOT_CAPACITY,
    MIN_DURATION_MINUTES,
    MIN_PRICE_FEN,
    ListingStatus,
    PricingUnit,
    ProviderStatus,
)

MAX_PER_PAGE = 100
# The API contract; providers.vetting.decide checks each against the state machine.
DECISION_ACTIONS = ("approve", "reject", "suspend", "reinstate")


def _values(enum) -> list[str]:
    return [member.value for member in enum]


def _int(**kwargs) -> fields.Integer:
    """An integer that must be a JSON number (no "12" strings, no 12.5)."""
    return fields.Integer(strict=True, **kwargs)


# --- Reference data -------------------------------------------------------


class CategoryRefSchema(Schema):
    code = fields.String()
    name = fields.String(metadata={"description": "In the caller's language."})


class CategorySchema(CategoryRefSchema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": ["service", "infrastructure"]})


class CommunityRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class CommunitySchema(CommunityRefSchema):
    code = fields.String()
    district = fields.String()


class ProviderRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class WindowSchema(Schema):
    """A weekly availability window; weekday 0 is Monday, minutes from local midnight."""

    weekday = _int(required=True, metadata={"minimum": 0, "maximum": 6})
    start_minute = _int(required=True, metadata={"minimum": 0, "maximum": 1439})
    end_minute = _int(required=True, metadata={"minimum": 1, "maximum": 1440})
    capacity = _int(
        required=True,
        metadata={"minimum": 1, "maximum": MAX_SLOT_CAPACITY, "description": "Bookings per slot."},
    )


# --- The catalogue --------------------------------------------------------


class CatalogueQuerySchema(Schema):
    q = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "Words to find in the title or description."},
    )
    category = fields.String(
        load_default=None, metadata={"description": "A category code, see /api/v1/categories."}
    )
    community_id = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1),
        metadata={"description": "Default for a logged-in resident: their own community."},
    )
    all_communities = fields.Boolean(
        load_default=False,
        metadata={"description": "true: a resident searches every community, not only their own."},
    )
    provider_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    min_price_fen = fields.Integer(load_default=None, validate=validate.Range(min=0))
    max_price_fen = fields.Integer(load_default=None, validate=validate.Range(min=0))
    sort = fields.Enum(
        Sort, by_value=True, load_default=Sort.RELEVANCE, metadata={"type": "string"}
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))

    @validates_schema
    def _price_range(self, data, **kwargs):
        low, high = data.get("min_price_fen"), data.get("max_price_fen")
        if low is not None and high is not None and low > high:
            raise ValidationError(
                "The highest price must not be below the lowest.", field_name="max_price_fen"
            )


class ListingSummarySchema(Schema):
    id = fields.Integer()
    title = fields.String()
    category = fields.Nested(CategoryRefSchema)
    provider = fields.Nested(ProviderRefSchema)
    price_fen = fields.Integer(metadata={"description": "Price in fen (1/100 yuan)."})
    pricing_unit = fields.String(metadata={"enum": _values(PricingUnit)})
    duration_minutes = fields.Integer()
    rating_mean = fields.Method(
        "_rating_mean",
        metadata={
            "type": "number",
            "description": "Bayesian mean rating (prior 4.0 worth five ratings).",
        },
    )
    rating_count = fields.Integer()

    def _rating_mean(self, listing) -> float:
        return round(bayesian_mean(listing.rating_sum, listing.rating_count), 2)


class CataloguePageSchema(Schema):
    items = fields.List(fields.Nested(ListingSummarySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()
    community_id = fields.Integer(
        allow_none=True, metadata={"description": "The community the results are for, if any."}
    )


class ListingDetailSchema(ListingSummarySchema):
    description = fields.String()
    response_hours = fields.Integer(metadata={"description": "Promised answer time for a request."})
    communities = fields.List(fields.Nested(CommunityRefSchema))
    availability = fields.List(fields.Nested(WindowSchema))
    published_at = fields.DateTime(allow_none=True)


class PublicProviderSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    categories = fields.List(fields.Nested(CategoryRefSchema))
    communities = fields.List(fields.Nested(CommunityRefSchema))
    activated_at = fields.DateTime(allow_none=True)
    listings = fields.List(fields.Nested(ListingSummarySchema))


# --- A provider's own listings --------------------------------------------


class OwnListingSummarySchema(ListingSummarySchema):
    status = fields.String(metadata={"enum": _values(ListingStatus)})
    version = fields.Integer()
    communities = fields.List(fields.Nested(CommunityRefSchema))
    updated_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)


class OwnListingSchema(OwnListingSummarySchema):
    category_id = fields.Integer()
    description = fields.String()
    response_hours = fields.Integer()
    availability = fields.List(fields.Nested(WindowSchema))
    created_at = fields.DateTime()


class ListingInputSchema(Schema):
    """A listing as the provider enters it; every save is a new version."""

    category_id = _int(required=True, metadata={"description": "See /api/v1/categories."})
    title = fields.String(required=True, metadata={"maxLength": 120})
    description = fields.String(required=True, metadata={"maxLength": 4000})
    price_fen = _int(
        required=True,
        metadata={"minimum": MIN_PRICE_FEN, "maximum": MAX_PRICE_FEN, "description": "In fen."},
    )
    pricing_unit = fields.String(required=True, validate=validate.OneOf(_values(PricingUnit)))
    duration_minutes = _int(
        required=True, metadata={"minimum": MIN_DURATION_MINUTES, "maximum": MAX_DURATION_MINUTES}
    )
    response_hours = _int(required=True, metadata={"minimum": 1, "maximum": MAX_RESPONSE_HOURS})
    community_ids = fields.List(
        _int(),
        required=True,
        metadata={"description": "Communities the provider serves, at least one."},
    )
    availability = fields.List(
        fields.Nested(WindowSchema), required=True, metadata={"description": "At least one window."}
    )


class ListingEditSchema(ListingInputSchema):
    """A full replacement of the listing's content."""

    version = _int(
        load_default=None,
        metadata={
            "description": "The version you edited: if someone saved since, 409 instead of "
            "overwriting their changes. Omit to replace whatever is there.",
        },
    )


def listing_input(data: dict) -> ListingInput:
    """The service's input from a loaded :class:`ListingInputSchema`."""
    return ListingInput(
        category_id=data["category_id"],
        title=data["title"],
        description=data["description"],
        price_fen=data["price_fen"],
        pricing_unit=data["pricing_unit"],
        duration_minutes=data["duration_minutes"],
        response_hours=data["response_hours"],
        community_ids=list(data["community_ids"]),
        availability=[Window(**window) for window in data["availability"]],
    )


class ListingStatusSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(_values(ListingStatus)))


class ListingVersionSchema(Schema):
    version = fields.Integer()
    created_at = fields.DateTime()
    created_by_id = fields.Integer(allow_none=True)
    snapshot = fields.Dict(metadata={"description": "The listing as saved in this version."})


# --- Vetting --------------------------------------------------------------


class DocumentSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    original_name = fields.String()
    content_type = fields.String()
    size_bytes = fields.Integer()
    expires_on = fields.Date()
    uploaded_at = fields.DateTime()
    in_force = fields.Boolean(
        metadata={"description": "False while the document waits in the provider's change request "
                                 "(or after that request was rejected)."})


class ChangeSchema(Schema):
    """An approved provider's change request to what officials vetted."""

    id = fields.Integer()
    status = fields.String(metadata={"enum": _values(ChangeStatus)})
    proposed = fields.Dict(
        keys=fields.String(),
        metadata={"description": "Only the vetted fields it changes: name, legal_representative, "
                                 "categories (category codes)."})
    before = fields.Dict(keys=fields.String(), metadata={"description": "Those fields as they are in force."})
    requested_at = fields.DateTime()
    updated_at = fields.DateTime()
    documents = fields.List(fields.Nested(DocumentSchema))


def _pending_change(provider):
    session = object_session(provider)
    change = open_change(session, provider) if session is not None else None
    return ChangeSchema().dump(change) if change is not None else None


class ChangeDecisionSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(("approve", "reject")))
    reason = fields.String(
        load_default="", metadata={"maxLength": 2000, "description": "Required for reject; the provider sees it."},
    )


class ProviderReviewSchema(Schema):
    """A provider as officials see it when vetting."""

    id = fields.Integer()
    name = fields.String()
    credit_code = fields.String()
    legal_representative = fields.String()
    contact_name = fields.String()
    contact_phone = fields.String()
    address = fields.String()
    description = fields.String()
    status = fields.String(metadata={"enum": _values(ProviderStatus)})
    status_reason = fields.String(allow_none=True)
    submitted_at = fields.DateTime()
    activated_at = fields.DateTime(allow_none=True)
    categories = fields.List(fields.Nested(CategoryRefSchema))
    communities = fields.List(fields.Nested(CommunityRefSchema))
    documents = fields.List(fields.Nested(DocumentSchema))
    pending_change = fields.Function(
        _pending_change, allow_none=True,
        metadata={"description": "The change request waiting for review (ChangeSchema), or null. Nothing "
                                 "of it is in force until an official approves it."})


class QueueQuerySchema(Schema):
    status = fields.Enum(
        ProviderStatus, by_value=True, load_default=ProviderStatus.PENDING, metadata={"type": "string"}
    )


class QueueSchema(Schema):
    status = fields.String(metadata={"enum": _values(ProviderStatus)})
    items = fields.List(fields.Nested(ProviderReviewSchema))
    counts = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "Providers per status."}
    )


class DecisionSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(DECISION_ACTIONS))
    reason = fields.String(
        load_default="",
        metadata={"maxLength": 2000, "description": "Required for reject, suspend, reinstate."},
    )
