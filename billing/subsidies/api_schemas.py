"""Marshmallow schemas of the subsidies API.  Types and presence only; the rules
(caps, dates, evidence types, who decides) are the services', with the field named."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from billing.subsidies.models import ClaimStatus, ProjectType
from billing.subsidies.policies import TERM_LABELS


def _int(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, **kwargs)


class SubsidyPolicySchema(Schema):
    id = fields.Integer()
    project_type = fields.String(metadata={"enum": [t.value for t in ProjectType]})
    version = fields.Integer()
    unit = fields.String()
    rate_fen = fields.Integer(metadata={"description": "Per unit, in fen."})
    share_percent = fields.Decimal(as_string=True)
    category_cap_fen = fields.Integer()
    obligation_years = fields.Integer()
    note = fields.String()
    created_at = fields.DateTime()


class SubsidyTierCapSchema(Schema):
    id = fields.Integer()
    tier = fields.String(metadata={"enum": ["benchmark", "growth", "basic"]})
    version = fields.Integer()
    cap_fen = fields.Integer(metadata={"description": "Per community per calendar year, in fen."})
    note = fields.String()


class SubsidyPoliciesSchema(Schema):
    policies = fields.List(fields.Nested(SubsidyPolicySchema))
    tier_caps = fields.List(fields.Nested(SubsidyTierCapSchema))


class SubsidyPolicyInputSchema(Schema):
    rate_fen = _int(required=True)
    share_percent = fields.String(required=True, metadata={"description": "A percentage, e.g. \"30\" or \"27.5\"."})
    category_cap_fen = _int(required=True)
    obligation_years = _int(load_default=5)
    note = fields.String(load_default="", validate=validate.Length(max=300))


class SubsidyTierCapInputSchema(Schema):
    cap_fen = _int(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=300))


class SubsidyProjectInputSchema(Schema):
    community_id = _int(required=True)
    project_type = fields.String(required=True, metadata={"enum": [t.value for t in ProjectType]})
    title = fields.String(required=True)
    planned_quantity = fields.String(required=True, metadata={"description": "Decimal, up to 2 places (kW, units)."})
    planned_investment_fen = _int(required=True)


class SubsidyProjectSchema(Schema):
    id = fields.Integer()
    community_id = fields.Integer()
    project_type = fields.String()
    title = fields.String()
    planned_quantity = fields.Decimal(as_string=True)
    planned_investment_fen = fields.Integer()
    registered_at = fields.DateTime()
    claim_id = fields.Function(lambda p: p.claim.id if p.claim else None, allow_none=True)


class SubsidyTermSchema(Schema):
    term = fields.String(metadata={"enum": list(TERM_LABELS)})
    label = fields.String()
    amount_fen = fields.Integer()
    binding = fields.Boolean()


class SubsidyEvidenceSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    original_name = fields.String()
    content_type = fields.String()
    size_bytes = fields.Integer()


class SubsidyObjectionSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    text = fields.String()
    filed_at = fields.DateTime()
    resolution_note = fields.String(allow_none=True)
    abusive = fields.Boolean(metadata={"description": "Dismissed as abusive (the note is the reason)."})


def _terms(claim) -> list[dict]:
    values = {"rate": claim.rate_term_fen, "share": claim.share_term_fen, "category": claim.category_cap_fen,
              "tier": claim.tier_room_fen}
    return [{"term": name, "label": str(TERM_LABELS[name]), "amount_fen": values[name],
             "binding": name == claim.binding_term} for name in TERM_LABELS]


class SubsidyClaimSchema(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    provider_id = fields.Integer()
    status = fields.String(metadata={"enum": [s.value for s in ClaimStatus]})
    accepted_on = fields.Date()
    verified_quantity = fields.Decimal(as_string=True)
    verified_investment_fen = fields.Integer()
    requested_fen = fields.Integer(allow_none=True)
    policy_id = fields.Integer()
    policy_version = fields.Function(lambda c: c.policy.version)
    tier_cap_version = fields.Function(lambda c: c.tier_cap.version)
    award_year = fields.Integer()
    terms = fields.Function(_terms, metadata={"description": "Every term of min(...), the binding one marked."})
    eligible_fen = fields.Integer()
    binding_term = fields.String()
    approved_fen = fields.Integer(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    filed_at = fields.DateTime()
    district_decided_at = fields.DateTime(allow_none=True)
    city_decided_at = fields.DateTime(allow_none=True)
    notice_ends_at = fields.DateTime(allow_none=True)
    disbursed_at = fields.DateTime(allow_none=True)
    evidence = fields.List(fields.Nested(SubsidyEvidenceSchema))
    objections = fields.List(fields.Nested(SubsidyObjectionSchema))


class SubsidyNoticeSchema(Schema):
    id = fields.Integer()
    provider = fields.Function(lambda c: c.provider.name)
    community = fields.Function(lambda c: c.project.community.name)
    project_type = fields.Function(lambda c: c.project.project_type.value)
    title = fields.Function(lambda c: c.project.title)
    status = fields.String()
    approved_fen = fields.Integer()
    notice_ends_at = fields.DateTime()


class SubsidyClaimInputSchema(Schema):
    """One multipart/form-data body: the figures and the evidence files."""

    accepted_on = fields.Date(required=True)
    verified_quantity = fields.String(required=True, metadata={"description": "Decimal, up to 2 places."})
    verified_investment_fen = fields.Integer(required=True)
    requested_fen = fields.Integer(load_default=None, allow_none=True,
                                   metadata={"description": "Optional; above the eligible amount is refused."})
    acceptance_certificate = Upload(metadata={"description": "PDF, JPEG or PNG."})
    invoices = fields.List(Upload(), metadata={"description": "One or more; PDF, JPEG or PNG."})
    photos = fields.List(Upload(), metadata={"description": "JPEG or PNG."})


class SubsidyNoteInputSchema(Schema):
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class SubsidyApproveInputSchema(Schema):
    amount_fen = _int(load_default=None, allow_none=True,
                      metadata={"description": "Empty for the full amount; below it is partial and needs a reason."})
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class SubsidyReasonInputSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(max=2000))


class SubsidyObjectionInputSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(max=2000))


class SubsidyResolveInputSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(["upheld", "dismissed", "abusive"]),
                            metadata={"description": "abusive: dismissed as abusive; the objector is told the note."})
    note = fields.String(required=True, validate=validate.Length(max=2000))


class SubsidyEarlyStopInputSchema(Schema):
    stopped_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(max=2000))


class SubsidyObligationSchema(Schema):
    id = fields.Integer()
    claim_id = fields.Integer()
    starts_on = fields.Date()
    ends_on = fields.Date()
    status = fields.String()
    stopped_on = fields.Date(allow_none=True)
    clawback_percent = fields.Integer(allow_none=True)
    clawback_fen = fields.Integer(allow_none=True)


class SubsidyQueueQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in ClaimStatus]))
