"""A provider asks for a human review of a grade; an official decides it (Platform Work
Directive Art. 11: the right to obtain a human review of an automated decision; DSA Art. 20).

- :func:`request_review`: the provider's staff ask, with a reason, within
  :data:`REVIEW_MONTHS` (6) calendar months of the grade's as-of day (local, in the rule
  set's zone); :class:`Invalid` after.  One OPEN request per grade: the service checks,
  and the partial unique index ``uq_grade_review_open`` refuses a concurrent second one.
- :func:`decide`: an official upholds the grade or changes it (naming the new grade,
  which must differ), always with a reason; the provider's staff are notified.

The snapshot is never edited (a run stays reproducible): the review row is the fact of
the changed grade, and :func:`reviewed_grade` is what pages show.  Both steps are audited
and flush, never commit.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.clock import now
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import User
from app.notifications import notify
from providers.bookings.services import staff_ids
from ratings.supervision import rules
from ratings.supervision.dueprocess_models import REVIEW_OUTCOME_LABELS, GradeReview, ReviewOutcome
from ratings.supervision.models import GRADE_LABELS, EvaluationRun, Grade, ProviderSnapshot

REVIEW_MONTHS = 6
MAX_REASON = 2000

NOTIFICATIONS = {
    "supervision.grade_review": _l("Your request for a review of the grade of %(as_of)s was decided: %(grade_review_outcome)s. %(reason)s"),
}
NOTIFICATION_LABELS = {"grade_review_outcome": {o.value: label for o, label in REVIEW_OUTCOME_LABELS.items()}}


def _months_later(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def review_deadline(snapshot: ProviderSnapshot) -> datetime:
    """The end of the last local day on which the grade can still be reviewed (exclusive)."""
    zone = rules.zone_of(snapshot.run.rule_set)
    day = snapshot.run.as_of.astimezone(zone).date()
    return datetime.combine(_months_later(day, REVIEW_MONTHS), time(0), tzinfo=zone)


def _reason(text: str | None, field: str = "reason") -> str:
    text = (text or "").strip()
    if not text:
        raise Invalid(_l("Give a reason."), field=field)
    if len(text) > MAX_REASON:
        raise Invalid(_l("The reason is too long (2000 characters at most)."), field=field)
    return text


def open_review(session: Session, snapshot_id: int) -> GradeReview | None:
    return session.scalar(sa.select(GradeReview).where(GradeReview.snapshot_id == snapshot_id,
                                                       GradeReview.decided_at.is_(None)))


def request_review(session: Session, staff: User, provider_id: int, snapshot_id: int, reason: str) -> GradeReview:
    """Ask for a human review of one of ``provider_id``'s grades (404 for another provider's)."""
    snapshot = session.get(ProviderSnapshot, snapshot_id)
    if snapshot is None or snapshot.provider_id != provider_id:
        raise NotFound(_l("No such grade."))
    text = _reason(reason)
    if now() >= review_deadline(snapshot):
        raise Invalid(_l("A grade can be reviewed within %(n)d months of its evaluation; this one is older.",
                         n=REVIEW_MONTHS), field="reason")
    if open_review(session, snapshot.id) is not None:
        raise Conflict(_l("A review of this grade is already waiting for an official."))
    review = GradeReview(snapshot_id=snapshot.id, provider_id=provider_id, requested_by_id=staff.id,
                         requested_at=now(), reason=text)
    try:
        with session.begin_nested():
            session.add(review)
            session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_l("A review of this grade is already waiting for an official.")) from None
    audit.record(session, actor=staff, action="supervision.grade_review.request", object_type="grade_review",
                 object_id=review.id, after={"snapshot": snapshot.id, "grade": snapshot.grade}, reason=text)
    return review


def decide(session: Session, official: User, review_id: int, outcome: str | None, reason: str,
           new_grade: str | None = None) -> GradeReview:
    """Uphold or change the grade of an open request, with a reason; the provider is notified."""
    if not official.is_official:
        raise Forbidden(_l("Only officials decide grade reviews."))
    review = session.scalar(sa.select(GradeReview).where(GradeReview.id == review_id).with_for_update())
    if review is None:
        raise NotFound(_l("No such grade review."))
    try:
        chosen = ReviewOutcome(outcome or "")
    except ValueError:
        raise Invalid(_l("Choose a decision."), field="outcome") from None
    grade = None
    if chosen == ReviewOutcome.CHANGED:
        try:
            grade = Grade(new_grade or "")
        except ValueError:
            raise Invalid(_l("Choose the new grade."), field="new_grade") from None
        if grade == review.snapshot.grade:
            raise Invalid(_l("The new grade is the same as the old one: uphold it instead."), field="new_grade")
    text = _reason(reason)
    if not review.is_open:
        raise Conflict(_l("This grade review was decided already."))
    review.outcome, review.new_grade, review.decision_reason = chosen, grade, text
    review.decided_by_id, review.decided_at = official.id, now()
    session.flush()
    audit.record(session, actor=official, action="supervision.grade_review.decide", object_type="grade_review",
                 object_id=review.id, before={"grade": review.snapshot.grade},
                 after={"outcome": chosen, "grade": grade or review.snapshot.grade}, reason=text)
    notify(session, staff_ids(session, review.provider_id), "supervision.grade_review",
           link="/provider/supervision/grades", as_of=review.snapshot.run.as_of.date().isoformat(),
           grade_review_outcome=chosen.value, reason=text)
    return review


def changed_grades(session: Session, snapshot_ids) -> dict[int, Grade]:
    """Each snapshot's grade as an official changed it on review (latest change wins; one statement).
    Snapshots without a change are absent: their evaluator's grade stands."""
    ids = list(snapshot_ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(GradeReview.snapshot_id, GradeReview.new_grade)
        .where(GradeReview.snapshot_id.in_(ids), GradeReview.outcome == ReviewOutcome.CHANGED)
        .order_by(GradeReview.decided_at, GradeReview.id)).all()
    return {snapshot_id: grade for snapshot_id, grade in rows}


def reviewed_grade(snapshot: ProviderSnapshot, reviews: list[GradeReview]) -> Grade:
    """The grade after its latest decided review that changed it (else the evaluator's)."""
    changed = [r for r in reviews if r.snapshot_id == snapshot.id and r.outcome == ReviewOutcome.CHANGED]
    return max(changed, key=lambda r: r.decided_at).new_grade if changed else snapshot.grade


def queue(session: Session) -> list[GradeReview]:
    """Open requests, oldest first (the officials' queue)."""
    return list(session.scalars(
        sa.select(GradeReview).options(joinedload(GradeReview.snapshot).joinedload(ProviderSnapshot.provider),
                                       joinedload(GradeReview.snapshot).joinedload(ProviderSnapshot.run))
        .where(GradeReview.decided_at.is_(None)).order_by(GradeReview.requested_at, GradeReview.id)))


def grades_of(session: Session, provider_id: int, limit: int = 24) -> list[ProviderSnapshot]:
    """The provider's grades, newest first."""
    return list(session.scalars(
        sa.select(ProviderSnapshot).join(EvaluationRun, EvaluationRun.id == ProviderSnapshot.run_id)
        .options(joinedload(ProviderSnapshot.run).joinedload(EvaluationRun.rule_set))
        .where(ProviderSnapshot.provider_id == provider_id).order_by(EvaluationRun.as_of.desc()).limit(limit)))


def reviews_of(session: Session, provider_id: int) -> list[GradeReview]:
    return list(session.scalars(sa.select(GradeReview).where(GradeReview.provider_id == provider_id)
                                .order_by(GradeReview.requested_at.desc(), GradeReview.id.desc())))


GRADE_CHOICES = [(g.value, label) for g, label in GRADE_LABELS.items()]
