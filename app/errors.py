"""Domain errors and how they reach the user.

Services raise :class:`LinliError` subclasses with a translatable message and,
where it applies, the form field at fault.  Under ``/api/`` every error becomes a
JSON problem document (RFC 9457) with a 4xx status; elsewhere an HTML page.  A
database that cannot be reached is a 503 (rolled back, safe to retry), never a 500.
"""

from __future__ import annotations

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException


class LinliError(Exception):
    """A refused request: the message says why, ``field`` says where."""

    status = 400
    code = "bad-request"

    def __init__(self, message, *, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class Invalid(LinliError):
    status = 422
    code = "invalid"


class NotFound(LinliError):
    status = 404
    code = "not-found"


class Forbidden(LinliError):
    status = 403
    code = "forbidden"


class Conflict(LinliError):
    status = 409
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal-transition"


def problem(status: int, title: str, detail: str | None = None, **extra):
    """A JSON problem document response."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _http_error(error: HTTPException):
    if wants_json():
        extra = {}
        # flask-smorest/webargs put field messages on the exception.
        data = getattr(error, "data", None) or {}
        if "messages" in data:
            extra["errors"] = data["messages"]
        response = problem(error.code or 500, error.name, error.description, **extra)
        if error.code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="linli"'
        return response
    template = f"errors/{error.code}.html" if error.code in (403, 404, 429) else "errors/generic.html"
    return render_template(template, error=error), error.code


def _domain_error(error: LinliError):
    if wants_json():
        extra = {"errors": {error.field: [str(error)]}} if error.field else {}
        return problem(error.status, error.code, str(error), **extra)
    return render_template("errors/generic.html", error=error), error.status


def _out_of_range(error: Exception):
    """A value the column cannot hold (a number too large: OverflowError on
    SQLite, DataError on PostgreSQL) reaching the database from the request:
    the caller's input, so a 422, rolled back; never a 500."""
    from app.extensions import db

    db.session.rollback()
    message = _("A value in the request is out of range.")
    if wants_json():
        return problem(422, "invalid", message)
    return render_template("errors/generic.html", error=message), 422


def _roll_back() -> None:
    """Drop what the failed request wrote (a failed flush leaves the session unusable, and
    the error page reads the user through it); never fail here."""
    from app.extensions import db

    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass


def _user_or_anonymous() -> None:
    """Load (or refresh) the logged-in user for the error page; when the database cannot
    give it, show the page as to an anonymous visitor instead of failing again."""
    from flask_login import current_user

    from app.extensions import login_manager

    try:
        if current_user.is_authenticated:
            current_user.role  # noqa: B018 - an expired user is refreshed here, not in the template
    except SQLAlchemyError:
        _roll_back()
        g._login_user = login_manager.anonymous_user()


def _database_unavailable(error: Exception):
    """The database cannot be reached (down, restarting, this connection killed, the pool
    exhausted): 503 with Retry-After, never a 500 or a traceback.

    Everything the request wrote is rolled back (a dead connection is invalidated
    by SQLAlchemy; ``pool_pre_ping`` tests the pooled ones before use), so the
    client can simply retry; a payment gateway redelivers its webhook later.  A
    JSON problem under /api/ and for JSON requests (webhooks); else a page.
    """
    current_app.logger.warning("database unavailable (%s): %s", request.path, error)
    _roll_back()
    _user_or_anonymous()
    message = _("The service is briefly unavailable. Please try again in a moment.")
    if wants_json() or request.is_json:
        response = problem(503, "Service Unavailable", message)
    else:
        response = current_app.make_response((render_template("errors/503.html", message=message), 503))
    response.headers["Retry-After"] = "30"
    return response


def _server_error(error: Exception):
    _roll_back()
    _user_or_anonymous()
    if wants_json():
        return problem(500, "Internal Server Error", _("Something went wrong on our side."))
    return render_template("errors/500.html"), 500


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(LinliError, _domain_error)
    app.register_error_handler(500, _server_error)
    app.register_error_handler(OverflowError, _out_of_range)
    app.register_error_handler(DataError, _out_of_range)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(PoolTimeout, _database_unavailable)
