"""Accounts: resident sign-up, log-in with throttling, passwords, API tokens.

Services take a session, check the rules, flush, and never commit.

Invariants (docs/security.d/accounts.md):

- An account's phone is proven: sign-up holds the details (password hashed) in a
  :class:`~app.models.PhoneCode` until the 6-digit code sent by SMS is entered.
  Codes are stored as an HMAC, expire, allow a few tries (a conditional UPDATE
  counts them, so parallel guesses cannot exceed it), and work once.
- Codes sent are limited per client address and per phone in a sliding window,
  and log-in failures per phone and per address; each check counts rows while
  holding a lock on its keys (PostgreSQL advisory transaction locks; on SQLite the
  view runs it in ``write_transaction``, BEGIN IMMEDIATE), and the attempt is
  recorded as failed *before* the slow password check, then committed, so
  concurrent guesses are counted one by one.
- A known device (the signed cookie of an earlier successful log-in of that
  account) is counted per device, not per phone, so an attacker elsewhere cannot
  lock the owner out; an SMS code also gets the owner past the per-phone limit.
- An unknown phone costs a password hash check too (a dummy hash), so the time of
  the answer does not tell whether the phone is registered.
- API tokens expire (renewable), have a scope (read or write), and all of them
  are revoked when the password changes.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.clock import now
from app.errors import Conflict, Invalid, LinliError, NotFound, Problems
from app.extensions import login_manager
from app.models import (
    ApiToken,
    CodePurpose,
    Community,
    LoginAttempt,
    PhoneCode,
    Role,
    TokenScope,
    User,
    hash_token,
)
from app.passwords import (
    MIN_PASSWORD_LENGTH,
    contains_phone,
    hash_password,
    is_common,
    needs_rehash,
    verify_password,
)

# Mainland mobile numbers: 11 digits starting with 1[3-9].
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
TOKEN_PREFIX = "linli_"


class Throttled(LinliError):
    status = 429
    code = "too-many-attempts"

    def __init__(self, message, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def normalise_phone(phone: str) -> str:
    return re.sub(r"[\s-]", "", phone or "").removeprefix("+86")


def check_phone(phone: str, field: str = "phone") -> str:
    phone = normalise_phone(phone)
    if not PHONE_RE.match(phone):
        raise Invalid(_l("Enter an 11-digit mobile number starting with 1."), field=field)
    return phone


def check_password(password: str, field: str = "password", *, phone: str | None = None) -> None:
    """Refuse a short password, one of the most common (breached) ones, or the phone number."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise Invalid(
            _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
            field=field,
        )
    if is_common(password):
        raise Invalid(
            _l("This password is one of the most common passwords, which attackers try first. "
               "Choose another one."),
            field=field,
        )
    if contains_phone(password, phone):
        raise Invalid(_l("The password must not be or contain your phone number."), field=field)


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise Invalid(_l("Enter your name."), field="name")
    if len(name) > 80:
        raise Invalid(_l("The name is too long (80 characters at most)."), field="name")
    return name


def phone_taken(session: Session, phone: str) -> bool:
    return session.scalar(sa.select(sa.exists().where(User.phone == phone))) or False


def create_user(
    session: Session,
    *,
    phone: str,
    name: str,
    password: str,
    role: Role,
    community: Community | None = None,
    birth_date: date | None = None,
    password_hash: str | None = None,
) -> User:
    """Create an account; the phone is the log-in and must be unique.

    ``password_hash`` instead of ``password``: a password checked and hashed
    earlier (a sign-up waiting for its phone code)."""
    phone = check_phone(phone)
    name = check_name(name)
    if password_hash is None:
        check_password(password, phone=phone)
    if role == Role.RESIDENT and community is None:
        raise Invalid(_l("Choose your community."), field="community")
    if phone_taken(session, phone):
        raise Conflict(_l("This phone number is already registered. Log in instead."), field="phone")
    user = User(
        phone=phone,
        name=name,
        password_hash=password_hash or hash_password(password),
        role=role,
        community=community,
        birth_date=birth_date,
    )
    session.add(user)
    session.flush()
    return user


def _community(session: Session, community_id) -> Community | None:
    community = session.get(Community, community_id) if community_id else None
    if community_id and community is None:
        raise Invalid(_l("Choose a community from the list."), field="community")
    return community


def sign_up_resident(session: Session, *, phone, name, password, community_id) -> User:
    """Create a resident's account at once (the demo data, tests' arrangements); the
    sign-up page goes through :func:`start_signup` and :func:`confirm_signup`."""
    return create_user(
        session, phone=phone, name=name, password=password, role=Role.RESIDENT,
        community=_community(session, community_id),
    )


# --- serialising the counters -------------------------------------------------------


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def serialise(session: Session, *keys: str) -> None:
    """Hold a lock per key until the transaction ends, so that counting rows and adding
    one is atomic per key.  PostgreSQL: advisory transaction locks, taken in key order
    (two callers never wait for each other crosswise).  SQLite: the caller runs in
    :func:`app.db.write_transaction` (BEGIN IMMEDIATE), which locks the database."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_id(key))))


def _refuse_over(times: list[datetime], limit: int, window: timedelta, message_for) -> None:
    """Raise :class:`Throttled` when ``times`` (ascending, inside the window) reach ``limit``:
    free again once the oldest counted one leaves the window."""
    if limit <= 0 or len(times) < limit:
        return
    seconds = max(1, math.ceil((times[-limit] + window - now()).total_seconds()))
    raise Throttled(message_for(math.ceil(seconds / 60)), retry_after=seconds)


# --- log-in ------------------------------------------------------------------------


def _failures(session: Session, since: datetime, *conditions) -> list[datetime]:
    stmt = (
        sa.select(LoginAttempt.at)
        .where(LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False), *conditions)
        .order_by(LoginAttempt.at)
    )
    return list(session.scalars(stmt))


def _too_many_logins(minutes: int):
    return _l("Locked after too many wrong passwords: you can try again in about %(minutes)d minutes, "
              "or reset your password with a code by SMS, or ask your grid worker for help.", minutes=minutes)


def _check_throttle(session: Session, phone: str, ip: str, device: str | None) -> None:
    config = current_app.config
    window = timedelta(minutes=config["LOGIN_WINDOW_MINUTES"])
    since = now() - window
    if device is not None:
        # The account's own known device: only its own failures count.
        checks = [([LoginAttempt.phone == phone, LoginAttempt.device == device],
                   config["LOGIN_MAX_FAILURES_PER_PHONE"])]
    else:
        checks = [
            ([LoginAttempt.phone == phone, LoginAttempt.device.is_(None)], config["LOGIN_MAX_FAILURES_PER_PHONE"]),
            ([LoginAttempt.ip == ip, LoginAttempt.device.is_(None)], config["LOGIN_MAX_FAILURES_PER_IP"]),
        ]
    for conditions, limit in checks:
        _refuse_over(_failures(session, since, *conditions), limit, window, _too_many_logins)


def begin_login(session: Session, *, phone: str, ip: str, device: tuple[int, str] | None = None) -> LoginAttempt:
    """Count a log-in attempt before its password is checked (429 :class:`Throttled` when
    over a limit); the caller commits it at once, then calls :func:`finish_login`.

    ``device`` is the (user id, device id) of the request's known-device cookie; it
    counts only for the account it was set for."""
    phone = normalise_phone(phone)[:20]
    ip = (ip or "unknown")[:45]
    user_id = session.scalar(sa.select(User.id).where(User.phone == phone))
    known = device[1] if device is not None and user_id is not None and device[0] == user_id else None
    serialise(session, f"login-phone:{phone}", f"login-ip:{ip}")
    _check_throttle(session, phone, ip, known)
    attempt = LoginAttempt(phone=phone, ip=ip, at=now(), succeeded=False, device=known)
    session.add(attempt)
    session.flush()
    return attempt


def _dummy_hash() -> str:
    """A hash made with the current parameters, checked for phones with no account."""
    config = current_app.config
    key = ("linli.dummy_hash", config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_COST_KIB"],
           config["ARGON2_PARALLELISM"])
    cached = current_app.extensions.get(key)
    if cached is None:
        cached = current_app.extensions[key] = hash_password(secrets.token_urlsafe(16))
    return cached


def check_credentials(session: Session, phone: str, password: str) -> User | None:
    """The active user with this phone and password, or None; the same work either way."""
    user = session.scalar(sa.select(User).where(User.phone == normalise_phone(phone)))
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password) or not user.is_active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def finish_login(session: Session, attempt: LoginAttempt, password: str) -> User:
    """Check the password of a counted attempt; the attempt stays a failure unless it is right."""
    user = check_credentials(session, attempt.phone, password)
    if user is None:
        raise Invalid(_l("The phone number or password is not right."), field="password")
    if user.temporary_password_until is not None and now() >= user.temporary_password_until:
        raise Invalid(_l("This temporary password has expired. Ask your grid worker or the community office "
                         "for a new one, or reset your password with a code by SMS."), field="password")
    attempt.succeeded = True
    session.flush()
    return user


def authenticate(session: Session, *, phone: str, password: str, ip: str) -> User:
    """Both steps in one transaction (scripts, tests): the pages commit in between."""
    return finish_login(session, begin_login(session, phone=phone, ip=ip), password)


# --- phone codes ---------------------------------------------------------------------


def _code_hash(code_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"phone-code:{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _too_many_codes(minutes: int):
    return _l("Too many codes were asked for. Please wait %(minutes)d minutes and try again.", minutes=minutes)


def _check_code_limits(session: Session, phone: str, ip: str) -> None:
    config = current_app.config
    window = timedelta(minutes=config["SIGNUP_WINDOW_MINUTES"])
    since = now() - window
    for condition, limit in (
        (PhoneCode.ip == ip, config["SIGNUP_MAX_PER_IP"]),
        (PhoneCode.phone == phone, config["PHONE_CODES_PER_PHONE"]),
    ):
        times = list(session.scalars(
            sa.select(PhoneCode.created_at).where(condition, PhoneCode.created_at >= since)
            .order_by(PhoneCode.created_at)))
        _refuse_over(times, limit, window, _too_many_codes)


def new_code(session: Session, purpose: CodePurpose, phone: str, ip: str, payload: dict | None,
             *, minutes: int | None = None) -> tuple[PhoneCode, str]:
    """A new code row for ``phone`` (stored as an HMAC), within the limits per address and
    per phone; returns it with the code, which the caller sends (or not: see
    app/auth/recovery.py, which counts a reset of a phone with no account the same way)."""
    config = current_app.config
    ip = (ip or "unknown")[:45]
    serialise(session, f"code-ip:{ip}", f"code-phone:{phone}")
    _check_code_limits(session, phone, ip)
    code = f"{secrets.randbelow(10**6):06d}"
    minutes = minutes or config["PHONE_CODE_MINUTES"]
    row = PhoneCode(
        purpose=purpose, phone=phone, ip=ip, code_hash="", payload=payload, attempts=0,
        max_attempts=config["PHONE_CODE_ATTEMPTS"], created_at=now(),
        expires_at=now() + timedelta(minutes=minutes),
    )
    session.add(row)
    session.flush()
    row.code_hash = _code_hash(row.id, code)
    session.flush()
    return row, code


def _send_code(session: Session, purpose: CodePurpose, phone: str, ip: str, payload: dict) -> PhoneCode:
    """A new code for ``phone``, within the limits per address and per phone, sent by SMS
    (the outbox's ``login_code`` template, urgent: it goes out as the request commits)."""
    from app.delivery.outbox import enqueue, new_key

    row, code = new_code(session, purpose, phone, ip, payload)
    minutes = current_app.config["PHONE_CODE_MINUTES"]
    enqueue(session, channel="sms", recipient=phone, template="login_code",
            params={"code": code, "minutes": minutes}, dedup_key=new_key("code"), urgent=True,
            language=_request_language())
    return row


def _request_language() -> str | None:
    """The language of the page the code was asked for on (zh unless the person reads English)."""
    try:
        from flask_babel import get_locale

        locale = get_locale()
        return str(locale.language) if locale is not None else None
    except RuntimeError:  # outside a request
        return None


def _pending_code(session: Session, code_id: int | None, purpose: CodePurpose) -> PhoneCode:
    row = session.get(PhoneCode, code_id) if code_id else None
    if row is None or row.purpose != purpose:
        raise Invalid(_l("No code is waiting for you here. Start again."), field="code")
    if row.used_at is not None:
        raise Invalid(_l("This code has been used already. Start again."), field="code")
    return row


def _try_code(session: Session, row: PhoneCode, code: str) -> int:
    """Spend one try of the code; raise unless it is right.  Returns the tries left.

    The try is counted by a conditional UPDATE before the comparison, so that parallel
    guesses cannot get more than ``max_attempts`` of them; the caller commits the
    count when the code is wrong too."""
    if now() >= row.expires_at:
        raise Invalid(_l("The code has expired. Ask for a new one."), field="code")
    counted = session.execute(
        sa.update(PhoneCode)
        .where(PhoneCode.id == row.id, PhoneCode.used_at.is_(None), PhoneCode.attempts < PhoneCode.max_attempts)
        .values(attempts=PhoneCode.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not counted:
        raise Invalid(_l("Too many wrong codes. Ask for a new one."), field="code")
    session.refresh(row)
    left = row.max_attempts - row.attempts
    code = re.sub(r"\s", "", code or "")
    if not hmac.compare_digest(row.code_hash, _code_hash(row.id, code)):
        if left:
            raise Invalid(_l("The code is not right. %(n)d tries left.", n=left), field="code")
        raise Invalid(_l("Too many wrong codes. Ask for a new one."), field="code")
    return left


def check_signup(session: Session, *, phone, name, password, community_id) -> tuple[str, str, Community]:
    """The sign-up's phone, name and community, once every field is right; otherwise
    :class:`Problems` with what is wrong with each field (all of them at once)."""
    problems = Problems()
    checked_phone = checked_name = None
    try:
        checked_phone = check_phone(phone)
    except Invalid as error:
        problems.extend(error)
    try:
        checked_name = check_name(name)
    except Invalid as error:
        problems.extend(error)
    try:
        check_password(password, phone=checked_phone or normalise_phone(phone))
    except Invalid as error:
        problems.extend(error)
    community = _community(session, community_id)
    if community is None:
        problems.add(_l("Choose your community."), field="community")
    problems.raise_if_any()
    if phone_taken(session, checked_phone):
        raise Conflict(_l("This phone number is already registered. Log in instead."), field="phone")
    return checked_phone, checked_name, community


def start_signup(session: Session, *, phone, name, password, community_id, ip: str) -> PhoneCode:
    """Check a resident's sign-up and send a code to the phone; the account is made by
    :func:`confirm_signup` once the code comes back.  Nothing is made if a rule refuses."""
    phone, name, community = check_signup(session, phone=phone, name=name, password=password,
                                          community_id=community_id)
    payload = {"name": name, "community_id": community.id, "password_hash": hash_password(password)}
    return _send_code(session, CodePurpose.SIGNUP, phone, ip, payload)


def resend_code(session: Session, code_id: int | None, purpose: CodePurpose, ip: str) -> PhoneCode:
    """A new code in place of a pending one (the old one stops working); same limits."""
    old = _pending_code(session, code_id, purpose)
    old.used_at = now()
    return _send_code(session, purpose, old.phone, ip, old.payload)


def confirm_signup(session: Session, code_id: int | None, code: str) -> User:
    """Create the resident's account when the code sent to the phone is right."""
    row = _pending_code(session, code_id, CodePurpose.SIGNUP)
    _try_code(session, row, code)
    details = dict(row.payload or {})
    row.used_at = now()
    row.payload = None  # the password's hash stays only on the account
    return create_user(
        session, phone=row.phone, name=details["name"], password=None, role=Role.RESIDENT,
        community=_community(session, details["community_id"]), password_hash=details["password_hash"],
    )


def send_registration_code(session: Session, *, phone: str, password: str, ip: str, payload: dict,
                           field: str = "phone") -> PhoneCode:
    """A code to prove the phone of an account a domain's registration will make (a
    provider's first staff member): ``payload`` (JSON) waits with the password's hash
    until :func:`take_registration_code` gets the code back."""
    phone = check_phone(phone, field=field)
    return _send_code(session, CodePurpose.REGISTER, phone, ip,
                      {**payload, "password_hash": hash_password(password)})


def take_registration_code(session: Session, code_id: int | None, code: str) -> tuple[str, dict]:
    """Spend a try of a registration code; when it is right, use it up and return the phone
    and the payload (with ``password_hash``).  The caller commits either way."""
    row = _pending_code(session, code_id, CodePurpose.REGISTER)
    _try_code(session, row, code)
    payload = dict(row.payload or {})
    row.used_at = now()
    row.payload = None
    session.flush()
    return row.phone, payload


def pending_phone(session: Session, code_id: int | None) -> str | None:
    row = session.get(PhoneCode, code_id) if code_id else None
    return row.phone if row is not None and row.used_at is None else None


def send_login_code(session: Session, *, phone: str, ip: str) -> PhoneCode | None:
    """A log-in code for a registered, active phone (None for any other: the page says
    the same either way, so it does not tell which phones are registered)."""
    phone = check_phone(phone)
    user = session.scalar(sa.select(User).where(User.phone == phone))
    if user is None or not user.is_active:
        return None
    return _send_code(session, CodePurpose.LOGIN, phone, ip, {"user_id": user.id})


def login_with_code(session: Session, code_id: int | None, code: str, password: str) -> User:
    """Log in with the code sent to the phone and the password, past the per-phone throttle.

    A wrong password spends one of the code's tries, like a wrong code."""
    row = _pending_code(session, code_id, CodePurpose.LOGIN)
    left = _try_code(session, row, code)
    user = check_credentials(session, row.phone, password)
    if user is None:
        if left:
            raise Invalid(_l("The phone number or password is not right."), field="password")
        raise Invalid(_l("Too many wrong tries. Ask for a new code."), field="code")
    row.used_at = now()
    session.add(LoginAttempt(phone=row.phone, ip=row.ip, at=now(), succeeded=True))
    session.flush()
    return user


# --- passwords -----------------------------------------------------------------------


def change_password(session: Session, user: User, *, current: str, new: str) -> int:
    """Change the password, end every session and revoke every API token of the user.

    Returns how many tokens were revoked (the page says so)."""
    problems = Problems()
    if not verify_password(user.password_hash, current):
        problems.add(_l("The current password is not right."), field="current_password")
    try:
        check_password(new, field="new_password", phone=user.phone)
    except Invalid as error:
        problems.extend(error)
    problems.raise_if_any()
    user.password_hash = hash_password(new)
    user.end_sessions()
    revoked = revoke_all_tokens(session, user, reason="password")
    session.flush()
    return revoked


# --- API tokens ----------------------------------------------------------------------


def token_lifetime() -> timedelta:
    return timedelta(days=current_app.config["API_TOKEN_DAYS"])


def issue_token(
    session: Session, user: User, name: str, scope: TokenScope | str = TokenScope.WRITE
) -> tuple[ApiToken, str]:
    """Create a personal API token; return it with the raw secret (shown once)."""
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise Invalid(_l("Give the token a name (60 characters at most)."), field="name")
    try:
        scope = TokenScope(scope)
    except ValueError:
        raise Invalid(_l("Choose what the token may do: read, or read and write."), field="scope") from None
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=name, token_hash=hash_token(raw), prefix=raw[:12], scope=scope,
        created_at=now(), expires_at=now() + token_lifetime(),
    )
    session.add(token)
    session.flush()
    return token, raw


def _own_token(session: Session, user: User, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_l("No such token."))
    return token


def revoke_token(session: Session, user: User, token_id: int) -> None:
    token = _own_token(session, user, token_id)
    if token.revoked_at is None:
        token.revoked_at = now()
        token.revoked_reason = "owner"
    session.flush()


def renew_token(session: Session, user: User, token_id: int) -> ApiToken:
    """Give a token a full lifetime again from now (an expired one too; a revoked one never)."""
    token = _own_token(session, user, token_id)
    if token.revoked_at is not None:
        raise Conflict(_l("A revoked token cannot be renewed. Create a new one."))
    token.expires_at = now() + token_lifetime()
    session.flush()
    return token


def revoke_all_tokens(session: Session, user: User, *, reason: str) -> int:
    revoked = session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now(), revoked_reason=reason)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    return revoked


def live_tokens(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens that are not revoked (expired ones too: they can be renewed)."""
    return list(session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at, ApiToken.id)))


TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def find_token(session: Session, raw: str) -> ApiToken | None:
    """The token with this secret, whatever its state."""
    return session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))


def token_for(session: Session, raw: str) -> ApiToken | None:
    """The live token with this secret (not revoked, not expired, its user active)."""
    token = find_token(session, raw)
    if token is None or not token.live_at(now()) or not token.user.is_active:
        return None
    # To the minute: a busy client does not write the token's row on every call.
    if token.last_used_at is None or now() - token.last_used_at >= TOKEN_USE_RESOLUTION:
        token.last_used_at = now()
    return token


def user_for_token(session: Session, raw: str) -> User | None:
    token = token_for(session, raw)
    return token.user if token is not None else None


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    from app.extensions import db

    ident, _, nonce = user_id.partition(":")
    if not ident.isdigit():
        return None
    user = db.session.get(User, int(ident))
    if user is None or not secrets.compare_digest(user.session_nonce, nonce):
        return None
    return user


# --- scheduled jobs ----------------------------------------------------------


def forget_expired_codes(session: Session) -> int:
    """Codes that expired unused drop the details that waited with them (a sign-up's or a
    registration's name and password hash): nothing personal is kept for a sign-up that
    never finished.  The row stays, since the sign-up rate limits count it."""
    result = session.execute(
        sa.update(PhoneCode)
        .where(PhoneCode.expires_at < now(), PhoneCode.used_at.is_(None), PhoneCode.payload.is_not(None))
        .values(payload=sa.null())  # SQL NULL (None would be stored as JSON null)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


JOBS = [(forget_expired_codes, {"trigger": "interval", "minutes": 30})]
