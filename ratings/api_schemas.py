"""Marshmallow schemas of the ratings and complaints API (``ratings/api.py``).

Request schemas check presence and shape; the rules (scores 1–5 with their own
messages, lengths, required reasons, legal transitions) are the services'.
Scores are taken as they come (``Raw``) so that 6, 0 or "abc" get the
service's specific message; the document still says "integer 1–5".
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ratings.complaints import MAX_TEXT, QUEUE_FILTERS, is_overdue
from ratings.models import ComplaintKind, ComplaintStatus, RatingTagCode
from ratings.services import MAX_COMMENT, MAX_REPLY

MAX_PER_PAGE = 100


def _values(enum) -> list[str]:
    return [member.value for member in enum]


def _score(description: str, *, required: bool = True) -> fields.Raw:
    metadata = {"type": "integer", "minimum": 1, "maximum": 5, "description": description}
    if required:
        return fields.Raw(required=True, metadata=metadata)
    return fields.Raw(load_default=None, allow_none=True, metadata=metadata)


class RatingInputSchema(Schema):
    overall = _score("Overall score, 1–5 stars (required).")
    timeliness = _score("Timeliness, 1–5 stars (optional).", required=False)
    quality = _score("Quality of the work, 1–5 stars (optional).", required=False)
    attitude = _score("Attitude, 1–5 stars (optional).", required=False)
    tags = fields.Raw(load_default=list, metadata={
        "type": "array", "items": {"type": "string", "enum": _values(RatingTagCode)},
        "description": "Quick tags (optional): codes such as punctual, professional, late."})
    comment = fields.String(load_default="", metadata={"maxLength": MAX_COMMENT})


class PublicRatingSchema(Schema):
    """A rating as anyone sees it: no resident, no hiding details."""

    id = fields.Integer()
    listing_id = fields.Integer()
    overall = fields.Integer()
    timeliness = fields.Integer(allow_none=True)
    quality = fields.Integer(allow_none=True)
    attitude = fields.Integer(allow_none=True)
    tags = fields.Method("tag_codes", metadata={"type": "array", "items": {"type": "string"}})
    comment = fields.String()
    created_at = fields.DateTime()
    reply = fields.String(allow_none=True)
    replied_at = fields.DateTime(allow_none=True)

    def tag_codes(self, rating) -> list[str]:
        return [code.value for code in rating.tags]


class RatingSchema(PublicRatingSchema):
    """A rating as its resident, its provider or an official sees it."""

    booking_id = fields.Integer()
    provider_id = fields.Integer()
    hidden = fields.Boolean(attribute="is_hidden")
    hidden_reason = fields.String(allow_none=True)


class ReplyInputSchema(Schema):
    reply = fields.String(required=True, metadata={"maxLength": MAX_REPLY})


class PageQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class ListingRatingsSchema(Schema):
    listing_id = fields.Integer()
    rating_mean = fields.Float(metadata={"description": "Bayesian mean (prior 4.0 worth five ratings)."})
    rating_count = fields.Integer(metadata={"description": "Published (not hidden) ratings."})
    items = fields.List(fields.Nested(PublicRatingSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()


class ComplaintInputSchema(Schema):
    kind = fields.String(required=True, metadata={"enum": _values(ComplaintKind)})
    description = fields.String(required=True, metadata={"maxLength": MAX_TEXT})


class ComplaintPhotoSchema(Schema):
    id = fields.Integer()
    original_name = fields.String()
    content_type = fields.String()
    size_bytes = fields.Integer()


class ComplaintSchema(Schema):
    id = fields.Integer()
    booking_id = fields.Integer()
    provider_id = fields.Integer()
    kind = fields.Function(lambda c: c.kind.value, metadata={"type": "string", "enum": _values(ComplaintKind)})
    description = fields.String()
    status = fields.Function(
        lambda c: c.status.value, metadata={"type": "string", "enum": _values(ComplaintStatus)}
    )
    created_at = fields.DateTime()
    respond_by = fields.DateTime(metadata={"description": "The provider's response deadline."})
    overdue = fields.Function(
        is_overdue, metadata={"type": "boolean", "description": "Still open after respond_by."}
    )
    response = fields.String(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    photos = fields.List(fields.Nested(ComplaintPhotoSchema))


class ResponseInputSchema(Schema):
    response = fields.String(required=True, metadata={"maxLength": MAX_TEXT})


class ComplaintDecisionSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(["upheld", "dismissed"]))
    reason = fields.String(load_default="", metadata={"maxLength": MAX_TEXT, "description": "Required."})


class ComplaintQueueQuerySchema(Schema):
    status = fields.String(load_default="undecided", validate=validate.OneOf(QUEUE_FILTERS))


class ComplaintQueueSchema(Schema):
    status = fields.String(metadata={"enum": list(QUEUE_FILTERS)})
    items = fields.List(fields.Nested(ComplaintSchema))
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
