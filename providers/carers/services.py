"""The roster: add, edit, deactivate and reactivate carers; add and remove their qualifications.

Every change is made by a staff member of the carer's provider (the pages load
only their own provider's carers: another's is a 404), is checked before anything
is written, and writes an audit event in the same transaction.  The ID number
never reaches an audit payload: only its masked form does.  Services flush,
never commit.
"""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.errors import Conflict, Invalid, NotFound, Problems
from app.models import User
from providers.carers import identity
from providers.carers.kinds import QualificationKind
from providers.carers.models import Carer, CarerQualification

PHONE = re.compile(r"^1\d{10}$")

ALREADY_ON_ROSTER = _l("This person is already on your roster (the same ID number).")


def clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise Invalid(_l("Enter the carer's name."), field="name")
    if len(name) > 40:
        raise Invalid(_l("The name is too long (40 characters at most)."), field="name")
    return name


def clean_phone(phone: str | None) -> str:
    phone = (phone or "").strip().replace(" ", "").replace("-", "")
    if not PHONE.match(phone):
        raise Invalid(_l("Enter a mobile number of 11 digits starting with 1."), field="phone")
    return phone


def clean_certificate_number(number: str | None) -> str:
    number = (number or "").strip()
    if not number:
        raise Invalid(_l("Enter the certificate number."), field="number")
    if len(number) > 40:
        raise Invalid(_l("The certificate number is too long (40 characters at most)."), field="number")
    return number


def _facts(carer: Carer) -> dict:
    """What the audit event says about a carer (never the ID number itself)."""
    return {"name": carer.name, "phone": carer.phone, "id_number": carer.id_number_masked, "active": carer.active}


def roster(session: Session, provider_id: int) -> list[Carer]:
    """The provider's carers, active ones first, by name."""
    return list(session.scalars(
        sa.select(Carer).where(Carer.provider_id == provider_id).order_by(Carer.active.desc(), Carer.name, Carer.id)
    ))


def active_carers(session: Session, provider_id: int) -> list[Carer]:
    return [carer for carer in roster(session, provider_id) if carer.active]


def carer_of(session: Session, provider_id: int, carer_id: int) -> Carer:
    """A carer of this provider (404 for any other)."""
    carer = session.scalar(sa.select(Carer).where(Carer.id == carer_id, Carer.provider_id == provider_id))
    if carer is None:
        raise NotFound(_l("No such carer."))
    return carer


def _cleaned(problems: Problems, clean, value):
    """``clean(value)``, or None with its refusal added to ``problems``."""
    try:
        return clean(value)
    except Invalid as error:
        problems.extend(error)
        return None


def add_carer(session: Session, provider_id: int, actor: User, *, name: str, phone: str, id_number: str) -> Carer:
    """Put a person on the roster: every mistake at once (:class:`Problems`), then Conflict on
    ``id_number`` if they are on it already."""
    problems = Problems()
    name, phone = _cleaned(problems, clean_name, name), _cleaned(problems, clean_phone, phone)
    number = _cleaned(problems, identity.clean, id_number)
    problems.raise_if_any()
    digest = identity.digest(number)
    if session.scalar(sa.select(Carer.id).where(Carer.provider_id == provider_id, Carer.id_number_digest == digest)):
        raise Conflict(ALREADY_ON_ROSTER, field="id_number")
    carer = Carer(provider_id=provider_id, name=name, phone=phone, id_number_secret=identity.encrypt(number),
                  id_number_digest=digest, id_number_masked=identity.mask(number), active=True)
    try:
        with session.begin_nested():
            session.add(carer)
            session.flush()
    except IntegrityError:  # added meanwhile by another request (the unique digest)
        raise Conflict(ALREADY_ON_ROSTER, field="id_number") from None
    audit.record(session, actor=actor, action="carer.added", object_type="carer", object_id=carer.id,
                 after=_facts(carer))
    return carer


def update_carer(session: Session, carer: Carer, actor: User, *, name: str, phone: str) -> None:
    """Correct a carer's name or phone (the ID number identifies the person: it does not change)."""
    before = _facts(carer)
    problems = Problems()
    name, phone = _cleaned(problems, clean_name, name), _cleaned(problems, clean_phone, phone)
    problems.raise_if_any()
    carer.name, carer.phone = name, phone
    session.flush()
    audit.record(session, actor=actor, action="carer.updated", object_type="carer", object_id=carer.id,
                 before=before, after=_facts(carer))


def set_active(session: Session, carer: Carer, actor: User, active: bool) -> None:
    """Deactivate (no new assignments; visits already assigned keep them) or reactivate."""
    if carer.active == active:
        raise Conflict(_l("This carer is already active.") if active else _l("This carer is already inactive."))
    carer.active = active
    session.flush()
    audit.record(session, actor=actor, action="carer.activated" if active else "carer.deactivated",
                 object_type="carer", object_id=carer.id, before={"active": not active}, after={"active": active})


def add_qualification(session: Session, carer: Carer, actor: User, *, kind: str, number: str,
                      expires_on: date | None) -> CarerQualification:
    problems = Problems()
    if kind not in {k.value for k in QualificationKind}:
        problems.add(_l("Choose a qualification from the list."), field="kind")
    number = _cleaned(problems, clean_certificate_number, number)
    if expires_on is None:
        problems.add(_l("Enter the expiry date printed on the certificate."), field="expires_on")
    problems.raise_if_any()
    qualification = CarerQualification(carer=carer, kind=QualificationKind(kind), number=number,
                                       expires_on=expires_on)
    session.add(qualification)
    session.flush()
    audit.record(session, actor=actor, action="carer.qualification_added", object_type="carer", object_id=carer.id,
                 after={"kind": kind, "number": number, "expires_on": expires_on.isoformat()})
    return qualification


def remove_qualification(session: Session, carer: Carer, actor: User, qualification_id: int) -> None:
    qualification = next((q for q in carer.qualifications if q.id == qualification_id), None)
    if qualification is None:
        raise NotFound(_l("No such qualification."))
    before = {"kind": qualification.kind.value, "number": qualification.number,
              "expires_on": qualification.expires_on.isoformat()}
    carer.qualifications.remove(qualification)
    session.flush()
    audit.record(session, actor=actor, action="carer.qualification_removed", object_type="carer",
                 object_id=carer.id, before=before)
