"""Working the follow-up queue: who may call, showing the resident's phone (logged),
and recording what the resident said.

- Officials work every call; an evaluator only the calls of the programmes that
  appointed them (an :class:`EvaluatorAppointment` not ended).  A call the user may
  not work is "not in the queue" for them (404), like a visit that is not in it.
- The phone number is shown masked; showing it writes a ``ContactAccess`` row and an
  audit event (PIPL), like an official's reveal on the booking page.
- :func:`record_call`: every try is a :class:`FollowUpAttempt`.  Unreachable moves
  the call to ``retry`` until FOLLOW_UP_MAX_ATTEMPTS, then it is done with outcome
  unreachable.  Served (or partly) verifies the visit when it has a record not yet
  verified.  A final outcome sends :data:`follow_up_recorded` in the transaction
  (billing withholds or claws back a not-served visit's programme money).  A call
  already done refuses another result (409), before anything is written.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload

from app import audit
from app.clock import now
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import User
from providers.bookings.models import Booking, ContactAccess
from providers.bookings.privacy import mask_phone
from providers.visits.models import VerifiedBy
from providers.visits.verification import record_of, verify
from ratings.followups.models import (
    CallOutcome,
    CallStatus,
    EvaluatorAppointment,
    FollowUpAttempt,
    FollowUpCall,
    follow_up_recorded,
)

MAX_NOTE = 1000
OPEN = (CallStatus.QUEUED, CallStatus.RETRY)


def may_work_queue(user: User) -> bool:
    return user.is_official or user.is_evaluator


def appointed_programmes(user: User):
    """SQL: the programmes whose evaluator ``user`` is now."""
    return sa.select(EvaluatorAppointment.programme_id).where(
        EvaluatorAppointment.user_id == user.id, EvaluatorAppointment.ended_at.is_(None))


def _visible(user: User) -> list:
    if user.is_official:
        return []
    if user.is_evaluator:
        return [FollowUpCall.programme_id.in_(appointed_programmes(user))]
    return [sa.false()]


def queue_for(session: Session, user: User, *, open_only: bool = True) -> list[FollowUpCall]:
    """The calls ``user`` may work (open ones first, oldest first), with their visits,
    residents and providers loaded in the same statement."""
    if not may_work_queue(user):
        raise Forbidden(_l("Only officials and appointed evaluators work the follow-up queue."))
    where = _visible(user)
    if open_only:
        where.append(FollowUpCall.status.in_(OPEN))
    return list(session.scalars(
        sa.select(FollowUpCall).where(*where)
        .options(joinedload(FollowUpCall.booking).joinedload(Booking.resident),
                 joinedload(FollowUpCall.booking).joinedload(Booking.provider),
                 joinedload(FollowUpCall.booking).joinedload(Booking.listing))
        .order_by(FollowUpCall.status.desc(), FollowUpCall.created_at, FollowUpCall.id)
    ).unique())


def call_for_visit(session: Session, user: User, booking_id: int, *, for_update: bool = False) -> FollowUpCall:
    """The queued call of visit ``booking_id`` that ``user`` may work; NotFound otherwise."""
    if not may_work_queue(user):
        raise Forbidden(_l("Only officials and appointed evaluators work the follow-up queue."))
    stmt = sa.select(FollowUpCall).where(FollowUpCall.booking_id == booking_id, *_visible(user))
    if for_update:
        stmt = stmt.with_for_update()
    call = session.scalar(stmt)
    if call is None:
        raise NotFound(_l("This visit is not in your follow-up queue."))
    return call


def masked_phone(call: FollowUpCall) -> str:
    return mask_phone(call.booking.resident.phone)


def reveal_phone(session: Session, call: FollowUpCall, user: User) -> str:
    """The resident's phone number for the call; the view is logged (PIPL).  Only while the
    call is to be made: a finished call's number is not shown again."""
    if call.status == CallStatus.DONE:
        raise Conflict(_l("This call is already recorded: %(outcome)s.", outcome=call.outcome_label))
    session.add(ContactAccess(booking_id=call.booking_id, official_id=user.id,
                              reason=f"follow-up call #{call.id}", at=now()))
    audit.record(session, actor=user, action="follow_up.phone_viewed", object_type="booking",
                 object_id=call.booking_id, reason=f"follow-up call #{call.id}")
    session.flush()
    return call.booking.resident.phone


def _outcome(raw) -> CallOutcome:
    try:
        return CallOutcome(raw)
    except ValueError:
        raise Invalid(_l("Choose what the resident said."), field="outcome") from None


def _satisfaction(raw, outcome: CallOutcome) -> int | None:
    if outcome == CallOutcome.UNREACHABLE:
        return None
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        raise Invalid(_l("Give the resident's satisfaction, 1 to 5."), field="satisfaction") from None
    if not 1 <= value <= 5:
        raise Invalid(_l("Give the resident's satisfaction, 1 to 5."), field="satisfaction")
    return value


def record_call(session: Session, call: FollowUpCall, user: User, *, outcome, satisfaction=None,
                note: str = "") -> FollowUpCall:
    """Record one try of ``call`` (see the module's rules); flushes, never commits."""
    if call.status == CallStatus.DONE:
        raise Conflict(_l("This call is already recorded: %(outcome)s.", outcome=call.outcome_label))
    found = _outcome(outcome)
    score = _satisfaction(satisfaction, found)
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise Invalid(_l("The note is too long (1000 characters at most)."), field="note")
    before = {"status": str(call.status), "attempts": call.attempts}
    call.attempts += 1
    session.add(FollowUpAttempt(call_id=call.id, caller_id=user.id, outcome=found, note=note, at=now()))
    final = found != CallOutcome.UNREACHABLE or call.attempts >= int(current_app.config["FOLLOW_UP_MAX_ATTEMPTS"])
    if final:
        call.status, call.outcome, call.satisfaction = CallStatus.DONE, found, score
        call.note, call.recorded_by_id, call.recorded_at = note, user.id, now()
    else:
        call.status = CallStatus.RETRY
    session.flush()
    audit.record(session, actor=user, action="follow_up.recorded", object_type="follow_up_call", object_id=call.id,
                 before=before, after={"status": str(call.status), "attempts": call.attempts, "outcome": str(found),
                                       "satisfaction": score}, reason=note or None)
    # Served as recorded verifies the visit; served partly does not (it is not paid in full
    # on the resident's word: it stays pending until an official clears it or it lapses).
    if found == CallOutcome.SERVED:
        record = record_of(session, call.booking_id, for_update=True)
        if record is not None and not record.is_verified:
            verify(session, call.booking, record, VerifiedBy.FOLLOW_UP, user)
    if final:
        follow_up_recorded.send(session, call=call, actor=user)
    return call
