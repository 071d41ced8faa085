"""Appeals: the provider answers a confirmed sanction with a plan of action
(root cause, corrective actions, preventive steps, evidence files) within the
appeal window; an official who did NOT approve the sanction decides it.

Upheld → the report is *overturned* (it counts on no ladder); rejected → the
sanction takes effect at once (:func:`.sanctions.take_effect`).  Both moves —
the appeal's (``APPEAL_MACHINE``) and the report's (``REPORT_MACHINE``) — are
checked before anything is written.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.clock import local, now
from app.errors import Conflict, Forbidden, IllegalTransition, Invalid, NotFound, Problems
from app.models import User
from app.notifications import notify
from providers.bookings.services import staff_ids
from providers.uploads import StoredFile
from ratings.supervision.models import REPORT_MACHINE, PenaltyReport, ReportStatus
from ratings.supervision.review import lock_report, official_ids, review_of
from ratings.supervision.sanction_models import (
    APPEAL_MACHINE,
    APPEAL_OUTCOME_LABELS,
    AppealFile,
    AppealOutcome,
    AppealStatus,
    PenaltyAppeal,
)
from ratings.supervision.sanctions import take_effect

MAX_TEXT = 4000
MAX_FILES = 5

PLAN_FIELDS = {
    "root_cause": _l("Root cause"),
    "corrective_actions": _l("Corrective actions"),
    "preventive_steps": _l("Preventive steps"),
}

# Notification kinds, registered by the package's init_app.
NOTIFICATIONS = {
    "supervision.appealed": _l("%(provider)s appealed penalty report #%(report)s with a plan of action. An official "
                               "who did not approve the sanction decides."),
    "supervision.appeal_decided": _l("Your appeal on penalty report #%(report)s was decided: %(appeal_outcome)s. "
                                     "%(reason)s"),
}
NOTIFICATION_LABELS = {"appeal_outcome": {o.value: label for o, label in APPEAL_OUTCOME_LABELS.items()}}


def appeal_of(session: Session, report_id: int) -> PenaltyAppeal | None:
    return session.scalar(sa.select(PenaltyAppeal).where(PenaltyAppeal.report_id == report_id))


def _text(value: str | None, name: str) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(_l("%(label)s is required.", label=PLAN_FIELDS[name]), field=name)
    if len(value) > MAX_TEXT:
        raise Invalid(_l("%(label)s is too long (%(n)d characters at most).", label=PLAN_FIELDS[name], n=MAX_TEXT),
                      field=name)
    return value


def plan_of(*, file_count: int = 0, problems: Problems | None = None, **texts) -> dict[str, str]:
    """The plan of action's three texts, checked; every problem at once (with those already in
    ``problems``, e.g. the files'), raised as :class:`Problems`."""
    problems = problems if problems is not None else Problems()
    plan = {}
    for name in PLAN_FIELDS:
        try:
            plan[name] = _text(texts.get(name), name)
        except Invalid as error:
            problems.extend(error)
    if file_count > MAX_FILES:
        problems.add(_l("Attach at most %(n)d files.", n=MAX_FILES), field="files")
    problems.raise_if_any()
    return plan


def can_appeal(report: PenaltyReport, review) -> bool:
    return (report.status == ReportStatus.CONFIRMED and review is not None and review.appeal_deadline is not None
            and now() < review.appeal_deadline)


def submit(session: Session, report_id: int, *, provider_id: int, staff: User, root_cause: str,
           corrective_actions: str, preventive_steps: str, files: list[StoredFile] = ()) -> PenaltyAppeal:
    """Appeal the provider's own confirmed report within its window (404 for another provider's)."""
    report = lock_report(session, report_id)
    if report.provider_id != provider_id:
        raise NotFound(_l("No such penalty report."))
    if report.status == ReportStatus.APPEALED:
        raise Conflict(_l("This report is already appealed; an official will decide."))
    if report.status != ReportStatus.CONFIRMED:
        raise IllegalTransition(_l("Only a confirmed sanction can be appealed."))
    review = review_of(session, report.id)
    if now() >= review.appeal_deadline:
        raise Conflict(_l("The appeal window closed on %(deadline)s (7 days after the sanction was confirmed).",
                          deadline=local(review.appeal_deadline).strftime("%Y-%m-%d %H:%M")))
    plan = plan_of(root_cause=root_cause, corrective_actions=corrective_actions,
                   preventive_steps=preventive_steps, file_count=len(files))
    old = report.transition_to(ReportStatus.APPEALED)  # refused before the appeal row is written
    appeal = PenaltyAppeal(report_id=report.id, submitted_by_id=staff.id, submitted_at=now(), **plan)
    session.add(appeal)
    session.flush()
    for stored in files:
        session.add(AppealFile(appeal_id=appeal.id, original_name=stored.original_name, stored_name=stored.stored_name,
                               content_type=stored.content_type, size_bytes=stored.size_bytes, sha256=stored.sha256,
                               uploaded_at=now()))
    session.flush()
    audit.record(session, actor=staff, action="penalty_report.appealed", object_type="penalty_report",
                 object_id=report.id, before={"status": old},
                 after={"status": report.status, "appeal_id": appeal.id, "files": [f.original_name for f in files]})
    notify(session, official_ids(session, besides=review.officials), "supervision.appealed",
           link=f"/official/supervision/reports/{report.id}/decide", report=report.id, provider=report.provider.name)
    return appeal


def add_files(session: Session, report_id: int, *, provider_id: int, staff: User,
              files: list[StoredFile]) -> PenaltyAppeal:
    """Add evidence files to the provider's own appeal while it waits for a decision (5 in all)."""
    report = lock_report(session, report_id)
    if report.provider_id != provider_id:
        raise NotFound(_l("No such penalty report."))
    appeal = appeal_of(session, report.id)
    if report.status != ReportStatus.APPEALED or appeal is None or appeal.status != AppealStatus.PENDING:
        raise IllegalTransition(_l("Evidence can be added only to an appeal waiting for a decision."))
    if not files:
        raise Invalid(_l("Choose a file to upload."), field="files")
    if len(appeal.files) + len(files) > MAX_FILES:
        raise Invalid(_l("Attach at most %(n)d files.", n=MAX_FILES), field="files")
    for stored in files:
        session.add(AppealFile(appeal_id=appeal.id, original_name=stored.original_name, stored_name=stored.stored_name,
                               content_type=stored.content_type, size_bytes=stored.size_bytes, sha256=stored.sha256,
                               uploaded_at=now()))
    session.flush()
    session.refresh(appeal, ["files"])
    audit.record(session, actor=staff, action="penalty_report.appeal_evidence_added", object_type="penalty_report",
                 object_id=report.id, after={"files": [f.original_name for f in files]})
    return appeal


def decider_refusal(review, official: User):
    """Why ``official`` may not decide the appeal of the report ``review`` confirmed (four eyes:
    an official who approved the sanction does not judge the appeal against it), or None.
    The decide page asks it before it offers the form; :func:`decide` before it decides."""
    if review is not None and official.id in review.officials:
        return _l("You confirmed this penalty report: a different official must decide the appeal.")
    return None


def decide(session: Session, report_id: int, official: User, *, outcome, reason: str) -> PenaltyAppeal:
    """Decide an appeal: an official who did not approve the sanction, with a reason."""
    if not official.is_official:
        raise Forbidden(_l("Only officials decide appeals."))
    report = lock_report(session, report_id)
    if report.status != ReportStatus.APPEALED:
        raise IllegalTransition(_l("There is no appeal waiting for a decision on this report."))
    review = review_of(session, report.id)
    refusal = decider_refusal(review, official)
    if refusal is not None:
        raise Conflict(refusal, field="official")
    try:
        chosen = AppealOutcome(outcome)
    except ValueError:
        raise Invalid(_l("Choose whether the appeal is upheld or rejected."), field="outcome") from None
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Give a reason for the decision: the provider will see it."), field="reason")
    if len(reason) > 2000:
        raise Invalid(_l("The reason is too long (%(n)d characters at most).", n=2000), field="reason")
    appeal = appeal_of(session, report.id)
    # Both moves are checked before anything is written: the appeal's, and the report's
    # (overturned when upheld; in effect, through take_effect, when rejected).
    REPORT_MACHINE.check(report.status,
                         ReportStatus.OVERTURNED if chosen == AppealOutcome.UPHELD else ReportStatus.EFFECTIVE)
    APPEAL_MACHINE.move(appeal, AppealStatus(chosen.value))
    appeal.decided_by_id = official.id
    appeal.decided_at = now()
    appeal.decision_reason = reason
    if chosen == AppealOutcome.UPHELD:
        old = report.transition_to(ReportStatus.OVERTURNED)
        session.flush()
        audit.record(session, actor=official, action="penalty_report.overturned", object_type="penalty_report",
                     object_id=report.id, before={"status": old}, after={"status": report.status}, reason=reason)
    else:
        session.flush()
        audit.record(session, actor=official, action="penalty_report.appeal_rejected", object_type="penalty_report",
                     object_id=report.id, before={"status": report.status}, after={"outcome": chosen}, reason=reason)
        take_effect(session, report, review, actor=official)
    notify(session, staff_ids(session, report.provider_id), "supervision.appeal_decided",
           link=f"/provider/supervision/reports/{report.id}/appeal", report=report.id,
           appeal_outcome=chosen.value, reason=reason)
    return appeal


def appeal_file_for(session: Session, file_id: int, user: User, provider_id: int | None) -> AppealFile:
    """An evidence file, for officials or the appealing provider's staff (404 for anyone else)."""
    found = session.get(AppealFile, file_id)
    if found is None:
        raise NotFound(_l("No such file."))
    if user.is_official:
        return found
    report = session.get(PenaltyReport, found.appeal.report_id)
    if provider_id is None or report.provider_id != provider_id:
        raise NotFound(_l("No such file."))
    return found
