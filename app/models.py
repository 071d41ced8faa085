"""Shell models: communities, users and their roles, API tokens, log-in attempts,
phone codes and the embedded SMS outbox.

Domain packages point at these (a provider's staff member is a ``User``); these
never point back at a domain package.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import UTCDateTime, enum_column
from app.extensions import db


class Role(StrEnum):
    RESIDENT = "resident"
    PROVIDER_STAFF = "provider_staff"
    OFFICIAL = "official"
    ADMIN = "admin"
    # A third-party evaluator a purchase programme appoints for its follow-up calls
    # (财综〔2018〕42号): works only the calls of the programmes that appointed them.
    EVALUATOR = "evaluator"
    # A grid worker (网格员, GB/T 34300-2017): serves the residents of the grids an official
    # assigned them to, for the period of the assignment (app/grids/workers.py).
    GRID_WORKER = "grid_worker"


class CommunityTier(StrEnum):
    """Provincial smart-community tiers; they cap yearly subsidies (DOMAIN.md)."""

    BENCHMARK = "benchmark"
    GROWTH = "growth"
    BASIC = "basic"


TIER_LABELS = {
    CommunityTier.BENCHMARK: _l("Benchmark community"),
    CommunityTier.GROWTH: _l("Growing community"),
    CommunityTier.BASIC: _l("Basic community"),
}


def tier_label(tier) -> str:
    """A community tier as people read it (template global ``tier_label``)."""
    return str(TIER_LABELS[CommunityTier(tier)]) if tier in CommunityTier._value2member_map_ else str(tier)


class Community(db.Model):
    __tablename__ = "community"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    district: Mapped[str] = mapped_column(sa.String(80))
    tier: Mapped[CommunityTier] = mapped_column(enum_column(CommunityTier, "community_tier"))
    timezone: Mapped[str] = mapped_column(sa.String(40), default="Asia/Shanghai")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # The street (街道) above it in the grid tree (app/grids); none until an official places it.
    street_id: Mapped[int | None] = mapped_column(sa.ForeignKey("street.id"), index=True)

    def __repr__(self) -> str:
        return f"<Community {self.code}>"


def new_session_nonce() -> str:
    return secrets.token_urlsafe(16)


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    __table_args__ = (
        # A resident always belongs to a community: the catalogue and every
        # entitlement are scoped by it.
        sa.CheckConstraint(
            "role != 'resident' OR community_id IS NOT NULL", name="resident_has_community"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"))
    community_id: Mapped[int | None] = mapped_column(sa.ForeignKey("community.id"), index=True)
    birth_date: Mapped[date | None] = mapped_column(sa.Date)
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    large_text: Mapped[bool] = mapped_column(default=False)
    # Part of the Flask-Login id: changing it ends every session of the user
    # (log-out, password change) on the server side.
    session_nonce: Mapped[str] = mapped_column(sa.String(32), default=new_session_nonce)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # A resident's household (户) in the grid tree (app/grids), in their own community.
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("household.id"), index=True)
    # Set when a grid worker or an official gave a temporary password (app/auth/recovery.py):
    # it works until then and must be replaced at the first log-in.
    temporary_password_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    community: Mapped[Community | None] = relationship()

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.disabled_at is None

    @property
    def is_official(self) -> bool:
        return self.role in (Role.OFFICIAL, Role.ADMIN)

    @property
    def is_resident(self) -> bool:
        return self.role == Role.RESIDENT

    @property
    def is_provider_staff(self) -> bool:
        return self.role == Role.PROVIDER_STAFF

    @property
    def is_evaluator(self) -> bool:
        return self.role == Role.EVALUATOR

    @property
    def is_grid_worker(self) -> bool:
        return self.role == Role.GRID_WORKER

    def end_sessions(self) -> None:
        """Invalidate every existing session of this user."""
        self.session_nonce = new_session_nonce()

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class TokenScope(StrEnum):
    """What a personal API token may do: ``read`` (GET, HEAD, OPTIONS) or ``write`` (everything)."""

    READ = "read"
    WRITE = "write"


class ApiToken(db.Model):
    """A personal API token; only its SHA-256 is stored, the token is shown once.

    A token works until ``expires_at`` (renewable) unless revoked (by its owner,
    or for all of them by a password change); a ``read`` token may only read.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Tokens made before expiry and scopes existed could write: they keep it (0014).
    scope: Mapped[TokenScope] = mapped_column(enum_column(TokenScope, "token_scope"), default=TokenScope.WRITE)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Why it was revoked: "owner" (the owner's button) or "password" (a password change).
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(20))

    user: Mapped[User] = relationship()

    def live_at(self, at: datetime) -> bool:
        return self.revoked_at is None and at < self.expires_at


class LoginAttempt(db.Model):
    """Every log-in attempt; the throttle counts recent failures from here.

    Kept in the database (not process memory) so the limit holds across
    several web workers.
    """

    __tablename__ = "login_attempt"
    __table_args__ = (
        sa.Index("ix_login_attempt_phone_at", "phone", "at"),
        sa.Index("ix_login_attempt_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(20))
    ip: Mapped[str] = mapped_column(sa.String(45))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Written False before the password is checked (the throttle counts it at
    # once, so concurrent guesses cannot pass the limit together), True after.
    succeeded: Mapped[bool] = mapped_column(default=False)
    # The known device (the signed cookie of an earlier log-in of this account) it
    # came from, if any: such attempts are counted per device, not per phone.
    device: Mapped[str | None] = mapped_column(sa.String(32))


class CodePurpose(StrEnum):
    SIGNUP = "signup"  # a resident's sign-up
    REGISTER = "register"  # an account made with a domain's registration (a provider's first staff)
    LOGIN = "login"  # a log-in past the throttle
    RESET = "reset"  # a password reset (app/auth/recovery.py)


class PhoneCode(db.Model):
    """A 6-digit code sent by SMS to prove a phone (sign-up, a log-in past the throttle).

    Only an HMAC of the code is stored (keyed with SECRET_KEY and the row's id);
    it works until ``expires_at``, for ``max_attempts`` tries (counted with a
    conditional UPDATE, so parallel guesses cannot exceed it), once.  A sign-up's
    details wait in ``payload`` (the password already hashed) until the code is
    entered; ``ip`` is the sign-up rate limit's key.
    """

    __tablename__ = "phone_code"
    __table_args__ = (
        sa.Index("ix_phone_code_ip_created_at", "ip", "created_at"),
        sa.Index("ix_phone_code_phone_created_at", "phone", "created_at"),
        sa.CheckConstraint("attempts >= 0 AND attempts <= max_attempts", name="attempts_within_max"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[CodePurpose] = mapped_column(enum_column(CodePurpose, "code_purpose"))
    phone: Mapped[str] = mapped_column(sa.String(20))
    ip: Mapped[str] = mapped_column(sa.String(45))
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict | None] = mapped_column(sa.JSON)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SmsMessage(db.Model):
    """The embedded SMS channel's outbox (app/sms.py): every text "sent" without a provider.

    Officials read it on /official/sms-outbox and ``flask --app app outbox``
    prints it, so ``make run`` needs no SMS keys.
    """

    __tablename__ = "sms_outbox"
    __table_args__ = (sa.Index("ix_sms_outbox_phone_created_at", "phone", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(20))
    body: Mapped[str] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
