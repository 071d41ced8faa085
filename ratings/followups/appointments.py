"""Evaluator appointments: an official appoints a third-party evaluator (a user with the
evaluator role, found by phone) to a programme's follow-up calls, and ends it.  Both
are audited on the programme; an ended appointment hides that programme's calls from
the evaluator at once (calls.py reads only appointments not ended)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.clock import now
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import Role, User
from ratings.followups.models import EvaluatorAppointment


def appointments_of(session: Session, programme_id: int) -> list[tuple[EvaluatorAppointment, User]]:
    """The programme's appointments with their evaluators, current ones first."""
    return list(session.execute(
        sa.select(EvaluatorAppointment, User).join(User, User.id == EvaluatorAppointment.user_id)
        .where(EvaluatorAppointment.programme_id == programme_id)
        .order_by(EvaluatorAppointment.ended_at.is_not(None), EvaluatorAppointment.appointed_at)).tuples())


def _official(user: User) -> None:
    if not user.is_official:
        raise Forbidden(_l("Only officials can appoint evaluators."))


def appoint_evaluator(session: Session, programme_id: int, official: User, phone: str) -> EvaluatorAppointment:
    """Appoint the evaluator with ``phone`` (again, if an earlier appointment ended)."""
    _official(official)
    phone = (phone or "").strip()
    user = session.scalar(sa.select(User).where(User.phone == phone)) if phone else None
    if user is None or user.role != Role.EVALUATOR:
        raise Invalid(_l("No evaluator account has this phone number."), field="phone")
    appointment = session.scalar(sa.select(EvaluatorAppointment).where(
        EvaluatorAppointment.programme_id == programme_id, EvaluatorAppointment.user_id == user.id))
    if appointment is not None and appointment.ended_at is None:
        raise Conflict(_l("This evaluator is already appointed to the programme."), field="phone")
    if appointment is None:
        appointment = EvaluatorAppointment(programme_id=programme_id, user_id=user.id, appointed_by_id=official.id,
                                           appointed_at=now())
        try:
            # Two officials appointing the same evaluator at once: the unique (programme, user)
            # key lets one in; the other is told, as if it had come second.
            with session.begin_nested():
                session.add(appointment)
                session.flush()
        except IntegrityError:
            raise Conflict(_l("This evaluator is already appointed to the programme."), field="phone") from None
    appointment.appointed_by_id, appointment.appointed_at, appointment.ended_at = official.id, now(), None
    session.flush()
    audit.record(session, actor=official, action="programme.evaluator_appointed", object_type="programme",
                 object_id=programme_id, after={"evaluator": f"{user.name} ({user.phone})"})
    return appointment


def end_appointment(session: Session, programme_id: int, appointment_id: int, official: User) -> EvaluatorAppointment:
    _official(official)
    appointment = session.get(EvaluatorAppointment, appointment_id)
    if appointment is None or appointment.programme_id != programme_id:
        raise NotFound(_l("No such appointment on this programme."))
    if appointment.ended_at is not None:
        raise Conflict(_l("This appointment has already ended."))
    appointment.ended_at = now()
    session.flush()
    user = session.get(User, appointment.user_id)
    audit.record(session, actor=official, action="programme.evaluator_ended", object_type="programme",
                 object_id=programme_id, before={"evaluator": f"{user.name} ({user.phone})"})
    return appointment
