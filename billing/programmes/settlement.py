"""How monthly settlement pays programme-funded visits (called by billing/settlements.py).

A completed visit booked with an entitlement is paid from its programme at the
award's contract price, with no platform fee, less a performance deduction
(``LINLI_PROGRAMME_DEDUCTION_PERCENT``, default 10 %) when the provider's latest
evaluation grade is below standard.  Per settlement and programme, two ledger
transactions:

- ``programme_payment``: Dr ``programme_consumed:<id>`` (contract price) /
  Cr ``provider_payable:<provider>`` (paid) / Cr ``programme_budget:<id>``
  (deduction: money the programme did not spend goes back to its budget);
- ``programme_funds``: Dr ``gateway_clearing:<gateway>`` / Cr ``programme_fund``
  (the finance bureau transfers what is paid, so the payout can draw on it).
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.money import round_fen
from billing import ledger
from billing.programmes.models import EntitlementUse, UseStatus
from billing.programmes.programmes import budget_code, consumed_code

# Grades (DOMAIN.md: 优秀 / 良好 / 合格 / 不合格, and "new" for providers active < 90 days).
BELOW_STANDARD = frozenset({"unqualified", "below_standard"})


def provider_grade(session: Session, provider_id: int) -> str:
    """The provider's grade in its latest stored evaluation (ratings/supervision);
    "new" when it has never been evaluated, which means no deduction."""
    from ratings.supervision.runs import latest_snapshot

    snapshot = latest_snapshot(session, provider_id)
    return "new" if snapshot is None else str(snapshot.grade)


def deduction_percent() -> Decimal:
    return Decimal(str(current_app.config.get("LINLI_PROGRAMME_DEDUCTION_PERCENT", 10)))


def is_programme_booking(booking) -> bool:
    session = sa.inspect(booking).session
    if session is None:
        return False
    return bool(session.scalar(sa.select(sa.exists().where(EntitlementUse.booking_id == booking.id))))


def funded_uses(session: Session, booking_ids: list[int]) -> dict[int, EntitlementUse]:
    """The consumed, unsettled entitlement uses of these bookings, by booking id."""
    if not booking_ids:
        return {}
    uses = session.scalars(sa.select(EntitlementUse).where(
        EntitlementUse.booking_id.in_(booking_ids), EntitlementUse.status == UseStatus.CONSUMED,
        EntitlementUse.settlement_id.is_(None)))
    return {use.booking_id: use for use in uses}


def price_use(session: Session, use: EntitlementUse, provider_id: int) -> int:
    """Set the use's deduction by the provider's grade; return what the provider is paid."""
    percent = deduction_percent() if provider_grade(session, provider_id) in BELOW_STANDARD else Decimal(0)
    use.deduction_fen = min(round_fen(Decimal(use.amount_fen) * percent / 100), use.amount_fen)
    return use.amount_fen - use.deduction_fen


def post_payments(session: Session, settlement, uses: list[EntitlementUse], gateway: str) -> None:
    """Post the programme payments of a settlement (idempotent keys per settlement and programme)."""
    by_programme: dict[int, list[EntitlementUse]] = {}
    for use in uses:
        use.settlement_id = settlement.id
        by_programme.setdefault(use.programme_id, []).append(use)
    payable = ledger.provider_payable_code(settlement.provider_id)
    for programme_id, group in sorted(by_programme.items()):
        price = sum(u.amount_fen for u in group)
        deduction = sum(u.deduction_fen for u in group)
        paid = price - deduction
        lines = [(consumed_code(programme_id), price), (payable, -paid), (budget_code(programme_id), -deduction)]
        ledger.post(session, kind="programme_payment", cause_type="settlement", cause_id=settlement.id,
                    lines=[line for line in lines if line[1]],
                    idempotency_key=f"settlement:{settlement.id}:programme:{programme_id}",
                    memo=f"Programme {programme_id}, {settlement.period}: {len(group)} visits")
        if paid:
            ledger.post(session, kind="programme_funds", cause_type="settlement", cause_id=settlement.id,
                        lines=[(ledger.gateway_code(gateway), paid), ("programme_fund", -paid)],
                        idempotency_key=f"settlement:{settlement.id}:programme:{programme_id}:funds",
                        memo=f"Programme {programme_id} funds for {settlement.period}")
    session.flush()
