"""Who may be enrolled: resident profiles, the eligibility rules, enrolment (one, CSV, application).

A resident's birth date and household flags (living alone, low income,
disability) are sensitive (PIPL): they live in ``resident_profile``, only
officials read them, and every read through :func:`read_profile` is logged in
``sensitive_data_access``.  Age is computed from the birth date on today's
local date (Asia/Shanghai).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, selectinload

from app import audit
from app.clock import now, today
from app.errors import Forbidden, IllegalTransition, Invalid, LinliError, NotFound, Problems
from app.models import User
from app.notifications import notify
from billing.programmes.models import (
    ENROLMENT_MACHINE,
    Enrolment,
    EnrolmentStatus,
    ProgrammeStatus,
    PurchaseProgramme,
    ResidentProfile,
    SensitiveDataAccess,
)

E = EnrolmentStatus

# This package's notifications (registered with the shell's catalogue of kinds).
# Notification kinds, registered by the package's init_app.
NOTIFICATIONS = {
    "programme.enrolled": _l("You are enrolled in the purchase programme %(title)s: book covered services "
                             "with your entitlement."),
    "programme.rejected": _l("Your application to %(title)s was not approved: %(reason)s"),
}
MAX_CSV_ROWS = 2000
CSV_COLUMNS = ("phone", "birth_date", "lives_alone", "low_income", "disability")
TRUE_WORDS = {"1", "yes", "y", "true", "是", "x"}
FALSE_WORDS = {"", "0", "no", "n", "false", "否"}


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass
class ProfileFacts:
    birth_date: date | None
    lives_alone: bool = False
    low_income: bool = False
    disability: bool = False


def ineligibilities(programme: PurchaseProgramme, resident: User,
                    facts: ProfileFacts | ResidentProfile | None) -> list[tuple[str, str | None]]:
    """Every reason the resident is not eligible, each with the fact at fault (a field of the
    application form; None for the community); empty when they are eligible."""
    reasons: list[tuple[str, str | None]] = []
    if resident.community_id not in {c.id for c in programme.communities}:
        reasons.append((str(_l("The programme does not cover this resident's community.")), None))
    if programme.min_age is not None:
        if facts is None or facts.birth_date is None:
            reasons.append((str(_l("The birth date is needed: the programme is for residents aged %(n)d or over.",
                                   n=programme.min_age)), "birth_date"))
        elif age_on(facts.birth_date, today()) < programme.min_age:
            reasons.append((str(_l("The resident is under %(n)d.", n=programme.min_age)), "birth_date"))
    if programme.requires_living_alone and not (facts and facts.lives_alone):
        reasons.append((str(_l("The programme is for residents living alone.")), "lives_alone"))
    if programme.requires_low_income and not (facts and facts.low_income):
        reasons.append((str(_l("The programme is for low-income households.")), "low_income"))
    if programme.requires_disability and not (facts and facts.disability):
        reasons.append((str(_l("The programme is for residents with a disability.")), "disability"))
    return reasons


def ineligibility(programme: PurchaseProgramme, resident: User, facts: ProfileFacts | ResidentProfile | None) -> str | None:
    """Why the resident is not eligible (the first reason), or None when they are."""
    reasons = ineligibilities(programme, resident, facts)
    return reasons[0][0] if reasons else None


def application_problems(programme: PurchaseProgramme, resident: User, facts: ProfileFacts) -> Problems:
    """Everything wrong with an application's facts at once: an implausible birth date, and
    each eligibility rule the facts do not meet (on the fact's field)."""
    problems = Problems()
    try:
        _validate_facts(facts)
    except Invalid as error:
        problems.extend(error)
    for message, field in ineligibilities(programme, resident, facts):
        if not (field == "birth_date" and problems):
            problems.add(message, field=field)
    return problems


def _validate_facts(facts: ProfileFacts) -> None:
    if facts.birth_date is not None and not date(1900, 1, 1) <= facts.birth_date <= today():
        raise Invalid(_l("The birth date is not plausible."), field="birth_date")


def save_profile(session: Session, resident: User, facts: ProfileFacts, by: User) -> ResidentProfile:
    """Store the resident's facts (an official recording them, or the resident applying)."""
    _validate_facts(facts)
    profile = session.get(ResidentProfile, resident.id)
    if profile is None:
        profile = ResidentProfile(user_id=resident.id)
        session.add(profile)
    profile.birth_date = facts.birth_date
    profile.lives_alone, profile.low_income, profile.disability = facts.lives_alone, facts.low_income, facts.disability
    profile.updated_at = now()
    profile.updated_by_id = by.id
    session.flush()
    return profile


def read_profile(session: Session, official: User, resident: User, purpose: str) -> ResidentProfile | None:
    """The resident's sensitive profile, for an official only; the read is logged."""
    if not official.is_official:
        raise Forbidden(_l("Only officials may see residents' eligibility details."))
    session.add(SensitiveDataAccess(official_id=official.id, resident_id=resident.id, purpose=purpose[:200], at=now()))
    session.flush()
    return session.get(ResidentProfile, resident.id)


def _resident_by_phone(session: Session, phone: str) -> User:
    phone = (phone or "").strip()
    resident = session.scalar(sa.select(User).where(User.phone == phone)) if phone else None
    if resident is None or not resident.is_resident:
        raise Invalid(_l("No resident has the phone number %(phone)s.", phone=phone or "—"), field="phone")
    return resident


def _enrolment(session: Session, programme: PurchaseProgramme, resident: User) -> Enrolment | None:
    return session.scalar(sa.select(Enrolment).where(Enrolment.programme_id == programme.id,
                                                     Enrolment.resident_id == resident.id))


def _open(programme: PurchaseProgramme) -> None:
    if programme.status != ProgrammeStatus.OPEN:
        raise IllegalTransition(_l("Residents can be enrolled only while the programme is open."))


def enrol(session: Session, programme: PurchaseProgramme, official: User, *, phone: str,
          facts: ProfileFacts, source: str = "official") -> Enrolment:
    """An official enrols one resident (found by phone), recording their facts."""
    if not official.is_official:
        raise Forbidden(_l("Only officials enrol residents."))
    _open(programme)
    resident = _resident_by_phone(session, phone)
    _validate_facts(facts)
    reason = ineligibility(programme, resident, facts)
    if reason:
        raise Invalid(reason, field="phone")
    existing = _enrolment(session, programme, resident)
    if existing is not None and existing.status == E.ENROLLED:
        raise Invalid(_l("%(name)s is already enrolled.", name=resident.name), field="phone")
    if existing is not None:  # refused before the profile is written
        ENROLMENT_MACHINE.check(existing.status, E.ENROLLED)
    save_profile(session, resident, facts, official)
    if existing is None:
        existing = Enrolment(programme_id=programme.id, resident_id=resident.id, status=E.ENROLLED, source=source,
                             applied_at=now())
        session.add(existing)
    else:
        ENROLMENT_MACHINE.move(existing, E.ENROLLED)
    existing.decided_at, existing.decided_by_id = now(), official.id
    session.flush()
    audit.record(session, actor=official, action="enrolment.enrolled", object_type="programme",
                 object_id=programme.id, after={"resident_id": resident.id, "source": source})
    notify(session, [resident.id], "programme.enrolled", link="/my/entitlements", title=programme.title)
    return existing


def apply(session: Session, programme: PurchaseProgramme, resident: User, facts: ProfileFacts) -> Enrolment:
    """A resident applies, stating their facts; an official decides."""
    if not resident.is_resident:
        raise Forbidden(_l("Only residents can apply."))
    _open(programme)
    application_problems(programme, resident, facts).raise_if_any()
    existing = _enrolment(session, programme, resident)
    if existing is not None and existing.status in (E.APPLIED, E.ENROLLED):
        raise Invalid(_l("You have already applied to this programme."))
    if existing is not None:  # a withdrawn enrolment cannot apply again: refused before the profile is written
        ENROLMENT_MACHINE.check(existing.status, E.APPLIED)
    save_profile(session, resident, facts, resident)
    if existing is None:
        existing = Enrolment(programme_id=programme.id, resident_id=resident.id, status=E.APPLIED,
                             source="application", applied_at=now())
        session.add(existing)
    else:
        ENROLMENT_MACHINE.move(existing, E.APPLIED)
        existing.applied_at, existing.decided_at, existing.decided_by_id, existing.reason = now(), None, None, None
    session.flush()
    return existing


def decide(session: Session, enrolment: Enrolment, official: User, *, approve: bool, reason: str = "") -> None:
    """An official approves (eligibility re-checked) or rejects (with a reason) an application."""
    if not official.is_official:
        raise Forbidden(_l("Only officials decide applications."))
    reason = (reason or "").strip()
    programme = enrolment.programme
    if approve:
        _open(programme)
        why_not = ineligibility(programme, enrolment.resident, session.get(ResidentProfile, enrolment.resident_id))
        if why_not:
            raise Invalid(why_not)
    elif not reason:
        raise Invalid(_l("Give a reason: the resident will see it."), field="reason")
    old = ENROLMENT_MACHINE.move(enrolment, E.ENROLLED if approve else E.REJECTED)
    enrolment.decided_at, enrolment.decided_by_id, enrolment.reason = now(), official.id, reason or None
    session.flush()
    audit.record(session, actor=official, action=f"enrolment.{enrolment.status.value}", object_type="programme",
                 object_id=programme.id, before={"status": old},
                 after={"status": enrolment.status, "resident_id": enrolment.resident_id}, reason=reason or None)
    notify(session, [enrolment.resident_id], f"programme.{enrolment.status.value}", link="/my/entitlements",
           title=programme.title, reason=reason)


def withdraw(session: Session, enrolment: Enrolment, official: User, reason: str) -> None:
    if not official.is_official:
        raise Forbidden(_l("Only officials withdraw enrolments."))
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Give a reason: the resident will see it."), field="reason")
    old = ENROLMENT_MACHINE.move(enrolment, E.WITHDRAWN)
    enrolment.decided_at, enrolment.decided_by_id, enrolment.reason = now(), official.id, reason
    session.flush()
    audit.record(session, actor=official, action="enrolment.withdrawn", object_type="programme",
                 object_id=enrolment.programme_id, before={"status": old},
                 after={"status": enrolment.status, "resident_id": enrolment.resident_id}, reason=reason)


def get_enrolment(session: Session, programme_id: int, enrolment_id: int) -> Enrolment:
    found = session.scalar(sa.select(Enrolment).where(Enrolment.id == enrolment_id,
                                                      Enrolment.programme_id == programme_id))
    if found is None:
        raise NotFound(_l("No such enrolment."))
    return found


def enrolments(session: Session, programme_id: int) -> list[Enrolment]:
    """The programme's enrolments with their residents (the page and its CSV name them)."""
    return list(session.scalars(sa.select(Enrolment).options(selectinload(Enrolment.resident))
                                .where(Enrolment.programme_id == programme_id)
                                .order_by(Enrolment.status, Enrolment.id)))


# --- CSV ------------------------------------------------------------------------------


def _flag(value: str | None, column: str) -> bool:
    text = (value or "").strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise Invalid(_l("%(column)s must be yes or no, not “%(value)s”.", column=column, value=value), field=column)


def _birth(value: str | None) -> date | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(_l("birth_date must be a date like 1950-03-14, not “%(value)s”.", value=text),
                      field="birth_date") from None


@dataclass
class RowResult:
    line: int
    phone: str
    ok: bool
    message: str


def enrol_csv(session: Session, programme: PurchaseProgramme, official: User, data: bytes) -> list[RowResult]:
    """Enrol every good row; each bad row gets its message and rejects nothing else.

    Columns: phone, birth_date (YYYY-MM-DD), lives_alone, low_income, disability
    (yes/no, 是/否, 1/0).  Each row runs in a SAVEPOINT of its own."""
    if not official.is_official:
        raise Forbidden(_l("Only officials enrol residents."))
    _open(programme)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(_l("The file is not UTF-8 text. Save it as CSV (UTF-8)."), field="file") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise Invalid(_l("The file needs the columns %(columns)s; missing: %(missing)s.",
                         columns=", ".join(CSV_COLUMNS), missing=", ".join(missing)), field="file")
    results: list[RowResult] = []
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_CSV_ROWS:
            raise Invalid(_l("At most %(n)d rows per file.", n=MAX_CSV_ROWS), field="file")
        row = {(k or "").strip(): (v or "") for k, v in raw.items()}
        phone = row.get("phone", "").strip()
        try:
            facts = ProfileFacts(birth_date=_birth(row.get("birth_date")),
                                 lives_alone=_flag(row.get("lives_alone"), "lives_alone"),
                                 low_income=_flag(row.get("low_income"), "low_income"),
                                 disability=_flag(row.get("disability"), "disability"))
            with session.begin_nested():
                enrolment = enrol(session, programme, official, phone=phone, facts=facts, source="csv")
            results.append(RowResult(number, phone, True, str(_l("Enrolled %(name)s.", name=enrolment.resident.name))))
        except LinliError as error:
            results.append(RowResult(number, phone, False, str(error)))
    if not results:
        raise Invalid(_l("The file has no rows."), field="file")
    return results
