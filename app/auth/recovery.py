"""Account recovery: a password reset by a code sent by SMS, or by a grid worker or an
official after an identity check.

Services take a session, check the rules, flush, and never commit.

Invariants:

- **A reset code is a phone code** (:class:`~app.models.PhoneCode`, purpose ``reset``):
  6 digits, stored as an HMAC, valid ``PHONE_CODE_MINUTES`` (10), ``PHONE_CODE_ATTEMPTS``
  (5) tries counted by a conditional UPDATE, works once; asked for within the limits per
  phone and per client address of every phone code (app/auth/services.py).
- **Never says whether a phone has an account.**  Asking for a reset of any well-formed
  number makes a code row and counts against the same limits; only a phone with an
  active account receives the SMS (the ``password_reset_code`` template, urgent).  The
  page answers the same either way, and the code of a phone with no account never
  matches, so the second step answers the same too.
- **A reset ends everything the old password opened**: every session, every API token.
- **An assisted reset records the identity check**: a grid worker (for a resident of
  her grids only: :func:`app.grids.workers.may_act_for`, anyone else's is a 404) or an
  official chooses how the resident was identified (in person, ID card seen: its last 4
  characters typed; or a call-back to the registered number) and writes a note; the
  audit event names who, whom and how.  The resident gets a temporary password on a
  printed slip, valid ``TEMPORARY_PASSWORD_HOURS`` (72), which must be replaced at the
  first log-in (:func:`must_set_password`).
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.auth import services
from app.clock import now
from app.delivery.outbox import enqueue, new_key
from app.errors import Invalid, NotFound, Problems
from app.models import CodePurpose, PhoneCode, Role, User
from app.passwords import hash_password

TEMPORARY_PASSWORD_HOURS = 72
# Letters and digits nobody mistakes for one another when reading them off paper.
SLIP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
TEMPORARY_PASSWORD_LENGTH = 10

IN_PERSON = "in_person_id"
CALL_BACK = "phone_call_back"
METHODS = {
    IN_PERSON: _l("In person: I saw the resident's ID card"),
    CALL_BACK: _l("Phone call-back: I called the resident's registered number and spoke with her or him"),
}
ID_LAST4 = re.compile(r"^\d{3}[\dX]$")
MAX_NOTE = 500


# --- by SMS code -------------------------------------------------------------------------


def start_reset(session: Session, *, phone: str, ip: str) -> PhoneCode:
    """Make a reset code for ``phone`` and send it if the phone has an active account.

    The same row, limits and answer whether or not it has one (no account enumeration)."""
    phone = services.check_phone(phone)
    user = session.scalar(sa.select(User).where(User.phone == phone))
    known = user is not None and user.is_active
    row, code = services.new_code(session, CodePurpose.RESET, phone, ip, {"user_id": user.id} if known else {})
    if known:
        enqueue(session, channel="sms", recipient=phone, template="password_reset_code", params={"code": code},
                dedup_key=new_key("reset"), urgent=True, language=user.locale, user_id=user.id)
    return row


def check_new_password(new: str, confirm: str, *, phone: str | None, problems: Problems,
                       field: str = "new_password") -> None:
    """A new password strong enough and typed the same twice (added to ``problems``)."""
    try:
        services.check_password(new, field=field, phone=phone)
    except Invalid as error:
        problems.extend(error)
    if (new or "") != (confirm or ""):
        problems.add(_l("The two passwords are not the same. Type the new password twice."),
                     field="confirm_password")


def _set_password(session: Session, user: User, new: str) -> int:
    user.password_hash = hash_password(new)
    user.temporary_password_until = None
    user.end_sessions()
    return services.revoke_all_tokens(session, user, reason="password")


def reset_with_code(session: Session, code_id: int | None, *, code: str, new: str, confirm: str) -> User:
    """Set a new password with the code sent by SMS; every problem at once (:class:`Problems`).

    A wrong code spends one of its tries (the caller commits the count with the refusal);
    nothing else is written unless everything is right."""
    row = services._pending_code(session, code_id, CodePurpose.RESET)
    problems = Problems()
    check_new_password(new, confirm, phone=row.phone, problems=problems)
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        problems.add(_l("Enter the 6 digits of the code from the SMS."), field="code")
    else:
        try:
            services._try_code(session, row, code)
        except Invalid as error:
            problems.extend(error)
    problems.raise_if_any()
    user_id = (row.payload or {}).get("user_id")
    user = session.get(User, user_id) if user_id else None
    if user is None or not user.is_active:  # never reached: nobody has the code of such a row
        raise Invalid(_l("The code is not right."), field="code")
    row.used_at = now()
    row.payload = None
    revoked = _set_password(session, user, new)
    session.add(services.LoginAttempt(phone=row.phone, ip=row.ip, at=now(), succeeded=True))
    audit.record(session, actor=user, action="account.password_reset", object_type="user", object_id=user.id,
                 after={"method": "sms_code", "tokens_revoked": revoked})
    session.flush()
    return user


def pending_reset(session: Session, code_id: int | None) -> PhoneCode | None:
    row = session.get(PhoneCode, code_id) if code_id else None
    return row if row is not None and row.purpose == CodePurpose.RESET and row.used_at is None else None


# --- by a grid worker or an official -----------------------------------------------------------


def may_reset(session: Session, helper: User, resident: User) -> bool:
    """Whether ``helper`` may reset ``resident``'s password: an official any resident's, a
    grid worker those of her grids today."""
    if resident is None or resident.role != Role.RESIDENT:
        return False
    if helper.is_official:
        return True
    if helper.role == Role.GRID_WORKER:
        from app.grids.workers import may_act_for

        return may_act_for(session, helper, resident, now())
    return False


def resident_to_reset(session: Session, helper: User, resident_id: int) -> User:
    """The resident ``helper`` may reset, else NotFound (a worker does not learn who lives elsewhere)."""
    resident = session.get(User, resident_id)
    if resident is None or not may_reset(session, helper, resident):
        raise NotFound(_l("No such resident."))
    return resident


def temporary_password() -> str:
    return "".join(secrets.choice(SLIP_ALPHABET) for _ in range(TEMPORARY_PASSWORD_LENGTH))


def assisted_reset(session: Session, helper: User, resident: User, *, method: str, id_last4: str,
                   note: str) -> str:
    """Give ``resident`` a temporary password after the identity check ``method``; every
    problem at once.  Returns the temporary password (printed on the slip, stored only hashed)."""
    if not may_reset(session, helper, resident):
        raise NotFound(_l("No such resident."))
    problems = Problems()
    note = (note or "").strip()
    digits = re.sub(r"\s", "", id_last4 or "").upper()
    if method not in METHODS:
        problems.add(_l("Choose how you checked who the resident is."), field="method")
    if method == IN_PERSON and not ID_LAST4.match(digits):
        problems.add(_l("Type the last 4 characters of the ID number you saw (digits, or X at the end)."),
                     field="id_last4")
    if method == CALL_BACK and not note:
        problems.add(_l("Write down whom you spoke with on the call-back and what they confirmed."), field="note")
    if len(note) > MAX_NOTE:
        problems.add(_l("The note is too long (%(n)d characters at most).", n=MAX_NOTE), field="note")
    problems.raise_if_any()
    password = temporary_password()
    revoked = _set_password(session, resident, password)
    resident.temporary_password_until = now() + timedelta(hours=TEMPORARY_PASSWORD_HOURS)
    check = {"method": method, "id_last4": digits if method == IN_PERSON else None}
    audit.record(session, actor=helper, action="account.password_reset_assisted", object_type="user",
                 object_id=resident.id,
                 after={**check, "helper_role": helper.role.value, "resident": resident.id,
                        "temporary_until": resident.temporary_password_until, "tokens_revoked": revoked},
                 reason=note or None)
    session.flush()
    return password


# --- a temporary password is replaced at the first log-in --------------------------------------


def must_set_password(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "temporary_password_until", None))


def replace_temporary(session: Session, user: User, *, new: str, confirm: str) -> None:
    """Set the user's own password in place of a temporary one; every problem at once."""
    problems = Problems()
    check_new_password(new, confirm, phone=user.phone, problems=problems)
    problems.raise_if_any()
    _set_password(session, user, new)
    audit.record(session, actor=user, action="account.temporary_password_replaced", object_type="user",
                 object_id=user.id)
    session.flush()
