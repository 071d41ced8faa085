"""The audit trail: who did what to which object, when, and what changed.

Officials' and providers' state changes call :func:`record` inside the same
transaction as the change itself, so there is never a change without its event
(or an event without its change).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.clock import now
from app.db import UTCDateTime
from app.extensions import db
from app.models import User


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_object", "object_type", "object_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[int] = mapped_column()
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)
    reason: Mapped[str | None] = mapped_column(sa.Text)

    actor: Mapped[User | None] = relationship()


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return value


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: int,
    before: dict | None = None,
    after: dict | None = None,
    reason: str | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction (flushed, not committed)."""
    event = AuditEvent(
        at=now(),
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=_plain(before),
        after=_plain(after),
        reason=reason,
    )
    session.add(event)
    session.flush()
    return event


def trail(session: Session, object_type: str, object_id: int) -> list[AuditEvent]:
    """The events of one object, oldest first."""
    stmt = (
        sa.select(AuditEvent)
        .where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return list(session.scalars(stmt))


# --- what people read for an event ------------------------------------------------------------
#
# Every action code written anywhere (``record(action=...)``) has a label here, in English
# (the msgid) and in Chinese (the catalogue); tests/test_audit_labels.py greps the sources for
# the codes and fails on one without a label.  Codes built from a state (``booking.<status>``,
# ``listing.<status>``…) are listed state by state.  A code not listed reads as the generic
# :data:`UNKNOWN_ACTION`, never as the raw code.

ACTION_LABELS: dict[str, Any] = {
    # providers
    "provider.registered": _l("Registered"),
    "provider.updated": _l("Details changed"),
    "provider.resubmitted": _l("Resubmitted for review"),
    "provider.approve": _l("Approved"),
    "provider.reject": _l("Rejected"),
    "provider.suspend": _l("Suspended"),
    "provider.reinstate": _l("Reinstated"),
    "provider.removed": _l("Provider removed"),
    "provider.sanction_suspended": _l("Provider suspended by a sanction"),
    "provider.change_requested": _l("Change requested"),
    "provider.change_withdrawn": _l("Change withdrawn"),
    "provider.change_approved": _l("Change approved"),
    "provider.change_rejected": _l("Change rejected"),
    "document.uploaded": _l("Document uploaded"),
    # listings
    "listing.created": _l("Listing created"),
    "listing.updated": _l("Listing changed"),
    "listing.payment_policy_changed": _l("Payment rule of the listing changed"),
    "listing.draft": _l("Listing back to draft"),
    "listing.published": _l("Listing published"),
    "listing.paused": _l("Listing paused"),
    "listing.archived": _l("Listing archived"),
    # carers
    "carer.added": _l("Carer added"),
    "carer.updated": _l("Carer's details changed"),
    "carer.activated": _l("Carer activated"),
    "carer.qualification_added": _l("Carer's qualification added"),
    "carer.qualification_removed": _l("Carer's qualification removed"),
    # bookings
    "booking.requested": _l("Booking requested"),
    "booking.accepted": _l("Booking accepted"),
    "booking.declined": _l("Booking declined"),
    "booking.expired": _l("Booking expired"),
    "booking.in_service": _l("Service started"),
    "booking.completed": _l("Service completed"),
    "booking.cancelled_by_resident": _l("Cancelled by the resident"),
    "booking.cancelled_by_provider": _l("Cancelled by the provider"),
    "booking.no_show_provider": _l("Provider did not come"),
    "booking.no_show_resident": _l("Resident was not there"),
    "booking.contact_viewed": _l("Resident's contact viewed"),
    "booking.carer_changed": _l("Carer changed"),
    # visits
    "visit.evidence_viewed": _l("Visit evidence viewed"),
    "visit.code_locked": _l("Visit code locked"),
    "visit.cleared": _l("Visit cleared"),
    "visit_flag.cleared": _l("Visit flag cleared"),
    "home_location.viewed": _l("Home location viewed"),
    "home_location.corrected": _l("Home location corrected"),
    "code_card.issued": _l("Code card issued"),
    "code_card.revoked": _l("Code card revoked"),
    "follow_up.recorded": _l("Follow-up call recorded"),
    "follow_up.phone_viewed": _l("Phone number viewed for a follow-up call"),
    # ratings and complaints
    "rating.hidden": _l("Rating hidden"),
    "rating.unhidden": _l("Rating shown again"),
    "rating.replied": _l("Provider replied to a rating"),
    "complaint.responded": _l("Provider responded to the complaint"),
    "complaint.open": _l("Complaint reopened"),
    "complaint.upheld": _l("Complaint upheld"),
    "complaint.dismissed": _l("Complaint dismissed"),
    # supervision
    "supervision.run": _l("Supervision run"),
    "supervision.booking_excluded": _l("Booking excluded from supervision"),
    "supervision.rule_set.publish": _l("Rule set published"),
    "supervision.rule_set.version": _l("New rule set version"),
    "supervision.rule_set.withdraw": _l("Rule set withdrawn"),
    "supervision.rule_set.comment": _l("Comment on a rule set"),
    "supervision.grade_review.request": _l("Grade review requested"),
    "supervision.grade_review.decide": _l("Grade review decided"),
    "penalty_report.confirmed": _l("Penalty report confirmed"),
    "penalty_report.dismissed": _l("Penalty report dismissed"),
    "penalty_report.effective": _l("Penalty in effect"),
    "penalty_report.fine_posted": _l("Fine posted"),
    "penalty_report.removal_first_approval": _l("Removal approved by the first official"),
    "penalty_report.appealed": _l("Penalty appealed"),
    "penalty_report.appeal_evidence_added": _l("Evidence added to the appeal"),
    "penalty_report.appeal_rejected": _l("Appeal rejected"),
    "penalty_report.overturned": _l("Penalty overturned"),
    # programmes
    "programme.created": _l("Programme created"),
    "programme.updated": _l("Programme changed"),
    "programme.draft": _l("Programme back to draft"),
    "programme.open": _l("Programme opened"),
    "programme.closed": _l("Programme closed"),
    "programme.evaluated": _l("Programme evaluated"),
    "programme.withdrawn": _l("Programme withdrawn"),
    "programme.budget_topped_up": _l("Budget topped up"),
    "programme.awarded": _l("Provider awarded"),
    "programme.award_ended": _l("Provider's award ended"),
    "programme.evaluator_appointed": _l("Evaluator appointed"),
    "programme.evaluator_ended": _l("Evaluator's appointment ended"),
    "enrolment.enrolled": _l("Resident enrolled"),
    "enrolment.rejected": _l("Enrolment refused"),
    "enrolment.withdrawn": _l("Enrolment withdrawn"),
    "entitlement.withheld": _l("Entitlement withheld"),
    "entitlement.released_unverified": _l("Entitlement released without verification"),
    "entitlement.clawed_back": _l("Entitlement clawed back"),
    # subsidies
    "subsidy_project.registered": _l("Subsidy project registered"),
    "subsidy_policy.versioned": _l("New subsidy policy version"),
    "subsidy_tier_cap.versioned": _l("New cap for a tier"),
    "subsidy_obligation.stopped_early": _l("Obligation stopped early"),
    "subsidy_claim.filed": _l("Claim filed"),
    "subsidy_claim.verified": _l("Claim verified"),
    "subsidy_claim.approved": _l("Claim approved"),
    "subsidy_claim.rejected": _l("Claim rejected"),
    "subsidy_claim.disbursed": _l("Subsidy paid out"),
    "subsidy_claim.objection_filed": _l("Objection filed"),
    "subsidy_claim.objection_upheld": _l("Objection upheld"),
    "subsidy_claim.objection_dismissed": _l("Objection dismissed"),
    "subsidy_claim.objection_abusive": _l("Objection dismissed as abusive"),
    # money
    "payout.bank_transfer_confirmed": _l("Bank transfer confirmed"),
    # accounts (recovery)
    "account.password_reset": _l("Password reset by text-message code"),
    "account.password_reset_assisted": _l("Password reset with help, after an identity check"),
    "account.temporary_password_replaced": _l("Temporary password replaced by her own"),
    # grids
    "street.created": _l("Street added"),
    "community.street_set": _l("Community placed under a street"),
    "grid.created": _l("Grid added"),
    "grid.renamed": _l("Grid changed"),
    "grid.retired": _l("Grid retired"),
    "grid_assignment.created": _l("Grid worker assigned"),
    "grid_assignment.ended": _l("Grid worker's assignment ended"),
    "household.created": _l("Household added"),
    "household.member_added": _l("Resident put in a household"),
    "household.member_removed": _l("Resident taken out of a household"),
    "household.retired": _l("Household retired"),
    # listings' photos, the provider's phone, messages
    "listing.photos_added": _l("Photos added"),
    "listing.photo_removed": _l("Photo removed"),
    "booking.provider_phone_shown": _l("Provider's phone shown to the resident"),
    "outbox.retry": _l("Message sent again"),
}

UNKNOWN_ACTION = _l("Other change")


def action_label(action: str | None) -> str:
    """What an action code reads as, in the reader's language (a generic label for an unknown code)."""
    return str(ACTION_LABELS.get(action or "", UNKNOWN_ACTION))


def actor_label(event: AuditEvent) -> str:
    """Who did it: the person's name, or Linli itself (a scheduled job, a command) when nobody did."""
    return event.actor.name if event.actor is not None else str(SYSTEM_ACTOR)


SYSTEM_ACTOR = _l("Linli (automatic)")  # as a booking's history says it (providers/bookings/views.py)
