"""Filing a subsidy claim on a registered project, with its evidence.

Evidence files are checked by their first bytes (never the browser's type or
the name), size-limited, and stored outside the web root with random names
(:mod:`providers.uploads`).  A photo must be an image; a certificate or an
invoice may be a PDF or an image.  Files are stored before the database rows
are written; a refused claim discards them (:func:`discard_all`).

Rules, each refused with its own message and nothing changed:

- the project must be registered by the claimant's provider (else 404);
- one claim per project (checked, and a unique constraint);
- the acceptance date is after the registration and not in the future;
- an acceptance certificate and at least one invoice are required;
- a requested amount above the eligible amount is REFUSED (not capped), with
  the eligible amount and the term that binds it in the message;
- verified figures above every cap are fine: the amount is the eligible one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.clock import local, today
from app.errors import Conflict, Invalid, NotFound, Problems
from app.models import User
from app.money import format_fen
from app.notifications import notify
from billing.subsidies.models import EvidenceKind, SubsidyClaim, SubsidyEvidence
from billing.subsidies.policies import TERM_LABELS, Computation, compute, current_policy, current_tier_cap
from billing.subsidies.projects import (
    official_ids,
    own_project,
    parse_investment,
    parse_quantity,
    require_active,
    staff_ids,
)
from providers import uploads
from providers.models import Provider

IMAGE_TYPES = ("image/jpeg", "image/png")
EVIDENCE_FIELDS = {EvidenceKind.ACCEPTANCE_CERTIFICATE: "acceptance_certificate",
                   EvidenceKind.INVOICE: "invoices", EvidenceKind.PHOTO: "photos"}
MAX_FILES_PER_CLAIM = 12


@dataclass
class ClaimInput:
    accepted_on: date | None
    verified_quantity: object
    verified_investment_fen: object
    requested_fen: int | None = None
    evidence: list[tuple[EvidenceKind, uploads.StoredFile]] = field(default_factory=list)


def store_evidence(files: list[tuple[EvidenceKind, BinaryIO, str | None]]) -> list[tuple[EvidenceKind, uploads.StoredFile]]:
    """Check and store the uploaded files; on any refusal none stays on disk.  Every file is
    checked: a :class:`Problems` names each field with a file refused (and why)."""
    if len(files) > MAX_FILES_PER_CLAIM:
        raise Invalid(_l("At most %(n)d files per claim.", n=MAX_FILES_PER_CLAIM), field="photos")
    stored: list[tuple[EvidenceKind, uploads.StoredFile]] = []
    problems = Problems()
    try:
        for kind, stream, filename in files:
            name = EVIDENCE_FIELDS[kind]
            try:
                saved = uploads.save_document(stream, filename, field=name)
            except Invalid as error:
                problems.extend(error)
                continue
            stored.append((kind, saved))
            if kind == EvidenceKind.PHOTO and saved.content_type not in IMAGE_TYPES:
                problems.add(_l("A photo must be a JPEG or PNG image; %(name)s is a PDF.",
                                name=saved.original_name), field=name)
        problems.raise_if_any()
    except Exception:
        discard_all(stored)
        raise
    return stored


def discard_all(stored: list[tuple[EvidenceKind, uploads.StoredFile]]) -> None:
    for _kind, saved in stored:
        uploads.discard(saved)


def _check_accepted_on(value: date | None, registered_on: date) -> date:
    if value is None:
        raise Invalid(_l("Enter the date of the acceptance certificate."), field="accepted_on")
    if value > today():
        raise Invalid(_l("The acceptance date cannot be in the future."), field="accepted_on")
    if value < registered_on:
        raise Invalid(_l("The project was accepted before it was registered: only projects registered "
                         "before building can be subsidised."), field="accepted_on")
    return value


def term_reason(computation: Computation) -> str:
    return str(TERM_LABELS[computation.binding_term])


def file_claim(session: Session, provider: Provider, project_id: int, data: ClaimInput, *, actor: User,
               problems: Problems | None = None) -> SubsidyClaim:
    """File the project's one claim (flushes; the caller commits and, on error, discards the files).

    Every problem with the figures and the evidence is refused at once (a :class:`Problems`),
    with ``problems`` the caller found already (an amount or a file it could not read): a
    field at fault there is not refused twice."""
    require_active(provider)
    project = own_project(session, provider, project_id, for_update=True)
    existing = session.scalar(sa.select(SubsidyClaim.id).where(SubsidyClaim.project_id == project.id))
    if existing is not None:
        raise Conflict(_l("This project already has a claim (#%(claim)s): a project is subsidised once.",
                          claim=existing))
    found = problems if problems is not None else Problems()

    def check(parse, *args):
        """The parsed value, or None with the refusal added (unless its field is at fault already)."""
        try:
            return parse(*args)
        except Invalid as error:
            if error.field not in {one.field for one in found.errors}:
                found.extend(error)
            return None

    accepted_on = check(_check_accepted_on, data.accepted_on, local(project.registered_at).date())
    quantity = check(parse_quantity, data.verified_quantity, "verified_quantity")
    investment = check(parse_investment, data.verified_investment_fen, "verified_investment_fen")
    at_fault = {one.field for one in found.errors}
    if not at_fault & set(EVIDENCE_FIELDS.values()):  # the kinds count once every file could be stored
        kinds = [kind for kind, _saved in data.evidence]
        if EvidenceKind.ACCEPTANCE_CERTIFICATE not in kinds:
            found.add(_l("Attach the acceptance certificate (PDF, JPEG or PNG)."), field="acceptance_certificate")
        if EvidenceKind.INVOICE not in kinds:
            found.add(_l("Attach at least one invoice (PDF, JPEG or PNG)."), field="invoices")
    requested = data.requested_fen
    if requested is not None and (not isinstance(requested, int) or isinstance(requested, bool) or requested <= 0):
        found.add(_l("The requested amount must be more than zero."), field="requested_fen")
    found.raise_if_any()
    policy = current_policy(session, project.project_type)
    tier_cap = current_tier_cap(session, project.community.tier)
    computation = compute(session, policy=policy, tier_cap=tier_cap, community_id=project.community_id,
                          year=today().year, quantity=quantity, investment_fen=investment)
    eligible = computation.eligible_fen
    if eligible <= 0:
        raise Invalid(_l("Nothing can be awarded: %(term)s is zero.", term=term_reason(computation)))
    if requested is not None:
        if requested > eligible:
            raise Invalid(_l("You may request at most %(amount)s: the eligible amount, bound by: %(term)s.",
                             amount=format_fen(eligible), term=term_reason(computation)), field="requested_fen")
    claim = SubsidyClaim(
        project_id=project.id, provider_id=provider.id, accepted_on=accepted_on, verified_quantity=quantity,
        verified_investment_fen=investment, requested_fen=requested, policy_id=policy.id,
        tier_cap_id=tier_cap.id, award_year=computation.year, rate_term_fen=computation.rate_term_fen,
        share_term_fen=computation.share_term_fen, category_cap_fen=computation.category_cap_fen,
        tier_room_fen=computation.tier_room_fen, eligible_fen=eligible, binding_term=computation.binding_term,
        filed_by_id=actor.id,
    )
    try:
        with session.begin_nested():
            session.add(claim)
            session.flush()
    except IntegrityError:
        raise Conflict(_l("This project already has a claim: a project is subsidised once.")) from None
    for kind, saved in data.evidence:
        session.add(SubsidyEvidence(claim_id=claim.id, kind=kind, original_name=saved.original_name,
                                    stored_name=saved.stored_name, content_type=saved.content_type,
                                    size_bytes=saved.size_bytes, sha256=saved.sha256, uploaded_by_id=actor.id))
    session.flush()
    audit.record(session, actor=actor, action="subsidy_claim.filed", object_type="subsidy_claim", object_id=claim.id,
                 after={"project_id": project.id, "policy_version": policy.version,
                        "tier_cap_version": tier_cap.version, "terms": computation.terms,
                        "eligible_fen": eligible, "binding_term": computation.binding_term,
                        "requested_fen": requested, "evidence": len(data.evidence)})
    notify(session, staff_ids(session, provider.id), "subsidy.filed", link=f"/provider/subsidies/claims/{claim.id}",
           claim=claim.id, title=project.title, amount=format_fen(eligible))
    notify(session, official_ids(session), "subsidy.claim_to_review", link=f"/official/subsidies/claims/{claim.id}",
           claim=claim.id, title=project.title, provider=provider.name,
           amount=format_fen(requested if requested is not None else eligible))
    return claim


def own_claim(session: Session, provider: Provider, claim_id: int) -> SubsidyClaim:
    claim = session.scalar(sa.select(SubsidyClaim).where(SubsidyClaim.id == claim_id,
                                                         SubsidyClaim.provider_id == provider.id))
    if claim is None:
        raise NotFound(_l("There is no such claim of your organisation."))
    return claim


def claims_of(session: Session, provider: Provider) -> list[SubsidyClaim]:
    return list(session.scalars(sa.select(SubsidyClaim).where(SubsidyClaim.provider_id == provider.id)
                                .order_by(SubsidyClaim.filed_at.desc(), SubsidyClaim.id.desc())))


def evidence_for(session: Session, evidence_id: int, user: User) -> SubsidyEvidence:
    """An evidence file for its provider's staff and officials; 404 for anyone else."""
    from providers.registration import provider_of

    evidence = session.get(SubsidyEvidence, evidence_id)
    if evidence is None:
        raise NotFound(_l("No such file."))
    if user.is_official:
        return evidence
    if user.is_provider_staff and provider_of(session, user).id == evidence.claim.provider_id:
        return evidence
    raise NotFound(_l("No such file."))
