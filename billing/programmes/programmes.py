"""Programmes: the contract terms, the state machine, awards.

Officials create and edit a draft, award it to active providers, open it (which
commits the budget in the ledger: Dr ``programme_fund`` / Cr
``programme_budget:<id>``), close it and record its evaluation.  Every decision
writes an audit event in the same transaction.  Services flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.clock import now, today
from app.errors import Forbidden, IllegalTransition, Invalid, NotFound, Problems
from app.models import Community, User
from billing import ledger
from billing.programmes.models import (
    PROGRAMME_MACHINE,
    ProgrammeAward,
    ProgrammeStatus,
    PurchaseProgramme,
)
from providers.models import Listing, Provider, ProviderStatus, ServiceCategory

P = ProgrammeStatus
MAX_BUDGET_FEN = 10_000_000_000  # 100 million yuan: anything above is a typing error
TEXT_FIELDS = ("service_content", "quality_requirements", "settlement_method", "performance_targets",
               "breach_liability")


def budget_code(programme_id: int) -> str:
    return f"programme_budget:{programme_id}"


def reserved_code(programme_id: int) -> str:
    return f"programme_reserved:{programme_id}"


def consumed_code(programme_id: int) -> str:
    return f"programme_consumed:{programme_id}"


@dataclass
class ProgrammeTerms:
    """What an official states for a programme (the form and the API give this)."""

    title: str
    service_content: str
    start_date: date | None
    end_date: date | None
    quantity: int | None
    quality_requirements: str
    unit_price_fen: int | None
    settlement_method: str
    performance_targets: str
    breach_liability: str
    budget_fen: int | None
    allowance_per_month: int | None
    stable_service: bool = False
    min_age: int | None = None
    requires_living_alone: bool = False
    requires_low_income: bool = False
    requires_disability: bool = False
    category_ids: list[int] = field(default_factory=list)
    listing_ids: list[int] = field(default_factory=list)
    community_ids: list[int] = field(default_factory=list)


def term_limit(start: date, stable: bool) -> date:
    """The last day a term starting on ``start`` may run to: 1 year, 3 for a stable service (Art. 24)."""
    years = 3 if stable else 1
    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        anniversary = start.replace(year=start.year + years, day=28)
    return anniversary - timedelta(days=1)


def validate_terms(session: Session, terms: ProgrammeTerms) -> None:
    """Refuse any missing or impossible contract term: a :class:`Problems` naming every field at fault."""
    problems = Problems()
    if not (terms.title or "").strip():
        problems.add(_l("Give the programme a title."), field="title")
    elif len(terms.title.strip()) > 120:
        problems.add(_l("The title is too long (120 characters at most)."), field="title")
    for name in TEXT_FIELDS:
        if not (getattr(terms, name) or "").strip():
            problems.add(_l("State this contract term: the contract must say it (MOF Order No. 102, Art. 23)."),
                         field=name)
    if terms.start_date is None:
        problems.add(_l("Give the first day of the term."), field="start_date")
    if terms.end_date is None:
        problems.add(_l("Give the last day of the term."), field="end_date")
    elif terms.start_date is not None and terms.end_date < terms.start_date:
        problems.add(_l("The term ends before it starts."), field="end_date")
    elif terms.start_date is not None and terms.end_date > term_limit(terms.start_date, terms.stable_service):
        limit = term_limit(terms.start_date, terms.stable_service)
        if terms.stable_service:
            message = _l("A stable, continuous service may run for at most 3 years: the term can end on "
                         "%(limit)s at the latest.", limit=limit.isoformat())
        else:
            message = _l("A purchase runs for at most 1 year (3 years only for a stable, continuous service): "
                         "the term can end on %(limit)s at the latest.", limit=limit.isoformat())
        problems.add(message, field="end_date")
    if terms.quantity is None or terms.quantity <= 0:
        problems.add(_l("The quantity must be a whole number above zero."), field="quantity")
    if terms.unit_price_fen is None or terms.unit_price_fen <= 0:
        problems.add(_l("The unit price must be above zero."), field="unit_price_fen")
    if terms.budget_fen is None:
        problems.add(_l("Give the budget (0 while it is not yet secured)."), field="budget_fen")
    elif terms.budget_fen < 0:
        problems.add(_l("The budget cannot be negative."), field="budget_fen")
    elif terms.budget_fen > MAX_BUDGET_FEN:
        problems.add(_l("The budget is implausibly large; check the amount."), field="budget_fen")
    if terms.allowance_per_month is None or not 1 <= terms.allowance_per_month <= 100:
        problems.add(_l("The allowance is a number of visits per month, from 1 to 100."),
                     field="allowance_per_month")
    if terms.min_age is not None and not 0 <= terms.min_age <= 120:
        problems.add(_l("The minimum age must be between 0 and 120."), field="min_age")
    if not terms.category_ids and not terms.listing_ids:
        problems.add(_l("Choose the service categories or listings the programme buys."), field="category_ids")
    if not terms.community_ids:
        problems.add(_l("Choose the communities whose residents may be enrolled."), field="community_ids")
    problems.raise_if_any()


def _apply(session: Session, programme: PurchaseProgramme, terms: ProgrammeTerms) -> None:
    for name in ("service_content", "quality_requirements", "settlement_method", "performance_targets",
                 "breach_liability"):
        setattr(programme, name, getattr(terms, name).strip())
    programme.title = terms.title.strip()
    for name in ("start_date", "end_date", "quantity", "unit_price_fen", "budget_fen", "allowance_per_month",
                 "stable_service", "min_age", "requires_living_alone", "requires_low_income",
                 "requires_disability"):
        setattr(programme, name, getattr(terms, name))
    programme.categories = list(session.scalars(
        sa.select(ServiceCategory).where(ServiceCategory.id.in_(terms.category_ids or [-1]))))
    programme.listings = list(session.scalars(sa.select(Listing).where(Listing.id.in_(terms.listing_ids or [-1]))))
    programme.communities = list(session.scalars(
        sa.select(Community).where(Community.id.in_(terms.community_ids or [-1]))))


def snapshot(programme: PurchaseProgramme) -> dict:
    return {
        "title": programme.title, "status": programme.status, "start_date": programme.start_date,
        "end_date": programme.end_date, "stable_service": programme.stable_service,
        "quantity": programme.quantity, "unit_price_fen": programme.unit_price_fen,
        "budget_fen": programme.budget_fen, "allowance_per_month": programme.allowance_per_month,
        "min_age": programme.min_age, "requires_living_alone": programme.requires_living_alone,
        "requires_low_income": programme.requires_low_income, "requires_disability": programme.requires_disability,
        "categories": [c.code for c in programme.categories], "listings": [x.id for x in programme.listings],
        "communities": [c.id for c in programme.communities],
    }


def _official(actor: User) -> None:
    if not actor.is_official:
        raise Forbidden(_l("Only officials manage purchase programmes."))


def create_programme(session: Session, official: User, terms: ProgrammeTerms) -> PurchaseProgramme:
    """A new draft programme with these contract terms."""
    _official(official)
    validate_terms(session, terms)
    programme = PurchaseProgramme(status=P.DRAFT, created_by_id=official.id, created_at=now())
    _apply(session, programme, terms)
    session.add(programme)
    session.flush()
    audit.record(session, actor=official, action="programme.created", object_type="programme",
                 object_id=programme.id, after=snapshot(programme))
    return programme


def update_programme(session: Session, programme: PurchaseProgramme, official: User,
                     terms: ProgrammeTerms) -> None:
    """Change a draft's terms (an opened programme's contract is published and fixed)."""
    _official(official)
    if programme.status != P.DRAFT:
        raise IllegalTransition(_l("Only a draft programme can be edited; this one is %(status)s.",
                                   status=programme.status_label))
    validate_terms(session, terms)
    before = snapshot(programme)
    _apply(session, programme, terms)
    session.flush()
    audit.record(session, actor=official, action="programme.updated", object_type="programme",
                 object_id=programme.id, before=before, after=snapshot(programme))


def _move(session: Session, programme: PurchaseProgramme, to: ProgrammeStatus, official: User | None,
          reason: str | None = None) -> None:
    """Move through ``PROGRAMME_MACHINE`` (refused before any write) and audit the move."""
    old = PROGRAMME_MACHINE.move(programme, to)
    session.flush()
    audit.record(session, actor=official, action=f"programme.{to.value}", object_type="programme",
                 object_id=programme.id, before={"status": old}, after={"status": to}, reason=reason)


def open_programme(session: Session, programme: PurchaseProgramme, official: User) -> None:
    """Open for enrolment and booking; commits the budget in the ledger.

    No budget, no purchase: refused with budget 0; refused without an award, or
    once the term is over."""
    _official(official)
    if programme.status == P.DRAFT:
        if programme.budget_fen <= 0:
            raise Invalid(_l("No budget, no purchase: give the programme a budget above zero before opening it."),
                          field="budget_fen")
        if not programme.awards:
            raise Invalid(_l("Award the programme to at least one provider before opening it."))
        if programme.end_date < today():
            raise Invalid(_l("The term of this programme is over; it cannot open."), field="end_date")
    _move(session, programme, P.OPEN, official)
    programme.opened_at = now()
    ledger.post(session, kind="programme_budget", cause_type="programme", cause_id=programme.id,
                lines=[("programme_fund", programme.budget_fen), (budget_code(programme.id), -programme.budget_fen)],
                idempotency_key=f"programme:{programme.id}:budget", memo=f"Budget of programme {programme.id}")
    session.flush()


def close_programme(session: Session, programme: PurchaseProgramme, official: User, reason: str = "") -> None:
    """No new bookings; visits already reserved are still served and paid."""
    _official(official)
    _move(session, programme, P.CLOSED, official, reason=(reason or "").strip() or None)
    programme.closed_at = now()
    session.flush()


def close_at_term_end(session: Session, programme: PurchaseProgramme) -> None:
    """The system closes an open programme whose term is over (the audit event has no actor)."""
    if programme.end_date >= today():
        raise Invalid(_l("The term of this programme is not over yet."), field="end_date")
    _move(session, programme, P.CLOSED, None, reason=f"The term ended on {programme.end_date.isoformat()}.")
    programme.closed_at = now()
    session.flush()


def withdraw_programme(session: Session, programme: PurchaseProgramme, official: User, reason: str = "") -> None:
    _official(official)
    _move(session, programme, P.WITHDRAWN, official, reason=(reason or "").strip() or None)


def record_evaluation(session: Session, programme: PurchaseProgramme, official: User, result: str) -> None:
    """The performance evaluation of a closed programme (published on its page)."""
    _official(official)
    result = (result or "").strip()
    if not result:
        raise Invalid(_l("Write the evaluation result: it is published."), field="result")
    if len(result) > 5000:
        raise Invalid(_l("The evaluation result is too long (5000 characters at most)."), field="result")
    _move(session, programme, P.EVALUATED, official, reason=result)
    programme.evaluation_result = result
    programme.evaluated_at = now()
    session.flush()


def award(session: Session, programme: PurchaseProgramme, official: User, *, provider_id: int | None,
          contract_price_fen: int | None, quota: int | None) -> ProgrammeAward:
    """Award the programme to one active provider at a contract price and quota."""
    _official(official)
    if programme.status not in (P.DRAFT, P.OPEN):
        raise IllegalTransition(_l("A programme that is %(status)s cannot be awarded.", status=programme.status_label))
    provider = session.get(Provider, provider_id) if provider_id else None
    if provider is None:
        raise Invalid(_l("Choose a provider."), field="provider_id")
    if provider.status != ProviderStatus.ACTIVE:
        raise Invalid(_l("%(name)s is not active; only active providers can be awarded.", name=provider.name),
                      field="provider_id")
    if contract_price_fen is None or contract_price_fen <= 0:
        raise Invalid(_l("The contract price must be above zero."), field="contract_price_fen")
    if quota is None or quota <= 0:
        raise Invalid(_l("The quota must be a whole number above zero."), field="quota")
    if any(a.provider_id == provider.id for a in programme.awards):
        raise Invalid(_l("%(name)s already has an award in this programme.", name=provider.name),
                      field="provider_id")
    awarded = ProgrammeAward(programme_id=programme.id, provider_id=provider.id, contract_price_fen=contract_price_fen,
                             quota=quota, quota_used=0, awarded_at=now(), awarded_by_id=official.id)
    session.add(awarded)
    session.flush()
    session.refresh(programme, ["awards"])
    audit.record(session, actor=official, action="programme.awarded", object_type="programme",
                 object_id=programme.id, after={"provider_id": provider.id, "contract_price_fen": contract_price_fen,
                                                "quota": quota})
    return awarded


def get_programme(session: Session, programme_id: int, *, for_update: bool = False) -> PurchaseProgramme:
    stmt = sa.select(PurchaseProgramme).where(PurchaseProgramme.id == programme_id)
    if for_update:
        stmt = stmt.with_for_update()
    programme = session.scalar(stmt)
    if programme is None:
        raise NotFound(_l("No such programme."))
    return programme


def public_programme(session: Session, programme_id: int) -> PurchaseProgramme:
    """A programme anyone may read: opened once (a draft is a 404 for the public)."""
    programme = get_programme(session, programme_id)
    if not programme.is_public:
        raise NotFound(_l("No such programme."))
    return programme


def programmes(session: Session, *, public_only: bool = False) -> list[PurchaseProgramme]:
    stmt = sa.select(PurchaseProgramme).order_by(PurchaseProgramme.id.desc())
    if public_only:
        stmt = stmt.where(PurchaseProgramme.status.in_([P.OPEN, P.CLOSED, P.EVALUATED]))
    return list(session.scalars(stmt))


def active_providers(session: Session) -> list[Provider]:
    return list(session.scalars(sa.select(Provider).where(Provider.status == ProviderStatus.ACTIVE)
                                .order_by(Provider.name)))
