"""Accounts: resident sign-up, log-in with throttling, passwords, API tokens.

Services take a session, check the rules, flush, and never commit.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.clock import now
from app.errors import Conflict, Invalid, LinliError, NotFound
from app.extensions import login_manager
from app.models import ApiToken, Community, LoginAttempt, Role, User, hash_token
from app.passwords import MIN_PASSWORD_LENGTH, hash_password, needs_rehash, verify_password

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


def check_password(password: str, field: str = "password") -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise Invalid(
            _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
            field=field,
        )


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
) -> User:
    """Create an account; the phone is the log-in and must be unique."""
    phone = check_phone(phone)
    name = (name or "").strip()
    if not name:
        raise Invalid(_l("Enter your name."), field="name")
    if len(name) > 80:
        raise Invalid(_l("The name is too long (80 characters at most)."), field="name")
    check_password(password)
    if role == Role.RESIDENT and community is None:
        raise Invalid(_l("Choose your community."), field="community")
    if phone_taken(session, phone):
        raise Conflict(_l("This phone number is already registered. Log in instead."), field="phone")
    user = User(
        phone=phone,
        name=name,
        password_hash=hash_password(password),
        role=role,
        community=community,
        birth_date=birth_date,
    )
    session.add(user)
    session.flush()
    return user


def sign_up_resident(session: Session, *, phone, name, password, community_id) -> User:
    community = session.get(Community, community_id) if community_id else None
    if community_id and community is None:
        raise Invalid(_l("Choose a community from the list."), field="community")
    return create_user(
        session, phone=phone, name=name, password=password, role=Role.RESIDENT, community=community
    )


def _recent_failures(session: Session, column, value: str, since: datetime) -> list[datetime]:
    stmt = (
        sa.select(LoginAttempt.at)
        .where(column == value, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False))
        .order_by(LoginAttempt.at)
    )
    return list(session.scalars(stmt))


def _check_throttle(session: Session, phone: str, ip: str) -> None:
    config = current_app.config
    window = timedelta(minutes=config["LOGIN_WINDOW_MINUTES"])
    current = now()
    since = current - window
    for column, value, limit in (
        (LoginAttempt.phone, phone, config["LOGIN_MAX_FAILURES_PER_PHONE"]),
        (LoginAttempt.ip, ip, config["LOGIN_MAX_FAILURES_PER_IP"]),
    ):
        failures = _recent_failures(session, column, value, since)
        if len(failures) >= limit:
            # Free again once the oldest counted failure leaves the window.
            free_at = failures[-limit] + window
            seconds = max(1, int((free_at - current).total_seconds()))
            minutes = (seconds + 59) // 60
            raise Throttled(
                _l(
                    "Too many failed log-ins. Please wait %(minutes)d minutes and try again.",
                    minutes=minutes,
                ),
                retry_after=seconds,
            )


def authenticate(session: Session, *, phone: str, password: str, ip: str) -> User:
    """Check a phone and password; record the attempt; raise on failure.

    The attempt is recorded even when it fails, so the caller must commit in
    both cases (the views do).
    """
    phone = normalise_phone(phone)
    _check_throttle(session, phone, ip)
    user = session.scalar(sa.select(User).where(User.phone == phone))
    ok = user is not None and verify_password(user.password_hash, password) and user.is_active
    session.add(LoginAttempt(phone=phone[:20], ip=ip[:45], at=now(), succeeded=ok))
    session.flush()
    if not ok:
        raise Invalid(_l("The phone number or password is not right."), field="password")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def change_password(session: Session, user: User, *, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise Invalid(_l("The current password is not right."), field="current_password")
    check_password(new, field="new_password")
    user.password_hash = hash_password(new)
    user.end_sessions()
    session.flush()


def issue_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a personal API token; return it with the raw secret (shown once)."""
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise Invalid(_l("Give the token a name (60 characters at most)."), field="name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(raw), prefix=raw[:12])
    session.add(token)
    session.flush()
    return token, raw


def revoke_token(session: Session, user: User, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_l("No such token."))
    if token.revoked_at is None:
        token.revoked_at = now()
    session.flush()


TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def user_for_token(session: Session, raw: str) -> User | None:
    token = session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == hash_token(raw), ApiToken.revoked_at.is_(None))
    )
    if token is None or not token.user.is_active:
        return None
    # To the minute: a busy client does not write the token's row on every call.
    if token.last_used_at is None or now() - token.last_used_at >= TOKEN_USE_RESOLUTION:
        token.last_used_at = now()
    return token.user


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
