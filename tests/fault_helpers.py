"""Fault injection for tests/test_faults.py: the database goes away at a chosen point.

:class:`BackendKiller` listens to the app's engine and, at a chosen statement
(the n-th whose SQL starts with a given prefix) or just before a COMMIT,
terminates the PostgreSQL backend serving that connection with
``pg_terminate_backend(pid)`` from an administrator connection of its own, and
waits for it to be gone.  The app then meets a dead connection exactly as it
would if the server crashed or a DBA killed it there.  Set ``recording`` to list
the statements (and COMMITs) an operation sends, to choose kill points.

:func:`database_down` makes the app's database refuse connections (``ALTER
DATABASE … ALLOW_CONNECTIONS false`` and its backends terminated) without
touching the shared PostgreSQL server, and restores it afterwards.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from tests.conftest import scratch_database, test_config


def fault_app(tmp_path_factory, suffix: str, **config):
    """An app on a scratch PostgreSQL database ``<test db>_<suffix>`` (really committing),
    with production's engine options and error handling (not TESTING: an error the app
    does not handle becomes its 500 page, as in production)."""
    os.environ.setdefault("LINLI_INSTANCE_DIR", str(tmp_path_factory.mktemp("instance")))
    url = scratch_database(tmp_path_factory, suffix)
    settings = test_config(url, tmp_path_factory.mktemp(suffix))
    settings.update({
        "TESTING": False,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": 2, "max_overflow": 3},
        **config,
    })
    app = create_app(settings)
    with app.app_context():
        upgrade()
    return app


def admin_engine(app) -> sa.Engine:
    """An AUTOCOMMIT engine on the server's ``postgres`` database (never the app's pool)."""
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    return sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


@dataclass
class KillPoint:
    """Where to kill: before the ``nth`` statement starting with ``prefix`` (case-insensitive),
    or, with ``prefix`` ``"COMMIT"``, just before the ``nth`` COMMIT; with ``after``, counting
    starts once a statement starting with ``after`` has run.  With ``down_after``
    (COMMIT only) the commit goes through and the whole database goes away right after it,
    when its connection is handed back to the pool (restored when the block ends)."""

    name: str
    prefix: str
    nth: int = 1
    down_after: bool = False
    after: str | None = None

    def __str__(self) -> str:
        return self.name


@dataclass
class BackendKiller:
    engine: sa.Engine
    admin: sa.Engine
    point: KillPoint | None = None
    seen: int = 0
    counting: bool = False
    fired: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    recording: bool = False
    down_at_checkin: bool = False
    down: bool = False

    def install(self) -> BackendKiller:
        sa.event.listen(self.engine, "before_cursor_execute", self._before_execute)
        sa.event.listen(self.engine, "commit", self._before_commit)
        sa.event.listen(self.engine, "checkin", self._checkin)
        return self

    def remove(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before_execute)
        sa.event.remove(self.engine, "commit", self._before_commit)
        sa.event.remove(self.engine, "checkin", self._checkin)

    def arm(self, point: KillPoint) -> None:
        self.point, self.seen, self.fired, self.counting = point, 0, [], point.after is None

    def disarm(self) -> None:
        self.point, self.down_at_checkin = None, False
        if self.down:
            bring_up(self.admin, self.engine.url.database)
            self.down = False

    @contextlib.contextmanager
    def armed(self, point: KillPoint):
        """Kill at ``point`` during the block; the block must reach it (else AssertionError)."""
        self.arm(point)
        try:
            yield self
        finally:
            self.disarm()
        assert self.fired, f"the kill point {point.name!r} ({point.prefix} #{point.nth}) was never reached"

    def _before_execute(self, conn, cursor, statement, parameters, context, executemany):
        if self.recording:
            self.statements.append(statement.split("\n", 1)[0][:120])
        if self.point is None:
            return
        head = statement.lstrip().upper()
        if not self.counting:
            self.counting = head.startswith(self.point.after.upper())
        elif self.point.prefix != "COMMIT" and head.startswith(self.point.prefix.upper()):
            self._count_and_kill(conn, statement)

    def _before_commit(self, conn):
        if self.recording:
            self.statements.append("COMMIT")
        if self.point is not None and self.counting and self.point.prefix == "COMMIT":
            self._count_and_kill(conn, "COMMIT")

    def _checkin(self, dbapi_connection, record):
        if self.down_at_checkin:
            self.down_at_checkin = False
            take_down(self.admin, self.engine.url.database)
            self.down = True
            self.fired.append("the database, right after COMMIT")

    def _count_and_kill(self, conn, statement: str) -> None:
        self.seen += 1
        if self.seen != self.point.nth:
            return
        if self.point.down_after:
            self.down_at_checkin, self.point = True, None
            return
        pid = conn.connection.dbapi_connection.info.backend_pid
        with self.admin.connect() as admin:
            # Waits (up to 10 s) until the backend has exited: its transaction is rolled back.
            gone = admin.scalar(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
        assert gone, f"backend {pid} survived pg_terminate_backend"
        self.fired.append(statement.split("\n", 1)[0][:120])
        self.point = None


@contextlib.contextmanager
def killer_for(app):
    """A :class:`BackendKiller` on the app's engine for the block."""
    with app.app_context():
        engine = db.engine
    admin = admin_engine(app)
    killer = BackendKiller(engine, admin).install()
    try:
        yield killer
    finally:
        killer.disarm()
        killer.remove()
        admin.dispose()


def take_down(admin: sa.Engine, name: str) -> None:
    """The database refuses new connections, and every open one is terminated."""
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
        conn.execute(sa.text("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                             "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})


def bring_up(admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))


@contextlib.contextmanager
def database_down(app):
    """The app's database refuses connections and its open ones are killed; restored after."""
    name = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    admin = admin_engine(app)
    try:
        take_down(admin, name)
        yield
    finally:
        bring_up(admin, name)
        admin.dispose()


def ledger_problems() -> list[str]:
    """What is wrong with the ledger: a transaction whose entries do not sum to zero (or
    that has none), an account whose running balance differs from its entries."""
    from billing import ledger
    from billing.models import LedgerEntry, LedgerTransaction

    unbalanced = db.session.scalars(
        sa.select(LedgerEntry.transaction_id).group_by(LedgerEntry.transaction_id)
        .having(sa.func.sum(LedgerEntry.amount_fen) != 0)).all()
    empty = db.session.scalars(sa.select(LedgerTransaction.id).where(
        ~sa.select(LedgerEntry.id).where(LedgerEntry.transaction_id == LedgerTransaction.id).exists())).all()
    drifted = [r.account.code for r in ledger.trial_balance(db.session) if r.balance_fen != r.entries_fen]
    return ([f"transaction {t} unbalanced" for t in unbalanced] + [f"transaction {t} has no entries" for t in empty]
            + [f"account {code} balance differs from its entries" for code in drifted])
