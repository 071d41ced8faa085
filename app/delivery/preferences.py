"""Each user's channels beside the in-app centre, and the copy of a notification to them.

:func:`copy_to_channels` is called by :func:`app.notifications.notify` in the same
transaction: every in-app notification of a user who chose SMS (the default) or
email also becomes an outbox row, keyed ``notification-<id>-<channel>`` so it is
sent once.  The text is rendered when it is sent, in the user's language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.clock import now
from app.delivery.models import NotificationPreference
from app.delivery.outbox import enqueue
from app.errors import Problems
from app.models import User

# One "@", something before it, a dotted domain after it, no spaces: enough to catch
# a typing mistake; the mail server is the judge of the rest.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def preference_of(session: Session, user_id: int) -> NotificationPreference:
    """The user's choices, or the defaults (not added to the session) when they made none."""
    found = session.get(NotificationPreference, user_id)
    return found if found is not None else NotificationPreference(user_id=user_id, sms=True, email=False)


def set_preferences(session: Session, user: User, *, sms: bool, email: bool, email_address: str | None) -> NotificationPreference:
    """Save the user's channel choices; every refusal at once (nothing written then)."""
    address = (email_address or "").strip() or None
    problems = Problems()
    if address is not None and (len(address) > 254 or not EMAIL_PATTERN.match(address)):
        problems.add(_l("Enter an email address like name@example.com."), field="email_address")
    if email and address is None:
        problems.add(_l("Give the email address to send notifications to, or turn email off."), field="email_address")
    problems.raise_if_any()
    found = session.get(NotificationPreference, user.id)
    if found is None:
        found = NotificationPreference(user_id=user.id)
        session.add(found)
    found.sms, found.email, found.email_address = bool(sms), bool(email), address
    found.updated_at = now()
    session.flush()
    return found


def addresses_of(session: Session, user: User) -> list[tuple[str, str]]:
    """Where a message to ``user`` goes besides the app: ``[(channel, recipient), …]``."""
    if user.disabled_at is not None:
        return []
    pref = preference_of(session, user.id)
    found = []
    if pref.sms and user.phone:
        found.append(("sms", user.phone))
    if pref.email and pref.email_address:
        found.append(("email", pref.email_address))
    return found


def copy_to_channels(session: Session, notifications: Iterable) -> int:
    """Enqueue the SMS/email copy of each notification its user asked for; returns how many."""
    notes = list(notifications)
    if not notes:
        return 0
    user_ids = {n.user_id for n in notes}
    users = {u.id: u for u in session.scalars(sa.select(User).where(User.id.in_(user_ids)))}
    prefs = {p.user_id: p for p in session.scalars(
        sa.select(NotificationPreference).where(NotificationPreference.user_id.in_(user_ids)))}
    count = 0
    for note in notes:
        user = users.get(note.user_id)
        if user is None or user.disabled_at is not None:
            continue
        pref = prefs.get(user.id) or NotificationPreference(user_id=user.id, sms=True, email=False)
        params = {"kind": note.kind, "params": note.params or {}}
        if pref.sms and user.phone:
            enqueue(session, channel="sms", recipient=user.phone, template="notice", params=params,
                    dedup_key=f"notification-{note.id}-sms", language=user.locale, user_id=user.id)
            count += 1
        if pref.email and pref.email_address:
            enqueue(session, channel="email", recipient=pref.email_address, template="notice", params=params,
                    dedup_key=f"notification-{note.id}-email", language=user.locale, user_id=user.id)
            count += 1
    return count
