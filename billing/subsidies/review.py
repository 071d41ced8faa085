"""Reviewing a claim: district verification, city approval, public notice, objections,
disbursement.

- Two steps, two officials: the city approver (or a city-step rejecter) is never
  the district verifier (checked here, and a CHECK constraint).  ``city_step_refusal``
  and ``objection_decision_refusal`` are the one home of these rules: the services
  raise them, the claim page shows them instead of a form the official may not submit.
- City approval recomputes the eligible amount with the claim's policy and
  tier-cap versions and the community's awards of this (local) year, under a
  row lock on the community-year counter (``FOR UPDATE``; on SQLite the caller
  opens the transaction with ``write_transaction``), then adds the amount with
  a conditional UPDATE (``awarded + amount <= cap``).  Two approvals at once in
  one community cannot pass the cap together: the second sees the first's
  award, and when the room left is below its amount it is refused (409,
  nothing changed) for the officials to approve a smaller amount.
- Approval in full, or partial (below the eligible amount) with a reason;
  rejection always has a reason.  Above the eligible amount is refused.
- Notice period: ``LINLI_SUBSIDY_NOTICE_DAYS`` (default 7).  Only residents of
  the project's community may object while it runs (``objection_refusal`` is the
  one home of who may, for the service, the page and the API), once per person
  and claim; the first open objection pauses the claim, and only that one tells
  the officials (once per claim and pause, not once per objection).  An
  official resolves each objection: UPHELD rejects the claim (its award is
  released from the community's counter); DISMISSED, or ABUSIVE (dismissed as
  abusive, with the reason: the objector is told), once no objection is open,
  RESUMES the notice with the time that was left when it was paused (the end
  moves by the length of the pause).  The official who verified the claim at
  the district step decides none of its objections (like the city step).
- Disbursement (the scheduler's job, or an official once the notice is over):
  Dr ``subsidies_paid`` / Cr ``provider_payable:<id>`` (the subsidy is owed to
  the provider; key ``subsidy_claim:<id>:award``).  The month's settlement
  (billing/settlements.py) adds it to the provider's net, the subsidy fund puts
  the money into the payment channel (Dr ``gateway_clearing`` / Cr
  ``subsidy_fund``), and the settlement's payout — a Connect transfer or a line
  of the bank file — pays it, so a subsidy goes through the ledger and the gateway.
  The operating obligation starts then (obligations.py).
"""

from __future__ import annotations

import os
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app import audit
from app.clock import local, now, today
from app.errors import Conflict, Forbidden, IllegalTransition, Invalid, LinliError, NotFound
from app.models import User
from app.money import format_fen
from app.notifications import notify
from billing import ledger
from billing.subsidies.models import (
    CLAIM_MACHINE,
    ClaimStatus,
    ObjectionStatus,
    SubsidyClaim,
    SubsidyCommunityYear,
    SubsidyObjection,
    SubsidyProject,
)
from billing.subsidies.obligations import start_obligation
from billing.subsidies.policies import compute
from billing.subsidies.projects import official_ids, staff_ids

SUBSIDY_KIND = "subsidy"
CAUSE = "subsidy_claim"


def notice_days() -> int:
    """The public notice length: app config, else the environment, else 7 days."""
    return int(current_app.config.get("LINLI_SUBSIDY_NOTICE_DAYS") or os.environ.get("LINLI_SUBSIDY_NOTICE_DAYS") or 7)


def claim_for_update(session: Session, claim_id: int) -> SubsidyClaim:
    claim = session.scalar(sa.select(SubsidyClaim).where(SubsidyClaim.id == claim_id).with_for_update())
    if claim is None:
        raise NotFound(_l("There is no such subsidy claim."))
    session.refresh(claim)
    return claim


def _reason(text: str | None, message, field: str = "reason") -> str:
    text = (text or "").strip()
    if not text:
        raise Invalid(message, field=field)
    return text[:2000]


def _tell(session: Session, claim: SubsidyClaim, kind: str, **params) -> None:
    notify(session, staff_ids(session, claim.provider_id), kind, link=f"/provider/subsidies/claims/{claim.id}",
           claim=claim.id, title=claim.project.title, **params)


def verify(session: Session, claim_id: int, *, official: User, note: str = "") -> SubsidyClaim:
    """District verification (step 1)."""
    claim = claim_for_update(session, claim_id)
    claim.transition_to(ClaimStatus.VERIFIED)
    claim.district_official_id = official.id
    claim.district_decided_at = now()
    claim.district_note = (note or "").strip()[:2000] or None
    session.flush()
    audit.record(session, actor=official, action="subsidy_claim.verified", object_type="subsidy_claim",
                 object_id=claim.id, before={"status": ClaimStatus.SUBMITTED},
                 after={"status": claim.status}, reason=claim.district_note)
    _tell(session, claim, "subsidy.verified")
    return claim


def city_step_refusal(claim: SubsidyClaim, official: User) -> LinliError | None:
    """Why ``official`` may not decide the claim's city step (approve it, or reject it once
    verified), or None when they may.

    The one home of the four-eyes rule: :func:`approve` and :func:`reject` raise it, the
    claim page shows it instead of the forms (an official is never offered a form they
    may not submit)."""
    if claim.district_official_id is not None and claim.district_official_id == official.id:
        return Forbidden(_l("You verified this claim at the district step: a different official must decide "
                            "the city step."))
    return None


def _not_the_verifier(claim: SubsidyClaim, official: User) -> None:
    refusal = city_step_refusal(claim, official)
    if refusal is not None:
        raise refusal


def reject(session: Session, claim_id: int, *, official: User, reason: str) -> SubsidyClaim:
    """Reject at the district or the city step, with the reason the provider sees."""
    reason = _reason(reason, _l("Give the reason for the rejection; the provider sees it."))
    claim = claim_for_update(session, claim_id)
    if claim.status == ClaimStatus.VERIFIED:
        _not_the_verifier(claim, official)
    before = claim.transition_to(ClaimStatus.REJECTED)
    if before == ClaimStatus.SUBMITTED:
        claim.district_official_id, claim.district_decided_at = official.id, now()
    else:
        claim.city_official_id, claim.city_decided_at = official.id, now()
    claim.decision_reason = reason
    session.flush()
    audit.record(session, actor=official, action="subsidy_claim.rejected", object_type="subsidy_claim",
                 object_id=claim.id, before={"status": before}, after={"status": claim.status}, reason=reason)
    _tell(session, claim, "subsidy.rejected", reason=reason)
    return claim


def _lock_counter(session: Session, community_id: int, year: int) -> SubsidyCommunityYear:
    """The community-year counter row, created on first use, locked for this transaction."""
    stmt = (sa.select(SubsidyCommunityYear).where(SubsidyCommunityYear.community_id == community_id,
                                                  SubsidyCommunityYear.year == year).with_for_update())
    row = session.scalar(stmt)
    if row is None:
        try:
            with session.begin_nested():
                session.add(SubsidyCommunityYear(community_id=community_id, year=year, awarded_fen=0))
                session.flush()
        except IntegrityError:  # created concurrently: lock that one
            pass
        row = session.scalar(stmt)
    session.refresh(row)
    return row


def approve(session: Session, claim_id: int, *, official: User, amount_fen: int | None = None,
            reason: str | None = None) -> SubsidyClaim:
    """City approval (step 2): in full (no amount) or partial (an amount below eligible, with a reason).

    Starts the public notice.  Raises Forbidden for the district verifier,
    Invalid for an amount above the eligible one or a partial one without a
    reason, Conflict when the community's yearly cap has no room left.
    """
    claim = claim_for_update(session, claim_id)
    _not_the_verifier(claim, official)
    if claim.status != ClaimStatus.VERIFIED:
        raise IllegalTransition(_l("Only a claim verified by the district can be approved; this one is: %(status)s.",
                                   status=claim.status_label))
    project = claim.project
    year = today().year
    counter = _lock_counter(session, project.community_id, year)
    computation = compute(session, policy=claim.policy, tier_cap=claim.tier_cap, community_id=project.community_id,
                          year=year, quantity=claim.verified_quantity, investment_fen=claim.verified_investment_fen)
    eligible = computation.eligible_fen
    term = _l_term(computation.binding_term)
    if eligible <= 0:
        raise Conflict(_l("Nothing can be awarded now: the community's yearly cap is used up (%(awarded)s awarded "
                          "in %(year)s).", awarded=format_fen(counter.awarded_fen), year=year))
    # In full: what the claimant asked for, or else the eligible amount the officials reviewed.
    asked = claim.requested_fen if claim.requested_fen is not None else claim.eligible_fen
    if amount_fen is None:
        amount = asked
        if amount > eligible:
            raise Conflict(_l("The eligible amount is now %(amount)s (bound by: %(term)s), less than when the claim "
                              "was filed; approve that amount or less, with a reason.", amount=format_fen(eligible),
                              term=term))
    else:
        if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
            raise Invalid(_l("The approved amount must be more than zero."), field="amount_fen")
        if amount_fen > eligible:
            raise Invalid(_l("At most %(amount)s can be approved: the eligible amount, bound by: %(term)s.",
                             amount=format_fen(eligible), term=term), field="amount_fen")
        if claim.requested_fen is not None and amount_fen > claim.requested_fen:
            raise Invalid(_l("The provider asked for %(amount)s; approve that or less.",
                             amount=format_fen(claim.requested_fen)), field="amount_fen")
        amount = amount_fen
    partial = amount < asked
    if partial:
        reason = _reason(reason, _l("A partial approval needs a reason; the provider sees it."))
    updated = session.execute(
        sa.update(SubsidyCommunityYear)
        .where(SubsidyCommunityYear.community_id == project.community_id, SubsidyCommunityYear.year == year,
               SubsidyCommunityYear.awarded_fen + amount <= claim.tier_cap.cap_fen)
        .values(awarded_fen=SubsidyCommunityYear.awarded_fen + amount)
        .execution_options(synchronize_session=False)
    ).rowcount
    if updated != 1:
        raise Conflict(_l("The community's yearly cap has no room for %(amount)s any more.", amount=format_fen(amount)))
    claim.transition_to(ClaimStatus.NOTICE)
    claim.award_year = year
    claim.rate_term_fen, claim.share_term_fen = computation.rate_term_fen, computation.share_term_fen
    claim.category_cap_fen, claim.tier_room_fen = computation.category_cap_fen, computation.tier_room_fen
    claim.eligible_fen, claim.binding_term = eligible, computation.binding_term
    claim.approved_fen = amount
    claim.decision_reason = reason.strip()[:2000] if reason and reason.strip() else None
    claim.city_official_id, claim.city_decided_at = official.id, now()
    claim.notice_ends_at = now() + timedelta(days=notice_days())
    session.flush()
    session.expire(counter)
    audit.record(session, actor=official, action="subsidy_claim.approved", object_type="subsidy_claim",
                 object_id=claim.id, before={"status": ClaimStatus.VERIFIED},
                 after={"status": claim.status, "approved_fen": amount, "eligible_fen": eligible,
                        "partial": partial, "terms": computation.terms, "notice_ends_at": claim.notice_ends_at},
                 reason=claim.decision_reason)
    _tell(session, claim, "subsidy.approved", amount=format_fen(amount),
          until=local(claim.notice_ends_at).strftime("%Y-%m-%d %H:%M"))
    return claim


def _l_term(name: str):
    from billing.subsidies.policies import TERM_LABELS

    return TERM_LABELS[name]


def objection_refusal(session: Session, claim: SubsidyClaim, user: User) -> LinliError | None:
    """Why ``user`` may not object to ``claim`` now, or None when they may.

    The one home of the rule: ``object_to`` raises it, the notice page shows it
    instead of the form, the API answers it before reading the body.  Only
    residents of the project's community object (a claim covers one project in
    one community), never the claimant's own staff, once per claim.
    """
    if claim.status not in (ClaimStatus.NOTICE, ClaimStatus.OBJECTED):
        return Conflict(_l("This claim is not in public notice."))
    if claim.status == ClaimStatus.NOTICE and now() >= claim.notice_ends_at:
        return Conflict(_l("The notice period of this claim has ended."))
    if user.id in staff_ids(session, claim.provider_id):
        return Forbidden(_l("You cannot object to your own organisation's claim."))
    community = claim.project.community
    if not user.is_resident or user.community_id != community.id:
        return Forbidden(_l("Only residents of %(community)s can object to this claim: the project is in their "
                            "community.", community=community.name))
    if session.scalar(sa.select(SubsidyObjection.id).where(SubsidyObjection.claim_id == claim.id,
                                                           SubsidyObjection.user_id == user.id)):
        return Conflict(_l("You have already objected to this claim."))
    return None


def object_to(session: Session, claim_id: int, *, user: User, text: str) -> SubsidyObjection:
    """An objection during the public notice; the first open one pauses the claim and tells the officials."""
    claim = claim_for_update(session, claim_id)
    refusal = objection_refusal(session, claim, user)
    if refusal is not None:
        raise refusal
    text = _reason(text, _l("Say what you object to."), field="text")
    pauses = claim.status == ClaimStatus.NOTICE
    if pauses:  # the first objection pauses the notice (moved before any write)
        claim.transition_to(ClaimStatus.OBJECTED)
        claim.paused_at = now()
        _tell(session, claim, "subsidy.objected")
    objection = SubsidyObjection(claim_id=claim.id, user_id=user.id, text=text)
    session.add(objection)
    session.flush()
    if pauses:  # once per pause: later objections wait in the same review
        notify(session, official_ids(session, besides=user.id), "subsidy.objection_to_review",
               link=f"/official/subsidies/claims/{claim.id}", claim=claim.id, title=claim.project.title)
    audit.record(session, actor=user, action="subsidy_claim.objection_filed", object_type="subsidy_claim",
                 object_id=claim.id, after={"objection_id": objection.id, "status": claim.status}, reason=text)
    return objection


ABUSIVE = "abusive"  # an outcome of resolve_objection: dismissed as abusive (the objector is told)
OUTCOMES = (ObjectionStatus.UPHELD.value, ObjectionStatus.DISMISSED.value, ABUSIVE)


def objection_decision_refusal(claim: SubsidyClaim, official: User) -> LinliError | None:
    """Why ``official`` may not decide the claim's objections (its district verifier may not),
    or None: :func:`resolve_objection` raises it, the claim page shows it instead of the form."""
    if claim.district_official_id is not None and claim.district_official_id == official.id:
        return Forbidden(_l("You verified this claim at the district step: a different official must decide "
                            "its objections."))
    return None


def may_decide_objections(claim: SubsidyClaim, official: User) -> bool:
    """Whether ``official`` may decide the claim's objections: anyone but its district verifier."""
    return objection_decision_refusal(claim, official) is None


def resolve_objection(session: Session, objection_id: int, *, official: User, outcome: str,
                      note: str) -> SubsidyObjection:
    """Uphold (the claim is rejected, its award released), dismiss, or dismiss as abusive
    (the objector is told; the note is the reason): a dismissal resumes the notice once
    no objection is open.  Forbidden for the official who verified the claim."""
    objection = session.get(SubsidyObjection, objection_id)
    if objection is None:
        raise NotFound(_l("There is no such objection."))
    claim = claim_for_update(session, objection.claim_id)
    session.refresh(objection)
    refusal = objection_decision_refusal(claim, official)
    if refusal is not None:
        raise refusal
    if outcome not in OUTCOMES:
        raise Invalid(_l("Choose whether the objection is upheld, dismissed or abusive."), field="outcome")
    if outcome == ABUSIVE:
        note = _reason(note, _l("Say why the objection is abusive; the objector sees it."), field="note")
    else:
        note = _reason(note, _l("Explain the decision; the objector and the provider see it."), field="note")
    if objection.status != ObjectionStatus.OPEN:
        raise Conflict(_l("This objection is already resolved."))
    if outcome == ObjectionStatus.UPHELD:  # the claim's move is refused before the objection is written
        CLAIM_MACHINE.check(claim.status, ClaimStatus.REJECTED)
    status = ObjectionStatus.DISMISSED if outcome == ABUSIVE else ObjectionStatus(outcome)
    objection.status, objection.abusive = status, outcome == ABUSIVE
    objection.resolved_by_id, objection.resolved_at, objection.resolution_note = official.id, now(), note
    if status == ObjectionStatus.UPHELD:
        claim.transition_to(ClaimStatus.REJECTED)
        claim.decision_reason = note
        _release(session, claim)
        for other in claim.objections:
            if other.status == ObjectionStatus.OPEN and other.id != objection.id:
                other.status = ObjectionStatus.UPHELD
                other.resolved_by_id, other.resolved_at, other.resolution_note = official.id, now(), note
    else:
        still_open = [o for o in claim.objections if o.status == ObjectionStatus.OPEN and o.id != objection.id]
        if not still_open and claim.status == ClaimStatus.OBJECTED:
            claim.transition_to(ClaimStatus.NOTICE)
            claim.notice_ends_at = claim.notice_ends_at + (now() - claim.paused_at)
            claim.paused_at = None
    session.flush()
    audit.record(session, actor=official, action=f"subsidy_claim.objection_{outcome}", object_type="subsidy_claim",
                 object_id=claim.id, after={"objection_id": objection.id, "status": claim.status,
                                            "notice_ends_at": claim.notice_ends_at}, reason=note)
    _tell(session, claim, "subsidy.objection_resolved", objection_outcome=str(outcome), note=note)
    if outcome == ABUSIVE:
        notify(session, [objection.user_id], "subsidy.objection_abusive", link=f"/subsidies/notices/{claim.id}",
               claim=claim.id, title=claim.project.title, reason=note)
    return objection


def _release(session: Session, claim: SubsidyClaim) -> None:
    """Give a rejected claim's award back to its community-year counter."""
    if claim.approved_fen:
        session.execute(
            sa.update(SubsidyCommunityYear)
            .where(SubsidyCommunityYear.community_id == claim.project.community_id,
                   SubsidyCommunityYear.year == claim.award_year)
            .values(awarded_fen=SubsidyCommunityYear.awarded_fen - claim.approved_fen)
            .execution_options(synchronize_session=False)
        )


def disburse(session: Session, claim_id: int, *, actor: User | None = None) -> SubsidyClaim:
    """Pay an approved claim whose notice is over (the job, or an official by hand)."""
    claim = claim_for_update(session, claim_id)
    if claim.status == ClaimStatus.NOTICE and now() < claim.notice_ends_at:
        raise Conflict(_l("The public notice runs until %(until)s; the subsidy is paid after it.",
                          until=local(claim.notice_ends_at).strftime("%Y-%m-%d %H:%M")))
    claim.transition_to(ClaimStatus.DISBURSED)
    amount = claim.approved_fen
    payable = ledger.provider_payable_code(claim.provider_id)
    ledger.post(session, kind=SUBSIDY_KIND, cause_type=CAUSE, cause_id=claim.id,
                lines=[("subsidies_paid", amount), (payable, -amount)],
                idempotency_key=f"subsidy_claim:{claim.id}:award", memo=f"Subsidy claim {claim.id}")
    claim.disbursed_at = now()
    obligation = start_obligation(session, claim)
    session.flush()
    audit.record(session, actor=actor, action="subsidy_claim.disbursed", object_type="subsidy_claim",
                 object_id=claim.id, before={"status": ClaimStatus.NOTICE},
                 after={"status": claim.status, "amount_fen": amount, "obligation_ends_on": obligation.ends_on})
    _tell(session, claim, "subsidy.disbursed", amount=format_fen(amount))
    return claim


def due_for_disbursement(session: Session) -> list[int]:
    return list(session.scalars(
        sa.select(SubsidyClaim.id).where(SubsidyClaim.status == ClaimStatus.NOTICE,
                                         SubsidyClaim.notice_ends_at <= now()).order_by(SubsidyClaim.id)
    ))


def claim_by_id(session: Session, claim_id: int) -> SubsidyClaim:
    claim = session.get(SubsidyClaim, claim_id)
    if claim is None:
        raise NotFound(_l("There is no such subsidy claim."))
    return claim


# A list of claims shows each one's project (its community) and provider: loaded with it.
_LISTED = (selectinload(SubsidyClaim.project).selectinload(SubsidyProject.community),
           selectinload(SubsidyClaim.provider))


def queue(session: Session, status: str | None = None) -> list[SubsidyClaim]:
    stmt = sa.select(SubsidyClaim).options(*_LISTED).order_by(SubsidyClaim.filed_at, SubsidyClaim.id)
    if status:
        try:
            stmt = stmt.where(SubsidyClaim.status == ClaimStatus(status))
        except ValueError:
            raise Invalid(_l("Unknown claim status."), field="status") from None
    else:
        stmt = stmt.where(SubsidyClaim.status.in_([ClaimStatus.SUBMITTED, ClaimStatus.VERIFIED, ClaimStatus.OBJECTED,
                                                   ClaimStatus.NOTICE]))
    return list(session.scalars(stmt))


def in_notice(session: Session) -> list[SubsidyClaim]:
    """Claims in public notice or paused by an objection (what anyone logged in may see)."""
    return list(session.scalars(
        sa.select(SubsidyClaim).options(*_LISTED)
        .where(SubsidyClaim.status.in_([ClaimStatus.NOTICE, ClaimStatus.OBJECTED]))
        .order_by(SubsidyClaim.notice_ends_at, SubsidyClaim.id)
    ))
