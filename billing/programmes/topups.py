"""Topping up an open programme's budget.

The money moves like the opening budget: Dr ``programme_fund`` / Cr
``programme_budget:<id>``, kind ``programme_budget`` (so the budget view counts
it as committed, never as spending), key ``programme:<id>:topup:<n>`` for the
n-th top-up.  The programme row is locked by the caller (``for_update``; on
SQLite the caller opens the transaction with ``write_transaction``), so two
top-ups at once are counted one after the other.  ``budget_fen`` follows the
committed total.  An audit event records the amount and the reason.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.errors import Conflict, Forbidden, Invalid
from app.models import User
from billing import ledger
from billing.models import LedgerTransaction
from billing.programmes.models import ProgrammeStatus, PurchaseProgramme
from billing.programmes.programmes import MAX_BUDGET_FEN, budget_code

KIND = "programme_budget"


def _key(programme_id: int, n: int) -> str:
    return f"programme:{programme_id}:topup:{n}"


def check_amount(amount_fen) -> int:
    """The top-up in fen, or Invalid with what is wrong (field ``amount_fen``)."""
    if amount_fen is None or (isinstance(amount_fen, str) and not amount_fen.strip()):
        raise Invalid(_l("Enter the amount to add to the budget."), field="amount_fen")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise Invalid(_l("Enter the amount to add as a number, e.g. 5000 or 99.50 yuan."), field="amount_fen")
    if amount_fen < 0:
        raise Invalid(_l("A top-up cannot be negative: the budget can only be increased."), field="amount_fen")
    if amount_fen == 0:
        raise Invalid(_l("A top-up must add more than zero."), field="amount_fen")
    return amount_fen


def top_ups(session: Session, programme_id: int) -> list[LedgerTransaction]:
    """The programme's top-ups, oldest first."""
    return list(session.scalars(
        sa.select(LedgerTransaction).where(LedgerTransaction.cause_type == "programme",
                                           LedgerTransaction.cause_id == programme_id,
                                           LedgerTransaction.idempotency_key.like(f"programme:{programme_id}:topup:%"))
        .order_by(LedgerTransaction.id)))


def top_up(session: Session, programme: PurchaseProgramme, official: User, *, amount_fen, reason: str | None) -> int:
    """Add ``amount_fen`` to an open programme's budget; returns the new committed budget.

    Refused (nothing written): not an official (403); amount missing, not a
    number, negative or zero, or the total above the plausible maximum (422,
    field ``amount_fen``); no reason (422, field ``reason``); a programme that
    is not open (409)."""
    if not official.is_official:
        raise Forbidden(_l("Only officials manage purchase programmes."))
    amount = check_amount(amount_fen)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Say why the budget is topped up: the reason is recorded."), field="reason")
    if len(reason) > 1000:
        raise Invalid(_l("The reason is too long (1000 characters at most)."), field="reason")
    if programme.status != ProgrammeStatus.OPEN:
        raise Conflict(_l("Only an open programme's budget can be topped up; this one is: %(status)s.",
                          status=programme.status_label))
    before = programme.budget_fen
    if before + amount > MAX_BUDGET_FEN:
        raise Invalid(_l("The budget would be implausibly large; check the amount."), field="amount_fen")
    key = _key(programme.id, len(top_ups(session, programme.id)) + 1)
    if session.scalar(sa.select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == key)):
        raise Conflict(_l("Another top-up was recorded at the same moment; reload the page and check the budget."))
    ledger.post(session, kind=KIND, cause_type="programme", cause_id=programme.id,
                lines=[("programme_fund", amount), (budget_code(programme.id), -amount)],
                idempotency_key=key, memo=f"Top-up of programme {programme.id}: {reason}")
    programme.budget_fen = before + amount
    session.flush()
    audit.record(session, actor=official, action="programme.budget_topped_up", object_type="programme",
                 object_id=programme.id, before={"budget_fen": before},
                 after={"budget_fen": programme.budget_fen, "amount_fen": amount}, reason=reason)
    return programme.budget_fen
