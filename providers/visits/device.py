"""The carer's device: a long-lived signed cookie, known to the database only as a digest.

A check-in records which device it came from, so that one phone used for many
carers' check-ins can be flagged.  The cookie ``linli_visit_device`` holds a
random token signed with the app's secret (a forged or edited cookie is simply
replaced by a new one); the visit record stores an HMAC of the token, never the
token itself, so the database cannot be used to impersonate a device.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app, g, request
from itsdangerous import BadSignature, Signer

COOKIE = "linli_visit_device"
MAX_AGE = 5 * 365 * 24 * 3600  # five years: a phone keeps its identity
_SALT = "linli.visit-device"


def _signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt=_SALT)


def _token_from_cookie() -> str | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        return _signer().unsign(raw).decode()
    except (BadSignature, UnicodeDecodeError):
        return None


def digest(token: str) -> str:
    """The keyed digest stored on visit records (64 hex characters)."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"visit-device:{token}".encode(), hashlib.sha256).hexdigest()


def current_digest() -> str:
    """This request's device digest; a device without a (valid) cookie gets a new one,
    set on the response by :func:`set_cookie`."""
    token = g.get("visit_device_token") or _token_from_cookie()
    if token is None:
        token = secrets.token_urlsafe(32)
        g.visit_device_new = True
    g.visit_device_token = token
    return digest(token)


def set_cookie(response):
    """After-request hook: give a device that had no cookie the one it was assigned."""
    if g.get("visit_device_new"):
        response.set_cookie(
            COOKIE, _signer().sign(g.visit_device_token).decode(), max_age=MAX_AGE, httponly=True,
            samesite="Lax", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return response
