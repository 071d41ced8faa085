"""Check-in and check-out: the facts of a visit, recorded with the booking's move.

:func:`providers.bookings.services.check_in` and ``complete`` call
:func:`record_check_in` and :func:`record_check_out` after the action table
allowed the move and before the booking moves, in the same transaction, so a
booking in service always has its :class:`VisitRecord` and a refused fact
(a malformed location, a task not on the listing's checklist, an early
check-out without a reason, a photo that is not one) leaves everything as it
was.

The visit code is the one exception, on purpose: a wrong code is refused with
:class:`WrongCode`, but the attempt it counts must stay, or guessing would be
free.  The view commits a ``WrongCode`` (``form_action(keep=WrongCode)``);
nothing else has been written when it is raised.  At ``VISIT_CODE_ATTEMPTS``
wrong codes the code locks and the visit is flagged (CODE_LOCKED); from then
on, as with no code at all, the check-out goes through unverified, and the
resident's confirmation (or a follow-up call) may still verify the visit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.clock import now
from app.errors import Conflict, Invalid
from app.models import User
from providers.bookings.models import Booking
from providers.visits import cards, flags, geo, photos
from providers.visits.models import CardCode, CodeCard, FlagRule, VerifiedBy, VisitRecord
from providers.visits.photos import PreparedPhoto
from providers.visits.verification import record_of, verify, visit_closed

MAX_SHORT_REASON = 500


@dataclass(frozen=True)
class VisitFacts:
    """What the carer's phone sends at check-in or check-out (raw form values; the
    services check them)."""

    lat: str | None = None
    lon: str | None = None
    accuracy: str | None = None
    device: str | None = None  # providers.visits.device.current_digest()
    tasks: tuple[str, ...] = ()
    short_reason: str = ""
    code: str = ""
    photos: tuple[PreparedPhoto, ...] = field(default=())


class WrongCode(Invalid):
    """A wrong visit code: refused, but the attempt is counted (the view commits it)."""


def _distance(session: Session, booking: Booking, position: geo.Position | None) -> int | None:
    if position is None:
        return None
    home = geo.home_of(session, booking.resident_id)
    if home is None:
        return None
    return geo.distance_m(home.lat, home.lon, position.lat, position.lon)


def _store_photos(session: Session, booking: Booking, staff: User, facts: VisitFacts) -> None:
    for photo in facts.photos:
        photos.store(session, booking, photo, staff, field=f"{photo.stage.value}_photo")


def record_check_in(session: Session, booking: Booking, staff: User, facts: VisitFacts) -> VisitRecord:
    """The visit's record at check-in: where the device was, how sure, how far from the
    home (None without a home location), which device, and a fresh one-time code."""
    position = geo.parse_position(facts.lat, facts.lon, facts.accuracy, field="location")
    record = record_of(session, booking.id, for_update=True)
    if record is None:
        record = VisitRecord(booking_id=booking.id, tasks_done=[], code_attempts=0)
        session.add(record)
    record.checked_in_by_id = staff.id
    record.check_in_lat = position.lat if position else None
    record.check_in_lon = position.lon if position else None
    record.check_in_accuracy_m = position.accuracy_m if position else None
    record.check_in_distance_m = _distance(session, booking, position)
    record.check_in_device = facts.device
    record.code = cards.new_code()
    session.flush()
    _store_photos(session, booking, staff, facts)
    return record


def clean_tasks(listing_checklist: list, tasks) -> list[str]:
    """The ticked tasks, in the checklist's order; Invalid on "tasks" for one not on it."""
    wanted = [str(task).strip() for task in tasks if str(task).strip()]
    unknown = [task for task in wanted if task not in listing_checklist]
    if unknown:
        raise Invalid(_l("Tick only tasks from this service's checklist."), field="tasks")
    return [task for task in listing_checklist if task in wanted]


def minimum_end(booking: Booking) -> datetime:
    """Before this moment a check-out is early (needs a reason): the check-in plus the
    configured share of the listing's duration."""
    share = int(current_app.config["VISIT_MIN_SHARE_PERCENT"])
    started = booking.checked_in_at or booking.starts_at
    return started + timedelta(minutes=booking.listing.duration_minutes * share / 100)


def _card_code_used(session: Session, booking: Booking, code: str) -> bool:
    """Whether ``code`` is a code of one of the resident's cards that was already spent."""
    digest = cards._digest(booking.resident_id, code)
    return session.scalar(
        sa.select(sa.func.count()).select_from(CardCode).join(CodeCard, CodeCard.id == CardCode.card_id)
        .where(CodeCard.resident_id == booking.resident_id, CardCode.digest == digest,
               CardCode.used_at.is_not(None))
    ) > 0


def _visit_code_used(session: Session, booking: Booking, code: str) -> bool:
    """Whether ``code`` was the used code of another of the resident's visits."""
    return session.scalar(
        sa.select(sa.func.count()).select_from(VisitRecord).join(Booking, Booking.id == VisitRecord.booking_id)
        .where(Booking.resident_id == booking.resident_id, VisitRecord.booking_id != booking.id,
               VisitRecord.code == code, VisitRecord.code_used_at.is_not(None))
    ) > 0


def _check_code(session: Session, booking: Booking, record: VisitRecord, staff: User, code: str) -> None:
    """Verify the visit by its code or a card code; an empty or locked code verifies nothing.
    A reused code is a Conflict (nothing written); a wrong one counts (:class:`WrongCode`)."""
    code = (code or "").strip()
    if not code or record.code_locked_at is not None:
        return
    if record.code is not None and code == record.code and record.code_used_at is None:
        record.code_used_at = now()
        verify(session, booking, record, VerifiedBy.CODE, actor=staff)
        return
    if cards.redeem(session, booking, code):
        verify(session, booking, record, VerifiedBy.CARD, actor=staff)
        return
    if code == record.code or _visit_code_used(session, booking, code) or _card_code_used(session, booking, code):
        raise Conflict(_l("This code was already used. Ask the resident for the code their page shows now."),
                       field="code")
    limit = int(current_app.config["VISIT_CODE_ATTEMPTS"])
    record.code_attempts += 1
    if record.code_attempts >= limit:
        record.code_locked_at = now()
        session.flush()
        flags.raise_flag(session, booking, FlagRule.CODE_LOCKED, {"attempts": record.code_attempts})
        audit.record(session, actor=staff, action="visit.code_locked", object_type="booking",
                     object_id=booking.id, after={"code_attempts": record.code_attempts})
        raise WrongCode(_l("The code was wrong %(n)d times and is now locked. Check out without it: the resident "
                           "can still confirm the visit.", n=record.code_attempts), field="code")
    session.flush()
    raise WrongCode(_l("This code is wrong (%(left)d tries left). Ask the resident for the code on their page.",
                       left=limit - record.code_attempts), field="code")


def record_check_out(session: Session, booking: Booking, staff: User, facts: VisitFacts) -> VisitRecord:
    """The visit's record at check-out: the same facts as at check-in, the tasks done, the
    reason for leaving early, and the code (which verifies the visit when right)."""
    position = geo.parse_position(facts.lat, facts.lon, facts.accuracy, field="location")
    tasks = clean_tasks(booking.listing.checklist or [], facts.tasks)
    reason = (facts.short_reason or "").strip()
    if len(reason) > MAX_SHORT_REASON:
        raise Invalid(_l("The reason is too long (500 characters at most)."), field="short_reason")
    if now() < minimum_end(booking) and not reason:
        raise Invalid(_l("The visit is shorter than planned: say why you are leaving early."),
                      field="short_reason")
    record = record_of(session, booking.id, for_update=True)
    if record is None:  # checked in before visits were recorded
        record = VisitRecord(booking_id=booking.id, tasks_done=[], code_attempts=0)
        session.add(record)
        session.flush()
    _check_code(session, booking, record, staff, facts.code)
    record.checked_out_by_id = staff.id
    record.check_out_lat = position.lat if position else None
    record.check_out_lon = position.lon if position else None
    record.check_out_accuracy_m = position.accuracy_m if position else None
    record.check_out_distance_m = _distance(session, booking, position)
    record.check_out_device = facts.device
    record.tasks_done = tasks
    record.short_reason = reason or None
    session.flush()
    _store_photos(session, booking, staff, facts)
    return record


def closed(session: Session, booking: Booking, record: VisitRecord) -> None:
    """The booking moved to completed: let the flag rules look at the visit."""
    visit_closed.send(session, booking=booking, record=record)


def confirmed(session: Session, booking: Booking, user: User) -> None:
    """The resident (or a proxy) confirmed the visit in the app: it is verified by them."""
    record = record_of(session, booking.id, for_update=True)
    if record is None:
        return
    method = VerifiedBy.RESIDENT if user.id == booking.resident_id else VerifiedBy.PROXY
    verify(session, booking, record, method, actor=user)
