"""Which address a page answering a POST stands for, so reloading it is a plain visit.

A refused form is answered with its page shown again (422 and every error), at the
address the form was sent to.  Reloading would send the form again, or — when that
address takes only POST (``/provider/documents``, ``…/object``, ``…/dismiss``) — ask
for it with a GET and get a 405.  So the page names the address a reload should ask
for (``<body data-answers-post="…">``, base.html) and linli.js puts it in the
history entry instead of the POST's:

- the address itself, when it answers a GET (``/bookings/5/complain``);
- else the page that showed the form: the ``Referer`` (sent for same-origin
  requests, ``Referrer-Policy: same-origin``), kept only when it is on this site
  and answers a GET;
- else none: the history entry is left as it is.

:func:`page_address` is the same for any request (the current address for a GET),
so the language and text-size switches come back to a page that can be shown, and
the error pages link back to it (:func:`referring_page`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

SAFE = frozenset({"GET", "HEAD"})


def answers_get(path: str) -> bool:
    """A route of this application answers a GET at ``path`` (a path, no query)."""
    adapter = request_ctx.url_adapter
    if adapter is None:
        return False
    try:
        adapter.match(path, method="GET")
    except RequestRedirect:
        return True  # a slash added or removed: still a page
    except HTTPException:  # 404, 405
        return False
    return True


def _here() -> str:
    return request.full_path if request.query_string else request.path


def referring_page() -> str | None:
    """The same-site page (path and query) that sent this request, when it answers a GET."""
    referrer = request.headers.get("Referer")
    if not referrer:
        return None
    try:
        parts = urlsplit(referrer)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or not answers_get(path):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


def reload_url() -> str | None:
    """For a page answering a POST (or another unsafe method): the address a reload should
    GET, or None when there is none; None for a GET (nothing to replace)."""
    if request.method in SAFE:
        return None
    if answers_get(request.path):
        return _here()
    return referring_page()


def page_address() -> str:
    """The address of the page being answered as a visit would ask for it: the current
    one for a GET, :func:`reload_url` for a POST (the site's home page when it has none)."""
    if request.method in SAFE:
        return _here()
    return reload_url() or "/"


def init_app(app: Flask) -> None:
    app.add_template_global(reload_url)
    app.add_template_global(page_address)
    app.add_template_global(referring_page)
