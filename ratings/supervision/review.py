"""Officials review penalty reports: confirm (possibly changing the sanction, with a
reason) or dismiss (with a reason).

- A warning, a fine or a suspension is confirmed by one official.
- A **removal** needs two different officials: the first approval leaves the
  report *proposed* and asks the other officials; the same official approving
  again is refused with a specific message (and by the database's CHECK).
- Confirming starts the appeal window: the provider may appeal until the end of
  the 7th local day after (``LINLI_APPEAL_DAYS``).  The sanction takes effect
  when the window has passed (:func:`ratings.supervision.sanctions.apply_due_sanctions`)
  or when an appeal is rejected (:mod:`.appeals`).

Every decision writes its audit event in the caller's transaction and notifies.
Services flush, never commit.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.clock import local, now, zone
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import Role, User
from app.notifications import notify
from providers.bookings.services import staff_ids
from ratings.supervision.models import REPORT_MACHINE, PenaltyReport, ReportStatus, Sanction
from ratings.supervision.sanction_models import PenaltyReview

MAX_REASON = 2000

# Notification kinds, registered by the package's init_app.
NOTIFICATIONS = {
    "supervision.confirmed": _l("Penalty report #%(report)s is confirmed: %(sanction)s. You may appeal with a plan of "
                                "action until %(deadline)s; after that it takes effect."),
    "supervision.second_approval": _l("Penalty report #%(report)s proposes removing %(provider)s: a second official "
                                      "must approve it."),
    "supervision.dismissed": _l("Penalty report #%(report)s was dismissed: %(reason)s"),
}


def appeal_days() -> int:
    return int(current_app.config.get("LINLI_APPEAL_DAYS", 7))


def appeal_deadline(confirmed_at: datetime) -> datetime:
    """The end of the 7th local (Asia/Shanghai) day after the confirmation day, in UTC."""
    day = local(confirmed_at).date() + timedelta(days=appeal_days() + 1)
    return datetime.combine(day, time(0), tzinfo=zone()).astimezone(timezone.utc)


def official_ids(session: Session, *, besides: set[int] = frozenset()) -> list[int]:
    ids = session.scalars(sa.select(User.id).where(User.role.in_((Role.OFFICIAL, Role.ADMIN)),
                                                   User.disabled_at.is_(None))).all()
    return [i for i in ids if i not in besides]


def _check_official(user: User) -> None:
    if not user.is_official:
        raise Forbidden(_l("Only officials review penalty reports."))


def lock_report(session: Session, report_id: int) -> PenaltyReport:
    """The report under a row lock (decisions on one report are serialised), or 404."""
    report = session.scalar(sa.select(PenaltyReport).where(PenaltyReport.id == report_id).with_for_update())
    if report is None:
        raise NotFound(_l("No such penalty report."))
    return report


def review_of(session: Session, report_id: int) -> PenaltyReview | None:
    return session.scalar(sa.select(PenaltyReview).where(PenaltyReview.report_id == report_id))


def _reason(reason: str | None, *, required: bool, message) -> str | None:
    reason = (reason or "").strip()
    if required and not reason:
        raise Invalid(message, field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(_l("The reason is too long (%(n)d characters at most).", n=MAX_REASON), field="reason")
    return reason or None


def _sanction(value) -> Sanction | None:
    if value in (None, ""):
        return None
    try:
        return Sanction(value)
    except ValueError:
        raise Invalid(_l("Choose a sanction from the list."), field="sanction") from None


def _flush_or_conflict(session: Session) -> None:
    """Flush in a savepoint: two decisions racing on SQLite (where FOR UPDATE is ignored)
    meet the unique report row or the two-officials CHECK, and get a 409, not a 500."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(_l("Another official decided this report at the same moment. Reload the page.")) from None


def _must_be_proposed(report: PenaltyReport, to: ReportStatus) -> None:
    """Refuse (409), before the review row is written, a decision the report's machine does not allow."""
    REPORT_MACHINE.check(report.status, to,
                         message=lambda old, _new: _l("This report is already decided: %(status)s.", status=old))


def awaiting_second(review: PenaltyReview | None, report: PenaltyReport) -> bool:
    """A removal with its first approval, waiting for a second official."""
    return (review is not None and report.status == ReportStatus.PROPOSED
            and review.sanction == Sanction.REMOVAL and review.confirmed_at is None)


def second_approval_refusal(review: PenaltyReview | None, official: User, *, dismissing: bool = False):
    """Why ``official`` may not take the second decision on a removal they approved first (four
    eyes: a removal needs two different officials, and its first approver does not dismiss it
    either), or None.  The decide page asks it before it offers the forms; :func:`confirm` and
    :func:`dismiss` before they decide."""
    if review is None or review.confirmed_at is not None or official.id != review.first_official_id:
        return None
    if dismissing:
        return _l("You approved this removal; another official decides whether to dismiss it.")
    return _l("You gave the first approval of this removal. A second, different official must approve it.")


def confirm(session: Session, report_id: int, official: User, *, sanction=None, reason: str = "") -> PenaltyReview:
    """Confirm a report (its proposed sanction, or another one with a reason); a removal needs two officials."""
    _check_official(official)
    report = lock_report(session, report_id)
    _must_be_proposed(report, ReportStatus.CONFIRMED)
    review = review_of(session, report.id)
    on_the_table = review.sanction if review else report.proposed_sanction
    chosen = _sanction(sanction) or on_the_table
    changed = chosen != on_the_table
    reason = _reason(reason, required=changed,
                     message=_l("Give a reason for changing the sanction: the provider will see it."))
    at = now()
    if review is None:
        review = PenaltyReview(report_id=report.id, sanction=chosen, reason=reason, first_official_id=official.id,
                               first_at=at)
        session.add(review)
        _flush_or_conflict(session)
        if chosen == Sanction.REMOVAL:
            audit.record(session, actor=official, action="penalty_report.removal_first_approval",
                         object_type="penalty_report", object_id=report.id,
                         after={"sanction": chosen, "proposed": report.proposed_sanction}, reason=reason)
            notify(session, official_ids(session, besides={official.id}), "supervision.second_approval",
                   link=f"/official/supervision/reports/{report.id}/decide", report=report.id,
                   provider=report.provider.name)
            return review
    else:
        refusal = second_approval_refusal(review, official)
        if refusal is not None:
            raise Conflict(refusal, field="official")
        review.second_official_id = official.id
        review.second_at = at
        if changed:
            review.sanction = chosen
            review.reason = reason
    _confirm(session, report, review, official)
    return review


def _confirm(session: Session, report: PenaltyReport, review: PenaltyReview, official: User) -> None:
    _flush_or_conflict(session)
    old = report.transition_to(ReportStatus.CONFIRMED)
    review.confirmed_at = report.status_changed_at
    review.appeal_deadline = appeal_deadline(review.confirmed_at)
    session.flush()
    audit.record(session, actor=official, action="penalty_report.confirmed", object_type="penalty_report",
                 object_id=report.id, before={"status": old, "sanction": report.proposed_sanction},
                 after={"status": report.status, "sanction": review.sanction,
                        "officials": sorted(review.officials), "appeal_deadline": review.appeal_deadline},
                 reason=review.reason)
    notify(session, staff_ids(session, report.provider_id), "supervision.confirmed",
           link=f"/provider/supervision/reports/{report.id}/appeal", report=report.id,
           sanction=review.sanction.value,
           deadline=(local(review.appeal_deadline) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M"))


def dismiss(session: Session, report_id: int, official: User, *, reason: str) -> PenaltyReview:
    """Dismiss a report with a reason (it then counts on no ladder)."""
    _check_official(official)
    report = lock_report(session, report_id)
    _must_be_proposed(report, ReportStatus.DISMISSED)
    reason = _reason(reason, required=True, message=_l("Give a reason for dismissing: the provider will see it."))
    review = review_of(session, report.id)
    if review is None:
        review = PenaltyReview(report_id=report.id, sanction=report.proposed_sanction, reason=reason,
                               first_official_id=official.id, first_at=now())
        session.add(review)
    else:
        refusal = second_approval_refusal(review, official, dismissing=True)
        if refusal is not None:
            raise Conflict(refusal, field="official")
        review.second_official_id = official.id
        review.second_at = now()
        review.reason = reason
    _flush_or_conflict(session)
    old = report.transition_to(ReportStatus.DISMISSED)
    session.flush()
    audit.record(session, actor=official, action="penalty_report.dismissed", object_type="penalty_report",
                 object_id=report.id, before={"status": old}, after={"status": report.status}, reason=reason)
    notify(session, staff_ids(session, report.provider_id), "supervision.dismissed",
           link=f"/provider/supervision/reports/{report.id}/appeal", report=report.id, reason=reason)
    return review


def queue(session: Session, *, status: ReportStatus = ReportStatus.PROPOSED, community_id=None, category_id=None,
          severity=None, limit: int | None = 200) -> list[tuple[PenaltyReport, PenaltyReview | None]]:
    """Reports to work on (oldest first), each with its review so far (two statements)."""
    from ratings.supervision.reports import reports_query

    items = session.scalars(reports_query(status=status, community_id=community_id, category_id=category_id,
                                          severity=severity).limit(limit)).all()
    reviews = {r.report_id: r for r in session.scalars(
        sa.select(PenaltyReview).where(PenaltyReview.report_id.in_([i.id for i in items])))} if items else {}
    return [(item, reviews.get(item.id)) for item in items]
