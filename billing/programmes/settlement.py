"""How monthly settlement pays programme-funded visits (the ``programme`` settlement source).

Registered with the programme funding rules (billing/programmes/entitlements.py,
``RULES``), so billing/settlements.py calls it without importing this package.

A programme visit is paid in the first monthly settlement after it became
payable: month M's settlement pays the visits served (completed) in or before M
whose entitlement was consumed — verified or cleared, billing/programmes/visit_money.py —
before M ended, and not paid yet.  The rule reads only stored times, so M's
lines are the same whenever M is settled; a visit proven after M ended is paid
with M+1.  Visits still unproven are pending on the statement
(billing/programmes/pending.py).  Each is paid from its programme at the
award's contract price, with no platform fee, less a performance deduction
(``LINLI_PROGRAMME_DEDUCTION_PERCENT``, default 10 %) when the provider's latest
evaluation grade is below standard (:data:`BELOW_STANDARD`, a set of
:class:`~ratings.supervision.models.Grade`).  Per settlement and programme, two
ledger transactions:

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
from app.periods import Period
from billing import ledger
from billing.payment_models import Settlement, SettlementLine, SettlementSource
from billing.programmes.models import EntitlementUse, UseStatus
from billing.programmes.programmes import budget_code, consumed_code
from billing.settlement_sources import Line
from providers.bookings.models import Booking, BookingStatus, Funding
from ratings.supervision.models import Grade

# Grades (DOMAIN.md: 优秀 / 良好 / 合格 / 不合格, and "new" for providers active < 90 days)
# whose visits are paid less the performance deduction.
BELOW_STANDARD = frozenset({Grade.UNQUALIFIED})


def provider_grade(session: Session, provider_id: int) -> Grade:
    """The provider's grade in its latest stored evaluation (ratings/supervision), as an
    official changed it on a grade review, if one did; ``Grade.NEW`` when it has never
    been evaluated, which means no deduction."""
    from ratings.supervision.grade_reviews import changed_grades
    from ratings.supervision.runs import latest_snapshot

    snapshot = latest_snapshot(session, provider_id)
    if snapshot is None:
        return Grade.NEW
    return Grade(changed_grades(session, [snapshot.id]).get(snapshot.id) or snapshot.grade)


def deduction_percent() -> Decimal:
    return Decimal(str(current_app.config.get("LINLI_PROGRAMME_DEDUCTION_PERCENT", 10)))


def deduction(amount_fen: int, percent: Decimal) -> int:
    """The deduction on one contract price, half-up to the fen, never more than the price."""
    return min(round_fen(Decimal(amount_fen) * percent / 100), amount_fen)


def payable_by(period: Period) -> sa.ColumnElement[bool]:
    """SQL (``EntitlementUse``, ``Booking`` joined): served by the month's end and payable
    (consumed) before it ended, not paid yet — what month ``period`` pays."""
    _start, end = period.bounds()
    return sa.and_(Booking.funding == Funding.PROGRAMME, Booking.status == BookingStatus.COMPLETED,
                   Booking.completed_at < end, EntitlementUse.status == UseStatus.CONSUMED,
                   EntitlementUse.consumed_at < end, EntitlementUse.settlement_id.is_(None),
                   ~sa.select(SettlementLine.id).where(SettlementLine.booking_id == Booking.id).exists())


def programme_lines(session: Session, provider_id: int, period: Period) -> list[Line]:
    """The provider's programme visits the month pays (:func:`payable_by`): the contract
    price less the deduction its grade calls for, no fee (one statement)."""
    percent = deduction_percent() if provider_grade(session, provider_id) in BELOW_STANDARD else Decimal(0)
    stmt = (sa.select(Booking, EntitlementUse.amount_fen)
            .join(EntitlementUse, EntitlementUse.booking_id == Booking.id)
            .where(Booking.provider_id == provider_id, payable_by(period))
            .order_by(Booking.completed_at, Booking.id))
    lines = []
    for booking, price in session.execute(stmt):
        taken = deduction(price, percent)
        lines.append(Line(SettlementSource.PROGRAMME, booking.id, booking.completed_at, price - taken, 0,
                          deduction_fen=taken))
    return lines


def providers_with_payable_visits(session: Session, period: Period) -> set[int]:
    """Providers the month pays programme visits to (some served in an earlier month)."""
    return set(session.scalars(sa.select(Booking.provider_id).distinct()
                               .join(EntitlementUse, EntitlementUse.booking_id == Booking.id)
                               .where(payable_by(period))))


def post_payments(session: Session, settlement: Settlement, lines: list[Line]) -> None:
    """Record the settlement on the visits' entitlement uses and post the programme payments
    (idempotent keys per settlement and programme)."""
    from billing.payouts import gateway_name

    taken = {line.booking_id: line.deduction_fen for line in lines}
    uses = session.scalars(sa.select(EntitlementUse).where(EntitlementUse.booking_id.in_(list(taken)))
                           .order_by(EntitlementUse.id))
    by_programme: dict[int, list[EntitlementUse]] = {}
    for use in uses:
        use.deduction_fen = taken[use.booking_id]
        use.settlement_id = settlement.id
        by_programme.setdefault(use.programme_id, []).append(use)
    gateway = gateway_name()
    payable = ledger.provider_payable_code(settlement.provider_id)
    for programme_id, group in sorted(by_programme.items()):
        price = sum(u.amount_fen for u in group)
        deducted = sum(u.deduction_fen for u in group)
        paid = price - deducted
        entries = [(consumed_code(programme_id), price), (payable, -paid), (budget_code(programme_id), -deducted)]
        ledger.post(session, kind="programme_payment", cause_type="settlement", cause_id=settlement.id,
                    lines=[entry for entry in entries if entry[1]],
                    idempotency_key=f"settlement:{settlement.id}:programme:{programme_id}",
                    memo=f"Programme {programme_id}, {settlement.period}: {len(group)} visits")
        if paid:
            ledger.post(session, kind="programme_funds", cause_type="settlement", cause_id=settlement.id,
                        lines=[(ledger.gateway_code(gateway), paid), ("programme_fund", -paid)],
                        idempotency_key=f"settlement:{settlement.id}:programme:{programme_id}:funds",
                        memo=f"Programme {programme_id} funds for {settlement.period}")
    session.flush()
