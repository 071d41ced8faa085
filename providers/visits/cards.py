"""Code cards: printed one-time codes for a resident without a phone.

The community office issues a card (:func:`issue`) and prints it; the carer types
one of its codes at check-out, and :func:`redeem` spends it on that visit.  Only a
keyed digest of each code is stored (the printout is the one place the digits
live); a code works once, a card can be revoked when lost (:func:`revoke`), and a
new card may then be issued.  One active card per resident.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.clock import now
from app.errors import Conflict, Forbidden, Invalid
from app.models import User
from providers.bookings.models import Booking
from providers.visits.models import CardCode, CodeCard

CODES_PER_CARD = 20
CODE_DIGITS = 6


def _digest(resident_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"visit-card:{resident_id}:{code}".encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    """Six random digits (a visit's code and a card's codes alike)."""
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def active_card(session: Session, resident_id: int, *, for_update: bool = False) -> CodeCard | None:
    stmt = sa.select(CodeCard).where(CodeCard.resident_id == resident_id, CodeCard.revoked_at.is_(None))
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt.order_by(CodeCard.id.desc()).limit(1))


def issue(session: Session, resident: User, official: User) -> tuple[CodeCard, list[str]]:
    """A new card for ``resident``: the card and its codes in print order (shown once)."""
    if not official.is_official:
        raise Forbidden(_l("Only the community office can issue a code card."))
    if active_card(session, resident.id, for_update=True) is not None:
        raise Conflict(_l("This resident already has a card in use: revoke it first if it is lost."))
    card = CodeCard(resident_id=resident.id, issued_by_id=official.id, issued_at=now())
    session.add(card)
    session.flush()
    codes: list[str] = []
    while len(codes) < CODES_PER_CARD:
        code = new_code()
        if code not in codes:
            codes.append(code)
    for position, code in enumerate(codes, start=1):
        session.add(CardCode(card_id=card.id, position=position, digest=_digest(resident.id, code)))
    session.flush()
    audit.record(session, actor=official, action="code_card.issued", object_type="user", object_id=resident.id,
                 after={"card": card.id, "codes": CODES_PER_CARD})
    return card, codes


def revoke(session: Session, card: CodeCard, official: User, reason: str) -> None:
    """The card is lost or spent: none of its unused codes works any more."""
    if not official.is_official:
        raise Forbidden(_l("Only the community office can revoke a code card."))
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Say why the card is revoked (lost, damaged, all used)."), field="reason")
    if card.revoked_at is not None:
        raise Conflict(_l("This card is already revoked."))
    card.revoked_at = now()
    card.revoked_by_id = official.id
    card.revoke_reason = reason[:500]
    session.flush()
    audit.record(session, actor=official, action="code_card.revoked", object_type="user",
                 object_id=card.resident_id, before={"card": card.id}, reason=card.revoke_reason)


def redeem(session: Session, booking: Booking, code: str) -> bool:
    """Spend one unused code of the resident's active card on ``booking``'s visit.

    True when ``code`` was such a code (it is now used, for this visit); False when it
    is not one (wrong, already used, or the card revoked) — nothing is written then.
    Verifying the visit is the caller's step (``verification.verify``, method CARD).
    """
    code = (code or "").strip()
    if len(code) != CODE_DIGITS or not code.isdigit():
        return False
    card = active_card(session, booking.resident_id)
    if card is None:
        return False
    digest = _digest(booking.resident_id, code)
    row = session.scalar(
        sa.select(CardCode)
        .where(CardCode.card_id == card.id, CardCode.digest == digest, CardCode.used_at.is_(None))
        .with_for_update()
    )
    if row is None:
        return False
    row.used_at = now()
    row.booking_id = booking.id
    session.flush()
    return True


def codes_left(session: Session, card: CodeCard) -> int:
    return session.scalar(
        sa.select(sa.func.count()).select_from(CardCode).where(CardCode.card_id == card.id, CardCode.used_at.is_(None))
    ) or 0
