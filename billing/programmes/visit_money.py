"""Programme money pays only proven visits: what verification, follow-up calls and the
deadline do to a programme-funded visit's money.

The rule (issue 13, "Money and supervision"):

- A served visit's entitlement stays **reserved** until the visit is verified (code,
  card, the resident's or a proxy's confirmation, a follow-up call) or an official
  clears it; then it is **consumed** in the same transaction (:func:`on_visit_verified`,
  a receiver on :data:`providers.visits.verification.visit_verified`).  A visit
  verified before its booking completed is consumed on completion
  (billing/programmes/entitlements.py, ``is_proven``).
- Settlement of month M pays the visits served (completed) in or before M that were
  consumed before M ended (billing/programmes/settlement.py): a visit is paid in the
  first monthly settlement after it became payable.  Served visits not payable by then
  are **pending** on M's statement (billing/programmes/pending.py) and carried to the
  next month.
- A served visit neither verified nor cleared :func:`verify_days` days (default 30,
  ``LINLI_PROGRAMME_VERIFY_DAYS``) after its check-out (``booking.completed_at``) is
  **released unpaid** by the daily job (:func:`release_overdue`, reason ``unverified``),
  and the provider's staff are told.
- A follow-up call that records **not served** (:func:`on_follow_up_recorded`) withholds
  the money of a visit not paid yet (released, reason ``not_served``) or, once paid,
  claws it back: Dr ``provider_payable:<provider>`` / Cr ``programme_budget:<id>`` for
  what was paid, kind ``penalty`` so the next settlement nets it, idempotency key
  ``clawback:visit:<booking_id>``.  Both are idempotent (a released use is not
  released again; the clawback is posted once, ``clawed_back_at`` records it).

Every change writes an audit event in the caller's transaction; notifications are
queued in it too (sent after commit by the outbox).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.clock import now
from app.models import User
from app.money import fen_to_yuan
from app.notifications import notify
from billing import ledger
from billing.programmes.entitlements import consume, is_proven, release, use_of
from billing.programmes.models import EntitlementUse, ReleaseReason, UseStatus
from billing.programmes.programmes import budget_code
from billing.settlements import PENALTY_KIND
from providers.bookings.models import Booking, BookingStatus, Funding
from providers.models import ProviderStaff
from providers.visits.models import VisitRecord
from providers.visits.verification import settleable
from ratings.followups.models import CallOutcome, CallStatus

U = UseStatus

# Notification kinds, registered by the package's init_app.
NOTIFICATIONS = {
    "programme.visit_released_unverified": _l(
        "Visit #%(booking)s was not verified within %(days)s days of check-out: its programme money "
        "is released unpaid."),
    "programme.visit_withheld": _l(
        "A follow-up call found visit #%(booking)s not served: its programme money is withheld."),
    "programme.visit_clawed_back": _l(
        "A follow-up call found visit #%(booking)s not served: the %(amount)s paid for it is taken back "
        "from your next settlement."),
}


def verify_days() -> int:
    """Days after check-out within which a programme visit must be verified or cleared."""
    return int(current_app.config.get("LINLI_PROGRAMME_VERIFY_DAYS", 30))


def release_deadline(completed_at: datetime) -> datetime:
    return completed_at + timedelta(days=verify_days())


def staff_ids(session: Session, provider_id: int) -> list[int]:
    return list(session.scalars(sa.select(ProviderStaff.user_id).where(ProviderStaff.provider_id == provider_id)
                                .order_by(ProviderStaff.user_id)))


def _locked_use(session: Session, booking_id: int) -> EntitlementUse | None:
    """The booking's entitlement use, re-read under a row lock (PostgreSQL) so two writers
    (a call and the job, say) cannot both move it."""
    return session.scalar(sa.select(EntitlementUse).where(EntitlementUse.booking_id == booking_id)
                          .with_for_update().execution_options(populate_existing=True))


def on_visit_verified(session: Session, *, booking: Booking, record: VisitRecord, method, actor) -> None:
    """A visit was verified or cleared: a served programme visit becomes payable now."""
    if booking.funding != Funding.PROGRAMME or booking.status != BookingStatus.COMPLETED:
        return  # not programme money, or not served yet (consumed on completion then)
    use = _locked_use(session, booking.id)
    if use is not None and use.status == U.RESERVED:
        consume(session, use)


def on_follow_up_recorded(session: Session, *, call, actor: User | None) -> None:
    """A follow-up call's outcome was recorded: "not served" withholds or claws back."""
    if call.status != CallStatus.DONE or call.outcome != CallOutcome.NOT_SERVED:
        return
    not_served(session, call.booking_id, actor)


def not_served(session: Session, booking_id: int, actor: User | None) -> str | None:
    """Withhold (unpaid) or claw back (paid) the programme money of a visit found not
    served.  Returns ``"withheld"``, ``"clawed_back"`` or None (nothing to do: not a
    programme visit, released already, clawed back already)."""
    if use_of(session, booking_id) is None:
        return None
    use = _locked_use(session, booking_id)
    if use.status == U.RELEASED or use.clawed_back_at is not None:
        return None
    booking = session.get(Booking, booking_id)
    if use.settlement_id is None:
        before = use.status.value
        release(session, use, ReleaseReason.NOT_SERVED)
        audit.record(session, actor=actor, action="entitlement.withheld", object_type="booking",
                     object_id=booking_id, before={"status": before},
                     after={"status": use.status.value, "release_reason": use.release_reason.value})
        notify(session, staff_ids(session, booking.provider_id), "programme.visit_withheld",
               link="/provider/statements", booking=booking_id)
        return "withheld"
    paid = use.amount_fen - use.deduction_fen
    if paid:
        ledger.post(session, kind=PENALTY_KIND, cause_type="booking", cause_id=booking_id,
                    lines=[(ledger.provider_payable_code(booking.provider_id), paid),
                           (budget_code(use.programme_id), -paid)],
                    idempotency_key=f"clawback:visit:{booking_id}",
                    memo=f"Clawback: visit {booking_id} not served (follow-up call)")
    use.clawed_back_at = now()
    session.flush()
    audit.record(session, actor=actor, action="entitlement.clawed_back", object_type="booking",
                 object_id=booking_id, before={"settlement_id": use.settlement_id},
                 after={"clawed_back_fen": paid})
    notify(session, staff_ids(session, booking.provider_id), "programme.visit_clawed_back",
           link="/provider/statements", booking=booking_id, amount=f"¥{fen_to_yuan(paid):.2f}")
    return "clawed_back"


def overdue_booking_ids(session: Session) -> list[int]:
    """Served programme visits still reserved (neither verified nor cleared) whose
    check-out is more than :func:`verify_days` days ago."""
    proven = sa.select(VisitRecord.booking_id).where(VisitRecord.booking_id == Booking.id, settleable())
    return list(session.scalars(
        sa.select(Booking.id).join(EntitlementUse, EntitlementUse.booking_id == Booking.id)
        .where(EntitlementUse.status == U.RESERVED, Booking.status == BookingStatus.COMPLETED,
               Booking.completed_at <= now() - timedelta(days=verify_days()), ~proven.exists())
        .order_by(Booking.id)))


def release_overdue(session: Session) -> int:
    """Release unpaid every overdue unverified visit (reason ``unverified``, audited with no
    actor: the system) and tell its provider's staff.  Flushes, never commits; returns how
    many were released.  Idempotent: each use is re-read under a lock and checked again."""
    released = 0
    for booking_id in overdue_booking_ids(session):
        use = _locked_use(session, booking_id)
        if use is None or use.status != U.RESERVED or is_proven(session, booking_id):
            continue  # verified, cleared or released meanwhile
        release(session, use, ReleaseReason.UNVERIFIED)
        audit.record(session, actor=None, action="entitlement.released_unverified", object_type="booking",
                     object_id=booking_id, before={"status": U.RESERVED.value},
                     after={"status": use.status.value, "release_reason": use.release_reason.value})
        booking = session.get(Booking, booking_id)
        notify(session, staff_ids(session, booking.provider_id), "programme.visit_released_unverified",
               link="/provider/statements", booking=booking_id, days=verify_days())
        released += 1
    return released


def connect() -> None:
    """Listen to verification and follow-up calls (idempotent: blinker keeps one
    connection per receiver)."""
    from providers.visits.verification import visit_verified
    from ratings.followups.models import follow_up_recorded

    visit_verified.connect(on_visit_verified)
    follow_up_recorded.connect(on_follow_up_recorded)
