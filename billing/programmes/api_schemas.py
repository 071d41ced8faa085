"""Marshmallow schemas of the programme API (amounts in fen, dates ISO 8601)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from billing.programmes.models import EnrolmentStatus, ProgrammeStatus, UseStatus

TEXT = validate.Length(max=5000)


class ProgrammeInputSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(max=120))
    service_content = fields.String(required=True, validate=TEXT)
    category_codes = fields.List(fields.String(), load_default=list,
                                 metadata={"description": "Service categories in scope (codes)."})
    listing_ids = fields.List(fields.Integer(strict=True), load_default=list)
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True, metadata={"description": "≤ 1 year after start; ≤ 3 with stable_service."})
    stable_service = fields.Boolean(load_default=False)
    quantity = fields.Integer(strict=True, required=True)
    quality_requirements = fields.String(required=True, validate=TEXT)
    unit_price_fen = fields.Integer(strict=True, required=True)
    settlement_method = fields.String(required=True, validate=TEXT)
    performance_targets = fields.String(required=True, validate=TEXT)
    breach_liability = fields.String(required=True, validate=TEXT)
    budget_fen = fields.Integer(strict=True, required=True, metadata={"description": "≥ 0; > 0 to open."})
    allowance_per_month = fields.Integer(strict=True, required=True)
    community_ids = fields.List(fields.Integer(strict=True), required=True)
    min_age = fields.Integer(strict=True, load_default=None, allow_none=True)
    requires_living_alone = fields.Boolean(load_default=False)
    requires_low_income = fields.Boolean(load_default=False)
    requires_disability = fields.Boolean(load_default=False)


class AwardSchema(Schema):
    id = fields.Integer(dump_only=True)
    provider_id = fields.Integer(strict=True, required=True)
    provider_name = fields.String(dump_only=True, attribute="provider.name")
    contract_price_fen = fields.Integer(strict=True, required=True)
    quota = fields.Integer(strict=True, required=True)
    quota_used = fields.Integer(dump_only=True)


class ProgrammeSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    status = fields.String(metadata={"enum": [s.value for s in ProgrammeStatus]})
    service_content = fields.String()
    categories = fields.Function(lambda p: [c.code for c in p.categories])
    listing_ids = fields.Function(lambda p: [x.id for x in p.listings])
    start_date = fields.Date()
    end_date = fields.Date()
    stable_service = fields.Boolean()
    quantity = fields.Integer()
    quality_requirements = fields.String()
    unit_price_fen = fields.Integer()
    settlement_method = fields.String()
    performance_targets = fields.String()
    breach_liability = fields.String()
    budget_fen = fields.Integer()
    allowance_per_month = fields.Integer()
    community_ids = fields.Function(lambda p: [c.id for c in p.communities])
    min_age = fields.Integer(allow_none=True)
    requires_living_alone = fields.Boolean()
    requires_low_income = fields.Boolean()
    requires_disability = fields.Boolean()
    awards = fields.List(fields.Nested(AwardSchema))
    opened_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    evaluation_result = fields.String(allow_none=True)


class ReasonSchema(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=1000))


class ProgrammeEvaluationSchema(Schema):
    result = fields.String(required=True, validate=validate.Length(max=5000))


class FactsSchema(Schema):
    birth_date = fields.Date(load_default=None, allow_none=True)
    lives_alone = fields.Boolean(load_default=False)
    low_income = fields.Boolean(load_default=False)
    disability = fields.Boolean(load_default=False)


class EnrolInputSchema(FactsSchema):
    phone = fields.String(required=True, validate=validate.Length(max=20))


class CsvInputSchema(Schema):
    csv = fields.String(required=True, metadata={
        "description": "CSV text: phone, birth_date, lives_alone, low_income, disability."})


class RowResultSchema(Schema):
    line = fields.Integer()
    phone = fields.String()
    ok = fields.Boolean()
    message = fields.String()


class EnrolmentSchema(Schema):
    id = fields.Integer()
    programme_id = fields.Integer()
    resident_id = fields.Integer()
    resident_name = fields.String(attribute="resident.name")
    status = fields.String(metadata={"enum": [s.value for s in EnrolmentStatus]})
    source = fields.String()
    reason = fields.String(allow_none=True)


class EnrolmentDecisionSchema(Schema):
    approve = fields.Boolean(required=True)
    reason = fields.String(load_default="", validate=validate.Length(max=1000))


class DetailsRequestSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200),
                           metadata={"description": "Why you need the sensitive details (recorded)."})


class ProfileSchema(FactsSchema):
    resident_id = fields.Integer(attribute="user_id")


class BudgetFiguresSchema(Schema):
    committed = fields.Integer()
    reserved = fields.Integer()
    consumed = fields.Integer()
    remaining = fields.Integer()
    burn_per_day = fields.Integer(allow_none=True)
    runs_out_on = fields.Date(allow_none=True)
    runs_out_before_end = fields.Boolean()


class BudgetSchema(BudgetFiguresSchema):
    series = fields.List(fields.Dict(), metadata={"description": "Per day: day, remaining, used (fen)."})


class EntitlementSchema(Schema):
    programme_id = fields.Integer(attribute="enrolment.programme_id")
    programme_title = fields.String(attribute="enrolment.programme.title")
    month = fields.String()
    used = fields.Integer()
    left = fields.Integer()
    listing_ids = fields.Function(lambda s: [x.id for x in s.listings])


class EntitlementBookingSchema(Schema):
    listing_id = fields.Integer(strict=True, required=True)
    starts_at = fields.AwareDateTime(required=True)
    address = fields.String(required=True, validate=validate.Length(max=200))
    note = fields.String(load_default="", validate=validate.Length(max=1000))


class EntitlementUseSchema(Schema):
    id = fields.Integer()
    booking_id = fields.Integer()
    programme_id = fields.Integer()
    month = fields.String()
    amount_fen = fields.Integer()
    status = fields.String(metadata={"enum": [s.value for s in UseStatus]})


class TopUpSchema(Schema):
    amount_fen = fields.Raw(required=True, metadata={
        "type": "integer", "minimum": 1,
        "description": "Fen to add to the budget; a whole number above zero (0, negative or not a number: 422)."})
    reason = fields.String(load_default="", validate=validate.Length(max=1000),
                           metadata={"description": "Required: why the budget is topped up (recorded in the audit "
                                                    "trail); empty: 422."})


class TopUpResultSchema(Schema):
    programme = fields.Nested(ProgrammeSchema)
    amount_fen = fields.Integer()
    budget = fields.Nested(BudgetFiguresSchema)


class ProviderAwardSchema(Schema):
    award_id = fields.Integer(attribute="award.id")
    programme_id = fields.Integer(attribute="award.programme_id")
    programme_title = fields.String(attribute="award.programme.title")
    programme_status = fields.String(attribute="award.programme.status",
                                      metadata={"enum": [s.value for s in ProgrammeStatus]})
    start_date = fields.Date(attribute="award.programme.start_date")
    end_date = fields.Date(attribute="award.programme.end_date")
    contract_price_fen = fields.Integer(attribute="award.contract_price_fen")
    quota = fields.Integer(attribute="award.quota")
    quota_used = fields.Integer(attribute="award.quota_used")
    visits_reserved = fields.Integer(metadata={"description": "Accepted visits not yet served."})
    visits_consumed = fields.Integer(metadata={"description": "Visits served (paid at the contract price)."})
