"""Residents' complaints about bookings: file, respond, decide, and the officials' queue.

A resident complains about a booking that took place or should have (accepted
or later, or cancelled / not attended by the provider); the provider's staff
respond once before ``respond_by`` (``COMPLAINT_RESPONSE_HOURS`` after filing,
a fact stored on the complaint); an official decides upheld or dismissed with
a reason.  Every step goes through ``COMPLAINT_MACHINE`` (which refuses a move
``COMPLAINT_TRANSITIONS`` does not list before anything is written), is audited when a
provider or an official acts, and notifies the other side.  Services flush,
never commit.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload, selectinload

from app import audit
from app.clock import now
from app.errors import Conflict, Forbidden, Invalid, NotFound, Problems
from app.models import User
from app.notifications import notify
from providers.bookings.models import BOOKING_STATUS_LABELS, Booking, BookingStatus
from providers.bookings.services import resident_booking, staff_ids
from providers.models import ProviderStaff
from providers.registration import provider_of
from providers.uploads import StoredFile
from ratings.models import (
    COMPLAINT_MACHINE,
    Complaint,
    ComplaintKind,
    ComplaintPhoto,
    ComplaintStatus,
)
from ratings import photos as photo_files

S = BookingStatus
CS = ComplaintStatus

# Bookings that took place, or should have: the provider came, or should have come.  A resident
# the provider recorded as absent (only after its check-in) disputes that record with a complaint.
COMPLAINABLE = frozenset({S.ACCEPTED, S.IN_SERVICE, S.COMPLETED, S.NO_SHOW_PROVIDER, S.CANCELLED_BY_PROVIDER,
                          S.NO_SHOW_RESIDENT})
UNDECIDED = (CS.OPEN, CS.RESPONDED)
OUTCOMES = (CS.UPHELD, CS.DISMISSED)
MAX_TEXT = 2000

# The officials' queue filters: "undecided" (the default) or one status.
QUEUE_FILTERS = ("undecided", *(status.value for status in CS), "all")


def _text(value: str | None, field: str, missing, problems: Problems | None = None) -> str:
    """The stripped text; its refusal is raised, or added to ``problems`` when given."""
    text = (value or "").strip()
    error = None
    if not text:
        error = Invalid(missing, field=field)
    elif len(text) > MAX_TEXT:
        error = Invalid(_l("This is too long (%(n)d characters at most).", n=MAX_TEXT), field=field)
    if error is not None:
        if problems is None:
            raise error
        problems.extend(error)
    return text


def _params(complaint: Complaint, **extra) -> dict:
    return {"booking": complaint.booking_id, **extra}


def is_overdue(complaint: Complaint, at=None) -> bool:
    """The provider has not responded and its time is up."""
    return complaint.status == CS.OPEN and (at or now()) > complaint.respond_by


# --- residents -----------------------------------------------------------------------


def check_can_complain(session: Session, booking: Booking) -> None:
    """Raise why no complaint can be filed about this (own) booking now (409)."""
    if booking.status not in COMPLAINABLE:
        raise Conflict(_l("This booking never took place (%(status)s), so there is nothing to complain "
                          "about.", status=BOOKING_STATUS_LABELS[booking.status]))
    pending = session.scalar(sa.select(Complaint.id).where(
        Complaint.booking_id == booking.id, Complaint.status.in_(UNDECIDED)))
    if pending is not None:
        raise Conflict(_l("You already have a complaint about this booking waiting for a decision."))


def file_complaint(
    session: Session,
    resident: User,
    booking_id: int,
    *,
    kind: str | None,
    description: str | None,
    photos=(),
) -> Complaint:
    """The resident complains about their booking (404 someone else's, 409 never happened, 422 input).

    ``photos`` are the uploaded files (``FileStorage``; empty parts are ignored).  Every
    problem with the input — the kind, the description, the photos — is raised at once
    as :class:`~app.errors.Problems` before anything is stored; the photos are stored
    (:func:`ratings.photos.save_photos`) only then, and their files go away if the
    transaction rolls back (:mod:`app.storage`).
    """
    if not resident.is_resident:
        raise Forbidden(_l("Only residents can file complaints."))
    booking = resident_booking(session, resident, booking_id, for_update=True)
    check_can_complain(session, booking)
    problems = Problems()
    try:
        kind_value = ComplaintKind(kind or "")
    except ValueError:
        problems.add(_l("Choose what the complaint is about."), field="kind")
    description = _text(description, "description", _l("Describe what happened."), problems)
    for error in photo_files.photo_problems(photos):
        problems.extend(error)
    problems.raise_if_any()
    stored: list[StoredFile] = photo_files.save_photos(photos)
    current = now()
    hours = int(current_app.config["COMPLAINT_RESPONSE_HOURS"])
    complaint = Complaint(
        booking_id=booking.id, resident_id=resident.id, provider_id=booking.provider_id,
        kind=kind_value, description=description, status=CS.OPEN, created_at=current,
        respond_by=current + timedelta(hours=hours),
    )
    session.add(complaint)
    session.flush()
    for photo in stored:
        session.add(ComplaintPhoto(
            complaint_id=complaint.id, original_name=photo.original_name, stored_name=photo.stored_name,
            content_type=photo.content_type, size_bytes=photo.size_bytes, uploaded_at=current,
        ))
    session.flush()
    notify(session, staff_ids(session, booking.provider_id), "complaint.filed",
           link=f"/complaints/{complaint.id}", **_params(complaint, complaint_kind=complaint.kind.value))
    return complaint


# --- providers -----------------------------------------------------------------------


def respond(session: Session, staff: User, complaint_id: int, text: str | None) -> Complaint:
    """The provider's one response to an open complaint; the resident is told."""
    provider = provider_of(session, staff)
    complaint = session.scalar(
        sa.select(Complaint).where(Complaint.id == complaint_id, Complaint.provider_id == provider.id)
        .with_for_update()
    )
    if complaint is None:
        raise NotFound(_l("No such complaint."))
    # The machine's refusal (409) comes before the text's (422); nothing is written before either.
    COMPLAINT_MACHINE.check(complaint.status, CS.RESPONDED)
    text = _text(text, "response", _l("Write your response."))
    old = COMPLAINT_MACHINE.move(complaint, CS.RESPONDED)
    complaint.response, complaint.responded_at, complaint.responded_by_id = text, now(), staff.id
    session.flush()
    audit.record(session, actor=staff, action="complaint.responded", object_type="complaint",
                 object_id=complaint.id, before={"status": old},
                 after={"status": complaint.status, "late": complaint.responded_at > complaint.respond_by},
                 reason=text)
    notify(session, [complaint.resident_id], "complaint.responded", link=f"/complaints/{complaint.id}",
           **_params(complaint))
    return complaint


# --- officials -----------------------------------------------------------------------


def decide(session: Session, official: User, complaint_id: int, outcome: str | None, reason: str | None) -> Complaint:
    """Uphold or dismiss a complaint with a reason; both sides are told (409 when already decided)."""
    if not official.is_official:
        raise Forbidden(_l("Only officials decide complaints."))
    complaint = session.scalar(sa.select(Complaint).where(Complaint.id == complaint_id).with_for_update())
    if complaint is None:
        raise NotFound(_l("No such complaint."))
    try:
        to = ComplaintStatus(outcome or "")
    except ValueError:
        to = None
    if to not in OUTCOMES:
        raise Invalid(_l("Choose to uphold or to dismiss the complaint."), field="outcome")
    COMPLAINT_MACHINE.check(complaint.status, to)
    reason = _text(reason, "reason", _l("Give the reason for the decision: both sides will read it."))
    old = COMPLAINT_MACHINE.move(complaint, to)
    complaint.decided_at, complaint.decided_by_id, complaint.decision_reason = now(), official.id, reason
    session.flush()
    audit.record(session, actor=official, action=f"complaint.{to.value}", object_type="complaint",
                 object_id=complaint.id, before={"status": old}, after={"status": to}, reason=reason)
    notify(session, [complaint.resident_id, *staff_ids(session, complaint.provider_id)], "complaint.decided",
           link=f"/complaints/{complaint.id}",
           **_params(complaint, outcome=to.value))
    return complaint


# --- reading ---------------------------------------------------------------------------


def _with_booking(stmt):
    return stmt.options(
        joinedload(Complaint.booking).joinedload(Booking.listing),
        joinedload(Complaint.booking).joinedload(Booking.provider),
        selectinload(Complaint.photos),
    )


def complaint_for(session: Session, user: User, complaint_id: int) -> Complaint:
    """A complaint its resident, its provider's staff or an official may see; 404 for anyone else."""
    complaint = session.scalar(_with_booking(sa.select(Complaint).where(Complaint.id == complaint_id)))
    if complaint is None:
        raise NotFound(_l("No such complaint."))
    if user.is_official or complaint.resident_id == user.id:
        return complaint
    membership = session.get(ProviderStaff, user.id) if user.is_provider_staff else None
    if membership is not None and membership.provider_id == complaint.provider_id:
        return complaint
    raise NotFound(_l("No such complaint."))


def photo_for(session: Session, user: User, complaint_id: int, photo_id: int) -> ComplaintPhoto:
    """A photo of a complaint the user may see (404 otherwise)."""
    complaint = complaint_for(session, user, complaint_id)
    photo = next((p for p in complaint.photos if p.id == photo_id), None)
    if photo is None:
        raise NotFound(_l("No such photo."))
    return photo


def complaints_of_resident(session: Session, resident: User) -> list[Complaint]:
    stmt = _with_booking(sa.select(Complaint).where(Complaint.resident_id == resident.id))
    return list(session.scalars(stmt.order_by(Complaint.created_at.desc(), Complaint.id.desc())).unique())


def complaints_of_provider(session: Session, provider_id: int) -> list[Complaint]:
    """Open complaints first (nearest deadline first), then the rest, newest first."""
    is_open = sa.case((Complaint.status == CS.OPEN, 0), else_=1)
    stmt = _with_booking(sa.select(Complaint).where(Complaint.provider_id == provider_id)).order_by(
        is_open, sa.case((Complaint.status == CS.OPEN, Complaint.respond_by), else_=None),
        Complaint.created_at.desc(), Complaint.id.desc(),
    )
    return list(session.scalars(stmt).unique())


def queue(session: Session, shown: str = "undecided", limit: int = 200) -> list[Complaint]:
    """Officials' queue: safety complaints first, then the oldest first."""
    stmt = _with_booking(sa.select(Complaint))
    if shown == "undecided":
        stmt = stmt.where(Complaint.status.in_(UNDECIDED))
    elif shown != "all":
        stmt = stmt.where(Complaint.status == ComplaintStatus(shown))
    safety_first = sa.case((Complaint.kind == ComplaintKind.SAFETY, 0), else_=1)
    stmt = stmt.order_by(safety_first, Complaint.created_at, Complaint.id).limit(limit)
    return list(session.scalars(stmt).unique())


def queue_counts(session: Session) -> dict[str, int]:
    rows = session.execute(sa.select(Complaint.status, sa.func.count()).group_by(Complaint.status))
    counts = {status.value: 0 for status in CS}
    for status, count in rows:
        counts[ComplaintStatus(status).value] = count
    counts["undecided"] = counts[CS.OPEN.value] + counts[CS.RESPONDED.value]
    counts["all"] = sum(counts[status.value] for status in CS)
    return counts
