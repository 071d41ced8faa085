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

It commits what the block did; on a :class:`~app.errors.LinliError` it rolls
back, puts the message on the form field at fault (or flashes it) and answers
the page that ``render(status)`` returns, with the error's status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask, flash
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


def apply_form_error(form, error: LinliError) -> None:
    """Show ``error`` beside its field, or at the top of the page when it names none."""
    field = getattr(form, error.field, None) if (form is not None and error.field) else None
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        flash(str(error), "error")


@contextmanager
def form_action(form, render: Callable[[int], object], *, session: Session | None = None) -> Iterator[None]:
    """Commit the block's work, or roll back and answer ``render(status)`` with the error shown."""
    from app.extensions import db

    session = session or db.session
    try:
        yield
    except LinliError as error:
        session.rollback()
        apply_form_error(form, error)
        response = render(error.status)
        raise FormRejected(response) from error
    except Exception:
        session.rollback()
        raise
    commit(session)


def init_app(app: Flask) -> None:
    from flask import make_response

    from app.extensions import db

    def _form_rejected(error: FormRejected):
        response = make_response(error.response)
        return response

    app.register_error_handler(FormRejected, _form_rejected)

    @app.after_request
    def _run_ready_callbacks(response):
        """A view that committed with ``db.session.commit()`` still gets its side effects."""
        run_after_commit(db.session)
        return response
