"""The programme funding's rules for billing (registered by ``register_programmes``):
what a programme-funded booking's changes do (billing/programmes/entitlements.py) and
its settlement source (billing/programmes/settlement.py) and the statement's pending,
released and clawed-back visits (billing/programmes/pending.py)."""

from __future__ import annotations

from billing.funding import FundingRules
from billing.payment_models import SettlementSource
from billing.programmes import entitlements, pending, settlement
from providers.bookings.models import Funding

RULES = FundingRules(
    Funding.PROGRAMME,
    booking_changed=entitlements.on_booking_changed,
    settlement_sources={SettlementSource.PROGRAMME: settlement.programme_lines},
    post_settlement=settlement.post_payments,
    providers_to_settle=settlement.providers_with_payable_visits,
    statement_notes=pending.statement_notes,
)
