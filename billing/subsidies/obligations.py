"""The operating obligation and the clawback on an early stop.

A disbursed subsidy obliges the provider to operate the facility for the
policy's ``obligation_years`` (default 5) from the acceptance date.  An official
records an early stop; the clawback (DOMAIN.md, Guangzhou) is 50 % of the paid
subsidy when it stopped before 3 years, 30 % from 3 up to the end; a stop on
or after the end owes nothing (the obligation is fulfilled, refused as such).

The clawback is posted against the provider's future settlements: a ledger
transaction of kind ``penalty`` (cause ``subsidy_clawback``), Dr
``provider_payable:<id>`` / Cr ``subsidy_fund`` — the month's settlement
deducts ``penalty`` transactions from the provider's net (billing/settlements.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.clock import now, today
from app.errors import Conflict, Invalid, NotFound
from app.models import User
from app.money import format_fen, round_fen
from app.notifications import notify
from billing import ledger
from billing.subsidies.models import ObligationStatus, SubsidyClaim, SubsidyObligation

EARLY_YEARS = 3
EARLY_PERCENT = 50  # stopped before 3 years
LATE_PERCENT = 30  # stopped from 3 years to the end
CLAWBACK_KIND = "penalty"  # billing/settlements.py deducts these from the payable
CLAWBACK_CAUSE = "subsidy_clawback"


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later (29 February → 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def start_obligation(session: Session, claim: SubsidyClaim) -> SubsidyObligation:
    obligation = SubsidyObligation(claim_id=claim.id, provider_id=claim.provider_id, starts_on=claim.accepted_on,
                                   ends_on=add_years(claim.accepted_on, claim.policy.obligation_years),
                                   status=ObligationStatus.RUNNING)
    session.add(obligation)
    session.flush()
    return obligation


def clawback_percent(obligation: SubsidyObligation, stopped_on: date) -> int:
    """50 before 3 years from acceptance, 30 from 3 years to the end; 0 when fulfilled."""
    if stopped_on >= obligation.ends_on:
        return 0
    if stopped_on < add_years(obligation.starts_on, EARLY_YEARS):
        return EARLY_PERCENT
    return LATE_PERCENT


def obligation_of(session: Session, claim_id: int) -> SubsidyObligation | None:
    return session.scalar(sa.select(SubsidyObligation).where(SubsidyObligation.claim_id == claim_id))


def record_early_stop(session: Session, claim_id: int, *, official: User, stopped_on: date | None,
                      reason: str) -> SubsidyObligation:
    """Record that the facility stopped operating early and post the clawback."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Say why and how the operation stopped; the provider sees it."), field="reason")
    obligation = session.scalar(sa.select(SubsidyObligation).where(SubsidyObligation.claim_id == claim_id)
                                .with_for_update())
    if obligation is None:
        raise NotFound(_l("This claim has no operating obligation (it has not been paid)."))
    session.refresh(obligation)
    if obligation.status != ObligationStatus.RUNNING:
        raise Conflict(_l("An early stop is already recorded for this project."))
    if stopped_on is None:
        raise Invalid(_l("Enter the date the operation stopped."), field="stopped_on")
    if stopped_on > today():
        raise Invalid(_l("The stop date cannot be in the future."), field="stopped_on")
    if stopped_on < obligation.starts_on:
        raise Invalid(_l("The stop date is before the acceptance date."), field="stopped_on")
    percent = clawback_percent(obligation, stopped_on)
    if percent == 0:
        raise Conflict(_l("The obligation ended on %(day)s: nothing is clawed back.", day=obligation.ends_on.isoformat()))
    claim = obligation.claim
    amount = round_fen(Decimal(claim.approved_fen) * percent / 100)
    obligation.status = ObligationStatus.STOPPED_EARLY
    obligation.stopped_on, obligation.stop_reason = stopped_on, reason[:2000]
    obligation.clawback_percent, obligation.clawback_fen = percent, amount
    obligation.recorded_by_id, obligation.recorded_at = official.id, now()
    session.flush()
    ledger.post(session, kind=CLAWBACK_KIND, cause_type=CLAWBACK_CAUSE, cause_id=obligation.id,
                lines=[(ledger.provider_payable_code(claim.provider_id), amount), ("subsidy_fund", -amount)],
                idempotency_key=f"subsidy_clawback:{obligation.id}",
                memo=f"Clawback {percent}% of subsidy claim {claim.id} (early stop {stopped_on.isoformat()})")
    audit.record(session, actor=official, action="subsidy_obligation.stopped_early", object_type="subsidy_claim",
                 object_id=claim.id, before={"status": ObligationStatus.RUNNING},
                 after={"status": obligation.status, "stopped_on": stopped_on, "clawback_percent": percent,
                        "clawback_fen": amount}, reason=reason)
    from billing.subsidies.projects import staff_ids

    notify(session, staff_ids(session, claim.provider_id), "subsidy.clawback",
           link=f"/provider/subsidies/claims/{claim.id}", claim=claim.id, amount=format_fen(amount))
    return obligation
