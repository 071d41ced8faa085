"""The programme lines a provider's statement shows without paying them that month.

For month M (registered as the programme funding's ``statement_notes``), read as of
M's end, so an old statement says what it said when it was settled:

- **pending**: served (completed) by M's end, not payable (consumed) by then and not
  released by then — carried to the next settlement.  The reason: the visit has no
  code and the resident has not confirmed it, or its open anomaly flags by label; and
  the date it is released unpaid unless proven (visit_money.release_deadline).
- **released**: released in M because it was not verified in time or a follow-up call
  found it not served (withheld): never paid.
- **clawback**: a paid visit found not served in M: what was taken back (the same
  ledger ``penalty`` the settlement nets).

Four statements in all, whatever the number of lines.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.periods import Period
from billing.programmes.models import EntitlementUse, ReleaseReason
from billing.programmes.visit_money import release_deadline
from billing.settlement_sources import StatementNote
from providers.bookings.models import Booking, BookingStatus, Funding
from providers.models import Listing
from providers.visits.models import VisitFlag, VisitRecord


def _visits(provider_id: int):
    return (sa.select(Booking.id, Booking.completed_at, Listing.title, EntitlementUse)
            .join(EntitlementUse, EntitlementUse.booking_id == Booking.id)
            .join(Listing, Listing.id == Booking.listing_id)
            .where(Booking.provider_id == provider_id, Booking.funding == Funding.PROGRAMME))


def pending_reason(record: VisitRecord | None, flag_labels: list[str]) -> str:
    """Why a served visit is not payable (yet)."""
    if record is None:
        why = _("No visit record: not checked in, no code, not confirmed by the resident")
    else:
        why = _("No code, not confirmed by the resident")
    if flag_labels:
        flagged = _("Flagged: %(rules)s", rules="; ".join(flag_labels))
        return f"{why} · {flagged}"
    return why


def pending_notes(session: Session, provider_id: int, period: Period) -> list[StatementNote]:
    _start, end = period.bounds()
    rows = session.execute(
        _visits(provider_id).add_columns(VisitRecord)
        .outerjoin(VisitRecord, VisitRecord.booking_id == Booking.id)
        .where(Booking.status == BookingStatus.COMPLETED, Booking.completed_at < end,
               sa.or_(EntitlementUse.consumed_at.is_(None), EntitlementUse.consumed_at >= end),
               sa.or_(EntitlementUse.released_at.is_(None), EntitlementUse.released_at >= end))
        .order_by(Booking.completed_at, Booking.id)).all()
    flags: dict[int, list[str]] = {}
    for flag in session.scalars(sa.select(VisitFlag).where(VisitFlag.booking_id.in_([r[0] for r in rows] or [-1]),
                                                           VisitFlag.cleared_at.is_(None))
                                .order_by(VisitFlag.booking_id, VisitFlag.id)):
        flags.setdefault(flag.booking_id, []).append(flag.rule_label)
    return [StatementNote("pending", booking_id, completed_at, title, use.amount_fen,
                          pending_reason(record, flags.get(booking_id, [])), release_deadline(completed_at))
            for booking_id, completed_at, title, use, record in rows]


def released_notes(session: Session, provider_id: int, period: Period) -> list[StatementNote]:
    start, end = period.bounds()
    rows = session.execute(
        _visits(provider_id)
        .where(EntitlementUse.release_reason.in_([ReleaseReason.UNVERIFIED, ReleaseReason.NOT_SERVED]),
               EntitlementUse.released_at >= start, EntitlementUse.released_at < end)
        .order_by(EntitlementUse.released_at, Booking.id)).all()
    return [StatementNote("released", booking_id, completed_at, title, use.amount_fen, use.release_label)
            for booking_id, completed_at, title, use in rows]


def clawback_notes(session: Session, provider_id: int, period: Period) -> list[StatementNote]:
    start, end = period.bounds()
    rows = session.execute(
        _visits(provider_id)
        .where(EntitlementUse.clawed_back_at >= start, EntitlementUse.clawed_back_at < end)
        .order_by(EntitlementUse.clawed_back_at, Booking.id)).all()
    return [StatementNote("clawback", booking_id, completed_at, title, use.amount_fen - use.deduction_fen,
                          _("Follow-up call found it not served: the payment is taken back"))
            for booking_id, completed_at, title, use in rows]


def statement_notes(session: Session, provider_id: int, period: Period) -> list[StatementNote]:
    """The month's pending, released and clawed-back programme visits, in that order."""
    return (pending_notes(session, provider_id, period) + released_notes(session, provider_id, period)
            + clawback_notes(session, provider_id, period))
