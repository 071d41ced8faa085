"""Domain errors and how they reach the user.

Services raise :class:`LinliError` subclasses with a translatable message and,
where it applies, the form field at fault.  Under ``/api/`` every error becomes a
JSON problem document (RFC 9457) with a 4xx status; elsewhere an HTML page.  A
database that cannot be reached is a 503, never a 500, and it says only what is true
of the request's writes (:func:`write_outcome`): nothing was saved (safe to retry),
the connection died during the COMMIT (it may or may not have been saved: check
before retrying), or the commit went through and the failure came after it (saved).
Closing the request's session at teardown never breaks the response: a connection
that dies then is logged, and the answer already made stands.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
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


class Problems(Invalid):
    """Several refusals found at once, so a form can show every one of them together.

    A service collects what is wrong with its input before it writes::

        problems = Problems()
        if not title:
            problems.add(_("Give a title."), field="title")
        if price_fen <= 0:
            problems.add(_("The price must be above zero."), field="price_fen")
        problems.raise_if_any()

    Raised, it is an :class:`Invalid` whose message and field are the first
    problem's (the API answers that one, with ``errors`` listing them all);
    :func:`app.uow.apply_form_error` puts each one on its own field.
    """

    def __init__(self, errors: list[LinliError] | None = None):
        self.errors: list[LinliError] = list(errors or [])
        first = self.errors[0] if self.errors else None
        super().__init__(first.message if first else "", field=first.field if first else None)

    def add(self, message, *, field: str | None = None) -> None:
        self.errors.append(Invalid(message, field=field))
        if len(self.errors) == 1:
            self.message, self.field = message, field
            self.args = (str(message),)

    def extend(self, error: LinliError) -> None:
        """Add a refusal raised by a check that knows only one (``Problems`` keep theirs)."""
        for one in getattr(error, "errors", None) or [error]:
            self.add(one.message, field=one.field)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise self


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
    if not _can_build_urls():  # an untrusted Host header: no URL (nor page) can be built for it
        if wants_json():
            return problem(error.code or 400, error.name, error.description)
        return current_app.response_class(f"{error.code} {error.name}: {error.description}\n",
                                          status=error.code, mimetype="text/plain")
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
    template = f"errors/{error.code}.html" if error.code in (403, 404, 405, 429) else "errors/generic.html"
    response = current_app.make_response((render_template(template, error=error, message=page_message(error)),
                                          error.code))
    if getattr(error, "valid_methods", None):  # a 405 names the methods the address takes
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _http_messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood. Go back to the page and try again."),
        403: _("Your account may not open this page."),
        404: _("This page does not exist, or it is not available to you."),
        405: _("This address only receives a form; it is not a page to open. Go back to the page that "
               "shows the form."),
        413: _("What you sent is too large. Send a smaller file, or fewer files at once."),
        429: _("Too many attempts. Please wait a few minutes and try again."),
    }


def page_message(error: HTTPException) -> str:
    """What an error page says, in the reader's language: the message the code gave
    (``abort(422, description=_("…"))``), else ours for the status — never werkzeug's
    English description.  A refused CSRF token (an old or foreign form) says what to do."""
    from flask_wtf.csrf import CSRFError

    if isinstance(error, CSRFError):
        return _("This form was open too long, or it was not sent from this site (its security token, CSRF, "
                 "is missing or out of date). Reload the page and send it again.")
    if "description" in vars(error):  # given by our code, already translated
        return str(error.description)
    return _http_messages().get(error.code, _("The request could not be completed (error %(code)s).",
                                              code=error.code))


def _can_build_urls() -> bool:
    from flask.globals import request_ctx

    return request_ctx.url_adapter is not None


def field_errors(error: LinliError) -> dict[str, list[str]]:
    """``{field: [message, …]}`` for the refusals of ``error`` that name a field."""
    found: dict[str, list[str]] = {}
    for one in getattr(error, "errors", None) or [error]:
        if one.field:
            found.setdefault(one.field, []).append(str(one))
    return found


def _domain_error(error: LinliError):
    if wants_json():
        errors = field_errors(error)
        extra = {"errors": errors} if errors else {}
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


# What became of a request's writes, kept in ``g`` as its statements and COMMITs go out
# and come back; the last step counts (a bearer token's last use, committed first, is not
# the change the request asked for).
_COMMIT = "_linli_commit"
WRITING, SENT, DONE = "writing", "sent", "done"
NOT_SAVED, UNKNOWN, SAVED = "not-saved", "unknown", "saved"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITES = ("INSERT", "UPDATE", "DELETE")


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _statement_sent(conn, cursor, statement, parameters, context, executemany) -> None:
    """A write goes out: until a COMMIT comes back, it is not saved."""
    if statement.lstrip()[:6].upper() in _WRITES and has_request_context():
        setattr(g, _COMMIT, WRITING)


@sa.event.listens_for(sa.engine.Engine, "commit")
def _commit_sent(conn) -> None:
    """A COMMIT is about to go to the server: until it comes back, whether it was applied
    is not known (a connection that dies now may die before or after the server applied it)."""
    if has_request_context():
        setattr(g, _COMMIT, SENT)


@sa.event.listens_for(Session, "after_commit")
def _commit_done(session) -> None:
    if has_request_context() and g.get(_COMMIT) == SENT:
        setattr(g, _COMMIT, DONE)


def write_outcome() -> str | None:
    """For a state-changing request whose database failed: ``unknown`` when the connection
    failed during a COMMIT (the server may or may not have applied it), ``saved`` when the
    last COMMIT came back and nothing was written after it (the failure came later, e.g.
    reading the answer), else ``not-saved`` (no COMMIT went out for what was written: the
    server rolls it back).  None for a read (GET, HEAD, OPTIONS)."""
    if request.method in SAFE_METHODS:
        return None
    return {SENT: UNKNOWN, DONE: SAVED}.get(g.get(_COMMIT), NOT_SAVED)


def _unavailable_message(outcome: str | None) -> str:
    if outcome == UNKNOWN:
        return _("The service became unavailable while your change was being saved, and we could not "
                 "confirm whether it was saved. Check before you try again.")
    if outcome == SAVED:
        return _("Your change was saved, but the service became unavailable before the result could be "
                 "shown. Reload the page in a moment to see it.")
    return _("The service is briefly unavailable. Please try again in a moment.")


def _database_unavailable(error: Exception):
    """The database cannot be reached (down, restarting, this connection killed, the pool
    exhausted): 503 with Retry-After, never a 500 or a traceback.

    What the request wrote and did not commit is rolled back (a dead connection is
    invalidated by SQLAlchemy; ``pool_pre_ping`` tests the pooled ones before use).
    The answer says what became of a write (:func:`write_outcome`): only when nothing
    was committed is the client told to simply retry; a COMMIT lost on the way is
    "could not confirm, check before retrying", a commit that went through is "saved".
    A payment gateway redelivers its webhook in every case (stored once).  A JSON
    problem under /api/ and for JSON requests (webhooks), with ``outcome`` for a
    write; else a page.
    """
    outcome = write_outcome()
    current_app.logger.warning("database unavailable (%s %s, writes %s): %s", request.method, request.path,
                               outcome or "none", error)
    _roll_back()
    _user_or_anonymous()
    message = _unavailable_message(outcome)
    if wants_json() or request.is_json:
        extra = {"outcome": outcome} if outcome else {}
        response = problem(503, "Service Unavailable", message, **extra)
    else:
        response = current_app.make_response((render_template("errors/503.html", message=message), 503))
    response.headers["Retry-After"] = "30"
    return response


def _remove_session(_exc: BaseException | None) -> None:
    """Flask-SQLAlchemy's teardown, made safe: the response is made by now, so a
    connection that dies while the session is closed (its ROLLBACK fails) is logged
    and the session dropped (SQLAlchemy has invalidated the connection and handed it
    back to the pool), never raised into the server as a bare 500."""
    from app.extensions import db

    try:
        db.session.remove()
    except Exception as error:  # noqa: BLE001 - nothing may escape a teardown
        where = g.get("_linli_request_line", "outside a request")
        current_app.logger.warning("closing the database session failed (%s): %s", where, error)
        db.session.registry.clear()


def _install_safe_teardown(app: Flask) -> None:
    from app.extensions import db

    funcs = app.teardown_appcontext_funcs
    funcs[:] = [f for f in funcs if f != db._teardown_session]
    app.teardown_appcontext(_remove_session)

    @app.teardown_request
    def _name_the_request(_exc):  # for the log line above (the request is gone by then)
        g._linli_request_line = f"{request.method} {request.path}"


def _server_error(error: Exception):
    _roll_back()
    _user_or_anonymous()
    if wants_json():
        return problem(500, "Internal Server Error", _("Something went wrong on our side."))
    return render_template("errors/500.html"), 500


def register_error_handlers(app: Flask) -> None:
    _install_safe_teardown(app)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(LinliError, _domain_error)
    app.register_error_handler(500, _server_error)
    app.register_error_handler(OverflowError, _out_of_range)
    app.register_error_handler(DataError, _out_of_range)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(PoolTimeout, _database_unavailable)
