"""Response headers decided in one place: the security headers on every response, and
who may keep a copy of it.

**Caching.**  Every response to a logged-in user, every response under the private
areas (``/account``, ``/provider``, ``/official``, ``/api/``) and every file sent
as a download (a ``Content-Disposition``: documents, evidence, photos, statements)
is ``Cache-Control: no-store``, whatever the view set: a browser's or a proxy's
copy of a booking, a complaint, a notification or an evidence file would outlive
the session that was allowed to see it.  A view opts out with :func:`cacheable`
(its answer is the same for everyone and holds nothing personal); static files
are cacheable.  Pages for anonymous visitors (the catalogue, a listing, the
league table) keep the default, so a cache may hold them.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request, session

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# A page that asks the phone where it is (a check-in or check-out form, setting a home
# "from this phone") allows the Geolocation API for the site itself: allow_geolocation().
LOCATION_POLICY = "camera=(), microphone=(), geolocation=(self)"
PRIVATE_PREFIXES = ("/account", "/provider", "/official", "/api/")
CACHEABLE_ENDPOINTS = frozenset({"static", "favicon"})
# Files the same for everyone: their requests never read the session, so Flask adds no
# ``Vary: Cookie`` and a shared cache may keep one copy for all (app/assets.py).
SESSIONLESS_ENDPOINTS = frozenset({"static", "favicon"})


def cacheable(view):
    """Let caches keep this view's answer (it holds nothing personal, even for a logged-in
    user); without it, the answer to a logged-in user is ``no-store``."""
    view.linli_cacheable = True
    return view


def allow_geolocation() -> None:
    """This response may use the Geolocation API (for the site itself, never a frame or
    another origin); every other page forbids it."""
    g._linli_geolocation = True


def _opted_in() -> bool:
    endpoint = request.endpoint
    if endpoint in CACHEABLE_ENDPOINTS:
        return True
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return bool(getattr(view, "linli_cacheable", False))


def _came_logged_in() -> None:
    """Before the view: did the request come with a log-in (a session naming a user, or a
    remember-me cookie)?  No query; log-out clears both, and its answer is still one to a
    logged-in user.  Static files never look (a shared cache keeps one copy for all)."""
    if request.endpoint in SESSIONLESS_ENDPOINTS:
        g._linli_came_logged_in = False
        return
    g._linli_came_logged_in = "_user_id" in session or bool(
        request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")))


def logged_in() -> bool:
    """The request is a logged-in user's: it came with a log-in, or Flask-Login's user of
    this request is one (a bearer token, a log-in just made), or the session names one."""
    from app.extensions import login_manager

    user = g.get("_login_user")  # (its class only: reading an attribute could need the database)
    return (bool(g.get("_linli_came_logged_in")) or (user is not None and not isinstance(
        user, login_manager.anonymous_user)) or "_user_id" in session)


def personal(response) -> bool:
    return (logged_in() or request.path.startswith(PRIVATE_PREFIXES)
            or "Content-Disposition" in response.headers)


def apply(response, *, hsts: bool):
    headers = response.headers
    if g.get("_linli_geolocation"):
        headers["Permissions-Policy"] = LOCATION_POLICY
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if hsts:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint in SESSIONLESS_ENDPOINTS:
        return response
    if not _opted_in() and personal(response):
        if "no-store" not in [part.strip() for part in headers.get("Cache-Control", "").split(",")]:
            headers["Cache-Control"] = "no-store"  # replaces send_file's "no-cache"
        headers.pop("Expires", None)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_came_logged_in)

    @app.after_request
    def security_headers(response):
        return apply(response, hsts=app.config["SESSION_COOKIE_SECURE"])
