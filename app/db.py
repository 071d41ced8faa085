"""Database foundations: the declarative base, constraint naming, UTC times.

Every table gets constraint names from one convention, so migrations can refer
to them on both SQLite and PostgreSQL.  Every timestamp is stored in UTC and
comes back timezone-aware; a naive datetime is refused when written, because
its zone would be a guess.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always returned timezone-aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: pass an aware datetime (UTC)")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def enum_values(enum_cls: type[StrEnum]) -> list[str]:
    """The values an enum column stores, in declaration order."""
    return [m.value for m in enum_cls]


def enum_length(enum_cls: type[StrEnum]) -> int:
    """The VARCHAR length of an enum column: its longest value and a little room."""
    return max(len(value) for value in enum_values(enum_cls)) + 4


def enum_column(enum_cls: type[StrEnum], name: str, **kwargs) -> sa.Enum:
    """A portable enum: VARCHAR plus a named CHECK constraint, storing values."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=enum_length(enum_cls),
        values_callable=enum_values,
        validate_strings=True,
        **kwargs,
    )


def configure_sqlite(engine: sa.Engine) -> None:
    """Make SQLite behave: foreign keys on, WAL, and real transactions.

    pysqlite's own transaction handling breaks SAVEPOINT (which the tests and
    nested service calls rely on), so we switch it off and emit BEGIN ourselves
    (the recipe from SQLAlchemy's SQLite dialect documentation).  Writers that
    must be serialised use ``BEGIN IMMEDIATE`` through :func:`begin_immediate`.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql(_SQLITE_BEGIN.get())


_SQLITE_BEGIN: ContextVar[str] = ContextVar("linli_sqlite_begin", default="BEGIN")


@contextmanager
def write_transaction(session):
    """Start a transaction that will write contended rows (slots, budgets).

    On PostgreSQL this does nothing: row locks and conditional updates do the
    work.  On SQLite a transaction that reads first and writes later can fail
    when another writer commits in between, so the read transaction the request
    had open is ended (it must not hold pending changes) and a new one begins
    with ``BEGIN IMMEDIATE``, which waits for the write lock up front.
    """
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("write_transaction() must start before any change is made")
    session.commit()
    token = _SQLITE_BEGIN.set("BEGIN IMMEDIATE")
    try:
        session.connection()  # begins now, with the write lock
    finally:
        _SQLITE_BEGIN.reset(token)
    yield
