"""Billing's answers to supervision sanctions.

- A **fine**: when ratings announces that a sanction took effect
  (``ratings.supervision.sanctions.sanction_effective``) and it is a fine, billing
  computes it and posts it to the ledger as a ``penalty`` transaction: Dr
  ``provider_payable:<id>`` / Cr ``penalty_income``, caused by the penalty report,
  with the idempotency key ``penalty:<cause_type>:<cause_id>`` (posting twice posts
  once), and records the audit event ``penalty_report.fine_posted`` with the amount
  (0 when the provider earned nothing last month: nothing is posted).  That posting
  is where the fine is stored: :func:`fine_of` answers a review's fine from it, for
  ratings' pages (slots) and API (the ``supervision.fine_fen`` fact).  Nothing is
  returned to ratings.  :mod:`billing.settlements` deducts it at the next
  settlement; a fine larger than what the provider is owed leaves its payable
  negative (the provider owes Linli).

  The amount, Linli default: ``LINLI_FINE_PERCENT`` (5) % of the **gross** of the
  provider's last full month (its settlement's ``gross_fen``; when that month is
  not settled yet, the same sum read from its completed bookings), rounded half-up,
  capped at ``LINLI_FINE_CAP_FEN`` (500,000 fen = 5,000 yuan).  Gross, not net:
  the net already has earlier penalties and on-site collections taken off, and is
  often zero for a provider paid on site, which would make the fine meaningless.
- A **removal** (``providers.sanctions.provider_removed``) ends the provider's purchase-programme
  awards: one :class:`ProgrammeAwardEnding` row per award (unique), with its
  audit event.

Kept apart from billing/programmes (another team's package): only reads its awards.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, Session, mapped_column

from app import audit
from app.clock import now
from app.db import UTCDateTime
from app.extensions import db
from app.money import round_fen
from billing import ledger
from billing.models import Account, LedgerEntry, LedgerTransaction
from billing.programmes.models import ProgrammeAward
from billing.settlements import PENALTY_KIND, current_period, find_settlement
from providers.bookings.models import Booking, BookingStatus
from providers.sanctions import provider_removed
from ratings.supervision.models import Sanction
from ratings.supervision.sanctions import CAUSE_TYPE, sanction_effective

DEFAULT_FINE_PERCENT = 5
DEFAULT_FINE_CAP_FEN = 500_000


class ProgrammeAwardEnding(db.Model):
    """A purchase-programme award ended because its provider was removed."""

    __tablename__ = "programme_award_ending"

    award_id: Mapped[int] = mapped_column(sa.ForeignKey("programme_award.id"), primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    reason: Mapped[str] = mapped_column(sa.Text)


def fine_base(session: Session, provider_id: int) -> tuple[int, str]:
    """The gross of the provider's last full month (fen) and that month (``YYYY-MM``)."""
    period = current_period().previous()
    settlement = find_settlement(session, provider_id, period)
    if settlement is not None:
        return int(settlement.gross_fen), period.key
    start, end = period.bounds()
    gross = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Booking.price_fen), 0)).where(
            Booking.provider_id == provider_id, Booking.status == BookingStatus.COMPLETED,
            Booking.completed_at >= start, Booking.completed_at < end))
    return int(gross or 0), period.key


def fine_amount(session: Session, provider_id: int) -> int:
    base, _period = fine_base(session, provider_id)
    percent = Decimal(str(current_app.config.get("LINLI_FINE_PERCENT", DEFAULT_FINE_PERCENT)))
    cap = int(current_app.config.get("LINLI_FINE_CAP_FEN", DEFAULT_FINE_CAP_FEN))
    return min(round_fen(Decimal(base) * percent / 100), cap)


def on_sanction_effective(session: Session, *, report, review, provider, actor) -> None:
    """A fine took effect: post it (idempotent) and record what was posted."""
    if review.sanction != Sanction.FINE:
        return
    posted = post_fine(session, provider, cause_type=CAUSE_TYPE, cause_id=report.id)
    audit.record(session, actor=actor, action="penalty_report.fine_posted", object_type="penalty_report",
                 object_id=report.id, after={"provider_id": provider.id, "fine_fen": posted})


def post_fine(session: Session, provider, *, cause_type: str, cause_id: int) -> int:
    """Post the fine (idempotent); the amount in fen (0: nothing earned last month, nothing posted)."""
    amount = fine_amount(session, provider.id)
    if amount <= 0:
        return 0
    base, period = fine_base(session, provider.id)
    payable = ledger.provider_payable_code(provider.id)
    txn = ledger.post(
        session, kind=PENALTY_KIND, cause_type=cause_type, cause_id=cause_id,
        lines=[(payable, amount), ("penalty_income", -amount)],
        idempotency_key=f"penalty:{cause_type}:{cause_id}",
        memo=f"fine: {current_app.config.get('LINLI_FINE_PERCENT', DEFAULT_FINE_PERCENT)}% of {period} gross {base}",
    )
    # A second call returns the first posting: report what was really posted.
    posted = session.scalar(sa.select(LedgerEntry.amount_fen).join(Account, Account.id == LedgerEntry.account_id)
                            .where(LedgerEntry.transaction_id == txn.id, Account.code == payable))
    return int(posted or 0)


def fine_posted(session: Session, provider_id: int, *, cause_type: str, cause_id: int) -> int | None:
    """The fine posted for this cause (fen, from the ledger), or None when none was posted."""
    posted = session.scalar(
        sa.select(LedgerEntry.amount_fen)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerTransaction.idempotency_key == f"penalty:{cause_type}:{cause_id}",
               Account.code == ledger.provider_payable_code(provider_id)))
    return None if posted is None else int(posted)


def fine_of(review) -> int | None:
    """A penalty review's fine as billing stored it: None unless a fine is in effect;
    0 when nothing was posted (the provider earned nothing in the base month)."""
    if review is None or review.sanction != Sanction.FINE or review.effective_at is None:
        return None
    found = fine_posted(db.session, review.report.provider_id, cause_type=CAUSE_TYPE, cause_id=review.report_id)
    return found or 0


def on_provider_removed(session: Session, *, provider, actor, reason: str) -> None:
    """End every programme award of the removed provider (once each)."""
    awards = session.scalars(
        sa.select(ProgrammeAward).where(
            ProgrammeAward.provider_id == provider.id,
            ~sa.exists().where(ProgrammeAwardEnding.award_id == ProgrammeAward.id))).all()
    for award in awards:
        session.add(ProgrammeAwardEnding(award_id=award.id, ended_at=now(), reason=reason))
        session.flush()
        audit.record(session, actor=actor, action="programme.award_ended", object_type="programme",
                     object_id=award.programme_id, after={"award_id": award.id, "provider_id": provider.id},
                     reason=reason)


def is_ended(session: Session, award_id: int) -> bool:
    return session.get(ProgrammeAwardEnding, award_id) is not None


def connect(found) -> None:
    """Register the receivers and what ratings' pages and API show of a fine (app/registry.py)."""
    from flask import render_template

    found.receiver(sanction_effective, on_sanction_effective)
    found.receiver(provider_removed, on_provider_removed)
    found.fact("supervision.fine_fen", fine_of)
    found.slot("supervision.review.facts", lambda review: render_template(
        "billing/_review_fine.html", fine_fen=fine_of(review)))
    found.slot("supervision.sanction.money", lambda review: render_template(
        "billing/_sanction_fine.html", fine_fen=fine_of(review)))
