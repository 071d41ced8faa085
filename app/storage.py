"""The upload folder: files written whole, kept only with their committed row.

Invariants:

* A file reaches its final name only after the database transaction that
  records it has committed.  :func:`store` writes the bytes to a temporary name
  in the upload folder (``.part-<name>``: a leading dot, which no stored name
  has, so it is never served) and fsyncs it.  The session's ``after_commit``
  event renames it into place; when the transaction ends any other way (a
  rollback, or a session closed uncommitted) ``after_transaction_end`` deletes
  it (``form_action``'s ``on_failure`` and the views' ``discard`` delete it
  too, harmlessly twice).  The rename is bound to the commit itself rather than
  queued with :func:`app.uow.after_commit`, whose callbacks run only where
  :func:`app.uow.run_after_commit` is called: a CLI loader or a test that
  commits with ``db.session.commit()`` would leave the file under its temporary
  name.  A rename inside one folder writes no data, so it cannot half-happen.
* Nothing half-written stays behind: a write that fails (a full disk, a
  read-only or missing folder) removes what it wrote and raises
  :class:`StorageFull` (507, ENOSPC/EDQUOT) or :class:`StorageUnavailable`
  (503, EROFS/EACCES/EPERM/ENOTDIR/…), a :class:`~app.errors.LinliError`
  with a clear message on the file field: a page shows it beside the field,
  the API answers it as a problem document; the transaction is rolled back.
* ``/healthz`` asks :func:`health`: the folder exists, a probe file can be
  created and removed, and at least ``UPLOAD_MIN_FREE_BYTES`` are free.

Every call to the operating system goes through :data:`disk` (a small seam:
the tests replace one of its methods to make the OS call fail with ENOSPC or
EROFS, which root cannot provoke with chmod).
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

from app.errors import LinliError

log = logging.getLogger("linli.storage")

TEMP_PREFIX = ".part-"
_TEMPS = "linli.upload_temps"
FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


class StorageFull(LinliError):
    """The upload folder's disk is full: nothing was saved."""

    status = 507
    code = "insufficient-storage"


class StorageUnavailable(LinliError):
    """The upload folder cannot be written (read-only, no permission, missing)."""

    status = 503
    code = "storage-unavailable"


class Disk:
    """The operating-system calls the upload folder makes (the seam tests replace)."""

    makedirs = staticmethod(os.makedirs)
    open = staticmethod(os.open)
    write = staticmethod(os.write)
    fsync = staticmethod(os.fsync)
    close = staticmethod(os.close)
    replace = staticmethod(os.replace)
    unlink = staticmethod(os.unlink)
    statvfs = staticmethod(os.statvfs)


disk = Disk()


def folder() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def refusal(error: OSError, field: str | None = None) -> LinliError:
    """The user's message for an OS error of the upload folder."""
    if error.errno in FULL_ERRNOS:
        return StorageFull(
            _l("The server's storage is full, so the file was not saved. Nothing was changed; "
               "please try again later."),
            field=field,
        )
    return StorageUnavailable(
        _l("Files cannot be saved at the moment (the server's storage is not writable), so nothing "
           "was changed. Please try again later."),
        field=field,
    )


def ensure_folder() -> Path:
    path = folder()
    try:
        disk.makedirs(path, exist_ok=True)
    except OSError as error:
        raise refusal(error) from error
    return path


def _remove(path: Path) -> None:
    try:
        disk.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:  # the folder went away or read-only: nothing more to do here
        log.warning("could not remove %s", path, exc_info=True)


def temp_path(stored_name: str) -> Path:
    return folder() / (TEMP_PREFIX + stored_name)


def _session(session):
    if session is None:
        from app.extensions import db

        session = db.session
    return session() if isinstance(session, scoped_session) else session


def store(data: bytes, extension: str, *, field: str = "file", session=None) -> str:
    """Write ``data`` under a new random name, in place once ``session`` commits; returns the name.

    Raises :class:`StorageFull` or :class:`StorageUnavailable` (with ``field``) when
    the folder cannot take it; then nothing of it is left on disk.
    """
    session = _session(session)
    path = ensure_folder()
    stored_name = secrets.token_hex(16) + extension
    temp, final = path / (TEMP_PREFIX + stored_name), path / stored_name
    try:
        # O_EXCL: never overwrite; the random name makes a clash practically impossible.
        fd = disk.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise refusal(error, field) from error
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[disk.write(fd, view):]
            disk.fsync(fd)
        finally:
            disk.close(fd)
    except OSError as error:
        _remove(temp)
        raise refusal(error, field) from error
    if not session.in_transaction():
        session.begin()  # so that the commit or rollback that ends it sees the file
    session.info.setdefault(_TEMPS, {})[temp] = final
    return stored_name


def discard(stored_name: str) -> None:
    """Remove a file (final or still temporary) whose row was not committed."""
    path = folder()
    _remove(path / (TEMP_PREFIX + stored_name))
    _remove(path / stored_name)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    """The rows are committed: give their files their names."""
    for temp, final in session.info.pop(_TEMPS, {}).items():
        try:
            disk.replace(temp, final)
        except OSError:
            log.exception("could not move the committed upload %s into place", temp)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction) -> None:
    """The outermost transaction ended uncommitted (rolled back or closed): drop its files."""
    if transaction.nested or transaction.parent is not None:
        return
    for temp in session.info.pop(_TEMPS, {}):
        _remove(temp)


def health() -> dict:
    """The upload folder's state for /healthz: ``ok`` is False when it cannot take an upload."""
    minimum = int(current_app.config["UPLOAD_MIN_FREE_BYTES"])
    state: dict = {"writable": False, "free_bytes": None, "min_free_bytes": minimum}
    path = folder()
    try:
        disk.makedirs(path, exist_ok=True)
        probe = path / f"{TEMP_PREFIX}healthz-{secrets.token_hex(4)}"
        fd = disk.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        disk.close(fd)
        disk.unlink(probe)
        state["writable"] = True
        stat = disk.statvfs(path)
        state["free_bytes"] = stat.f_bavail * stat.f_frsize
    except OSError as error:
        state["error"] = errno.errorcode.get(error.errno or 0, type(error).__name__)
    state["ok"] = state["writable"] and state["free_bytes"] is not None and state["free_bytes"] >= minimum
    return state
