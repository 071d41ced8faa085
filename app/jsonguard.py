"""Every JSON request body is bounded before anything parses it.

Python's JSON parser recurses once per level: about a thousand nested ``[`` (2 KB)
raise RecursionError, a 500 from any endpoint that reads JSON (webargs under
flask-smorest, the Stripe webhook).  One ``before_request`` hook, registered for the
whole app by :func:`init_app`, looks at every request whose media type is JSON
(``application/json``, ``application/*+json``) before a view or a parser sees it:

- larger than ``JSON_MAX_BYTES`` (``LINLI_JSON_MAX_BYTES``, default 1 MiB; the
  Content-Length is checked before the body is read) → 413;
- not UTF-8 (RFC 8259 §8.1) → 400;
- nested deeper than ``JSON_MAX_DEPTH`` arrays and objects (``LINLI_JSON_MAX_DEPTH``,
  default 32) → 400.

Each refusal is an ``application/problem+json`` document (under /api/ and for the
webhook alike) and happens before authentication, CSRF and the view, so nothing is
read from or written to the database.  The depth is measured without parsing and
in linear time (:func:`json_depth`).  Bodies of other media types are never parsed
as JSON by the app (webargs ignores them; the Stripe webhook refuses them with 415).
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate

from flask import Flask, current_app, request
from flask_babel import gettext as _

DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_BYTES = 1024 * 1024

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
# '[' and '{' become +1, ']' and '}' become -1 (as signed bytes).
_STEPS = bytes.maketrans(b"[]{}", bytes([1, 255, 1, 255]))


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in ``body``, without parsing it.

    Escape pairs are dropped first (a backslash only appears inside strings in JSON),
    then strings, then everything but brackets; the running sum of +1 / -1 gives the
    depth.  Every step is a single left-to-right pass (no backtracking), so a hostile
    body costs linear time.  For text that is not JSON the figure is still an upper
    bound of the depth the parser reaches before it stops at the first error.
    """
    if body.count(b"[") + body.count(b"{") == 0:
        return 0
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", body)).translate(None, _NOT_BRACKET)
    if not brackets:
        return 0
    return max(0, max(accumulate(array("b", brackets.translate(_STEPS)))))


def problem_with_json(body: bytes | None, content_length: int | None, *, max_bytes: int,
                      max_depth: int) -> tuple[int, str] | None:
    """Why a JSON body is refused (status, message), or None when it may be parsed.
    ``body`` is None when the Content-Length alone already decides."""
    too_large = (413, _("The JSON body is too large: at most %(n)d bytes are accepted.", n=max_bytes))
    if content_length is not None and content_length > max_bytes:
        return too_large
    if body is None:
        return None
    if len(body) > max_bytes:
        return too_large
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return 400, _("The JSON body must be encoded as UTF-8.")
    if json_depth(body) > max_depth:
        return 400, _("The JSON body is nested too deeply: at most %(n)d levels of arrays and objects "
                      "are accepted.", n=max_depth)
    return None


def _guard_json_body():
    if not request.is_json:
        return None
    config = current_app.config
    limits = {"max_bytes": config.get("JSON_MAX_BYTES", DEFAULT_MAX_BYTES),
              "max_depth": config.get("JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH)}
    refused = problem_with_json(None, request.content_length, **limits)
    if refused is None:
        # Bounded by the Content-Length just checked, or by MAX_CONTENT_LENGTH when chunked.
        refused = problem_with_json(request.get_data(cache=True), None, **limits)
    if refused is None:
        return None
    from app.errors import problem

    status, message = refused
    current_app.logger.warning("JSON body refused (%s %s): %s", request.method, request.path, message)
    return problem(status, "Content Too Large" if status == 413 else "Bad Request", message)


def init_app(app: Flask) -> None:
    """Guard every JSON body of every request (API and webhooks): register it first, so it
    runs before the API's token authentication and CSRF check read anything."""
    app.before_request_funcs.setdefault(None, []).insert(0, _guard_json_body)
