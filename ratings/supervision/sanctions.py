"""A confirmed sanction takes effect: when its appeal window has passed
(:func:`apply_due_sanctions`, a scheduler job) or when its appeal is rejected.

Each effect goes through the owning domain, in the caller's transaction, with
this module's audit event ``penalty_report.effective``:

- warning: only recorded (the scorecard lists sanctions in effect, :func:`history`);
- fine: announced with :data:`sanction_effective`; the fine is money, so billing
  computes it, posts it to the ledger and stores it on its side
  (billing/supervision_receivers.py).  Ratings neither reads a return value nor
  stores an amount; its pages and API show billing's figure through a slot and the
  ``supervision.fine_fen`` fact (app/registry.py);
- suspension: :func:`providers.sanctions.suspend` (lifts itself at its end);
- removal: :func:`providers.sanctions.remove` (bookings cancelled and refunded,
  programme awards ended, credit code barred).
"""

from __future__ import annotations

import sqlalchemy as sa
from blinker import signal
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.clock import local, now
from app.db import write_transaction
from app.models import User
from app.notifications import notify
from providers import sanctions as provider_sanctions
from providers.bookings.services import staff_ids
from providers.models import Provider, ProviderStatus
from ratings.supervision.models import PenaltyReport, ReportStatus, Sanction
from ratings.supervision.sanction_models import PenaltyReview

CAUSE_TYPE = "penalty_report"
# A sanction on record: confirmed (appeal window running), appealed, or in effect.
SANCTIONED = (ReportStatus.CONFIRMED, ReportStatus.APPEALED, ReportStatus.EFFECTIVE)

# Sent inside the transaction when a sanction takes effect, after its effect on the
# provider: (session, report=, review=, provider=, actor=).  Receivers act and store
# their own results; nothing they return is read.
sanction_effective = signal("linli.sanction-effective")

# Notification kinds, registered by the package's init_app.
NOTIFICATIONS = {
    "supervision.effective": _l("The sanction of penalty report #%(report)s is now in effect: %(sanction)s."),
}


def _reason(report: PenaltyReport) -> str:
    from ratings.supervision.reports import threshold_label

    return str(_l("Supervision: penalty report #%(n)d (%(metric)s).", n=report.id,
                  metric=threshold_label(report.metric)))


def take_effect(session: Session, report: PenaltyReport, review: PenaltyReview, *, actor: User | None) -> None:
    """Move the report to *effective* and apply its sanction (the report row is locked by the caller)."""
    old = report.transition_to(ReportStatus.EFFECTIVE)
    review.effective_at = report.status_changed_at
    provider = session.get(Provider, report.provider_id, with_for_update=True)
    reason = _reason(report)
    if review.sanction == Sanction.SUSPENSION and provider.status != ProviderStatus.REMOVED:
        review.suspended_until = provider_sanctions.suspend(session, provider, actor=actor, reason=reason)
    elif review.sanction == Sanction.REMOVAL and provider.status != ProviderStatus.REMOVED:
        provider_sanctions.remove(session, provider, actor=actor, reason=reason)
    session.flush()
    sanction_effective.send(session, report=report, review=review, provider=provider, actor=actor)
    audit.record(session, actor=actor, action="penalty_report.effective", object_type="penalty_report",
                 object_id=report.id, before={"status": old},
                 after={"status": report.status, "sanction": review.sanction,
                        "suspended_until": review.suspended_until, "provider_status": provider.status})
    notify(session, staff_ids(session, report.provider_id), "supervision.effective",
           link=f"/provider/supervision/reports/{report.id}/appeal", report=report.id,
           sanction=review.sanction.value)


def apply_due_sanctions(session: Session) -> int:
    """Confirmed sanctions whose appeal window has passed take effect (idempotent: each report
    is re-read under a row lock and moves only from *confirmed*)."""
    with write_transaction(session):
        due = session.scalars(
            sa.select(PenaltyReport.id).join(PenaltyReview, PenaltyReview.report_id == PenaltyReport.id)
            .where(PenaltyReport.status == ReportStatus.CONFIRMED, PenaltyReview.appeal_deadline <= now())
            .order_by(PenaltyReport.id)).all()
        applied = 0
        for report_id in due:
            report = session.scalar(sa.select(PenaltyReport).where(PenaltyReport.id == report_id).with_for_update())
            if report is None or report.status != ReportStatus.CONFIRMED:
                continue
            review = session.scalar(sa.select(PenaltyReview).where(PenaltyReview.report_id == report_id))
            take_effect(session, report, review, actor=None)
            applied += 1
        return applied


def history(session: Session, provider_id: int, limit: int = 50) -> list[PenaltyReview]:
    """The provider's confirmed and effective sanctions, newest first (the scorecard shows them)."""
    return list(session.scalars(
        sa.select(PenaltyReview).join(PenaltyReport, PenaltyReport.id == PenaltyReview.report_id)
        .options(joinedload(PenaltyReview.report))
        .where(PenaltyReport.provider_id == provider_id,
               PenaltyReport.status.in_(SANCTIONED))
        .order_by(PenaltyReview.confirmed_at.desc(), PenaltyReview.id.desc()).limit(limit)))


def suspension_text(provider: Provider) -> str | None:
    if provider_sanctions.is_suspended(provider):
        return local(provider.suspended_until).strftime("%Y-%m-%d %H:%M")
    return None


# (job, APScheduler trigger arguments): every 15 minutes, so a sanction takes effect
# within a quarter of an hour of its appeal window closing.
JOBS = [(apply_due_sanctions, {"trigger": "cron", "minute": "*/15"})]
