"""Units of work: one commit per request or job, side effects after it.

:func:`after_commit` queues a callable on the session (zulip's ``on_commit``):
it runs once the session's transaction has committed, and is dropped if it
rolls back.  Gateway calls, SMS, webhooks and notifications go there, never
under a row lock.  Callbacks run outside the committed transaction (each may
open and commit its own short one); one that fails is logged and the others
still run — what they do must be safe to retry, since a job retries it.

:func:`form_action` is the HTML twin of :func:`app.api.unit_of_work`::

    with form_action(form, lambda status: render_page(form, status=status)):
        services.do_something(db.session, …)
    flash(_("Done."), "success")
    return redirect(...)

It commits what the block did (a refusal raised by the commit itself counts
as one raised in the block); on a :class:`~app.errors.LinliError` it rolls
back, puts the message on the form field at fault (or flashes it) and answers
the page that ``render(status)`` returns, with the error's status (raised as
:class:`FormRejected`, which the app answers: the code after the block runs
only on success, and a helper that holds the block need not return a page).
``render`` runs after the rollback, so it reads the rows afresh.  Any other
exception is rolled back and raised.  ``form=None`` flashes every refusal (a
page that redirects after it).  The keywords cover the pages that need more:

- ``aliases``: service field names the form shows under another name
  (``{"amount_fen": "amount"}``);
- ``show(error)``: shows the refusal instead of :func:`apply_form_error` (a
  list of its own, or only some fields beside the form);
- ``reraise``: statuses that are not the form's to show (``(404,)``): rolled
  back and raised, so the application's error page answers with the message
  (:func:`abort_or_show` answers its plain page for the status instead);
- ``keep``: refusals that keep what the block wrote before them (a failed
  log-in attempt that the throttle counts): committed, then shown;
- ``on_failure()``: runs after the rollback, whatever the error (discard the
  files the block stored).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask, abort, flash
from sqlalchemy.orm import Session, scoped_session

from app.errors import LinliError

log = logging.getLogger("linli.uow")

_PENDING = "linli.after_commit"
_READY = "linli.after_commit_ready"


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run ``callback()`` after this session's transaction commits (never if it rolls back)."""
    if isinstance(session, scoped_session):
        session = session()
    if not session.in_transaction():
        session.begin()  # so that a rollback before any statement still drops the callback
    session.info.setdefault(_PENDING, []).append(callback)


def run_after_commit(session: Session) -> int:
    """Run the callbacks whose transaction has committed; returns how many ran."""
    ready = session.info.pop(_READY, None) or []
    for callback in ready:
        try:
            callback()
        except Exception:  # the commit stands; the job that owns the effect retries it
            log.exception("after-commit callback %r failed", callback)
            try:
                session.rollback()
            except sa.exc.SQLAlchemyError:
                pass
    return len(ready)


def commit(session: Session) -> None:
    """Commit, then run what was queued with :func:`after_commit`."""
    session.commit()
    run_after_commit(session)


@sa.event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.info.setdefault(_READY, []).extend(pending)


@sa.event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:  # the whole transaction, not a savepoint it holds
        session.info.pop(_PENDING, None)


class FormRejected(Exception):
    """A page's form action was refused; ``response`` is the page to answer."""

    def __init__(self, response):
        super().__init__("form rejected")
        self.response = response


def apply_form_error(form, error: LinliError, aliases: Mapping[str, str] | None = None) -> None:
    """Show ``error`` beside its field, or at the top of the page when it names none.

    ``aliases`` maps a service's field name to the form's (``price_fen`` → ``price``).
    A :class:`~app.errors.Problems` puts each of its refusals where it belongs.
    """
    several = getattr(error, "errors", None)
    if several:
        for one in several:
            apply_form_error(form, one, aliases)
        return
    name = (aliases or {}).get(error.field, error.field) if error.field else None
    field = getattr(form, name, None) if (form is not None and name) else None
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        flash(str(error), "error")


def abort_or_show(form, *statuses: int, aliases: Mapping[str, str] | None = None) -> Callable[[LinliError], None]:
    """A ``show`` for :func:`form_action`: a refusal with one of ``statuses`` answers the
    application's page for that status (``abort(404)``: "page not found", nothing
    flashed); any other goes on ``form`` as :func:`apply_form_error` puts it."""

    def show(error: LinliError) -> None:
        if error.status in statuses:
            abort(error.status)
        apply_form_error(form, error, aliases)

    return show


@contextmanager
def form_action(
    form,
    render: Callable[[int], object],
    *,
    session: Session | None = None,
    aliases: Mapping[str, str] | None = None,
    show: Callable[[LinliError], None] | None = None,
    reraise: Collection[int] = (),
    keep: type[LinliError] | tuple[type[LinliError], ...] = (),
    on_failure: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Commit the block's work, or roll back and answer ``render(status)`` with the error shown."""
    from app.extensions import db

    session = session or db.session
    try:
        yield
        session.commit()
    except LinliError as error:
        if keep and isinstance(error, keep):
            commit(session)
        else:
            session.rollback()
            if on_failure is not None:
                on_failure()
        if error.status in reraise:
            raise
        if show is not None:
            show(error)
        else:
            apply_form_error(form, error, aliases)
        raise FormRejected(render(error.status)) from error
    except Exception:
        session.rollback()
        if on_failure is not None:
            on_failure()
        raise
    run_after_commit(session)


def form_problems(*forms) -> list[tuple[str | None, str | None, str]]:
    """Every error on ``forms`` as ``(field id, label, message)``, in the forms' field order.

    The template macro ``error_summary`` lists them.  A form within a form (a ``FormField``,
    a ``FieldList`` of days) gives its own fields' errors under its label ("星期一 · 容量"),
    never a dictionary.  Hidden fields (the CSRF token) give their message without a link.
    """
    found: list[tuple[str | None, str | None, str]] = []

    def walk(field, prefix: str | None) -> None:
        label = field.label.text if getattr(field, "label", None) is not None else None
        if prefix and label:
            label = f"{prefix} · {label}"
        elif prefix:
            label = prefix
        if field.type == "FormField":
            for inner in field.form:
                walk(inner, label)
            return
        if field.type == "FieldList":
            for entry in field.entries:
                walk(entry, label)
            return
        hidden = field.type in ("CSRFTokenField", "HiddenField")
        for error in field.errors if isinstance(field.errors, (list, tuple)) else []:
            found.append((None, None, str(error)) if hidden else (field.id, label, str(error)))

    for form in forms:
        if isinstance(form, (list, tuple)):
            found.extend(form_problems(*form))
        elif form is not None:
            for field in form:
                walk(field, None)
    return found


def init_app(app: Flask) -> None:
    from flask import make_response

    from app.extensions import db

    app.add_template_global(form_problems)

    def _form_rejected(error: FormRejected):
        response = make_response(error.response)
        return response

    app.register_error_handler(FormRejected, _form_rejected)

    @app.after_request
    def _run_ready_callbacks(response):
        """A view that committed with ``db.session.commit()`` still gets its side effects."""
        run_after_commit(db.session)
        return response
