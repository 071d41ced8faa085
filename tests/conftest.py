"""Test harness.

The schema comes from the migrations (run once per test session).  Each test
runs inside a transaction that is rolled back afterwards; the code under test
may commit, which only releases a SAVEPOINT ("joining a session into an
external transaction", SQLAlchemy docs).

The suite runs on SQLite by default; with ``LINLI_TEST_ON_POSTGRES=1`` it runs
on the PostgreSQL database named by ``TEST_DATABASE_URL`` (``make test`` does
both when that variable is set).
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from flask import g
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession

from app import create_app
from app.clock import FrozenClock
from app.config import normalise_database_url
from app.extensions import db

# 10:00 in Shanghai on Monday 2 November 2026.
START = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse 12"


def on_postgres() -> bool:
    return os.environ.get("LINLI_TEST_ON_POSTGRES") == "1"


def database_url(tmp_path_factory) -> str:
    if on_postgres():
        url = os.environ.get("TEST_DATABASE_URL")
        if not url:
            raise pytest.UsageError("LINLI_TEST_ON_POSTGRES=1 needs TEST_DATABASE_URL")
        return normalise_database_url(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def scratch_database(tmp_path_factory, suffix: str) -> str:
    """A new, empty database of the suite's kind for tests that must really commit
    (races, a live server): a fresh SQLite file, or ``<test db>_<suffix>`` on PostgreSQL."""
    if not on_postgres():
        return f"sqlite:///{tmp_path_factory.mktemp(suffix) / f'{suffix}.db'}"
    url = sa.engine.make_url(normalise_database_url(os.environ["TEST_DATABASE_URL"]))
    name = f"{url.database}_{suffix}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def test_config(url: str, tmp_path) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "CLOCK": FrozenClock(START),
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-1234",
        # Cheap hashing in tests; production parameters are tested separately.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST_KIB": 1024,
        "ARGON2_PARALLELISM": 1,
        "SERVER_NAME": None,
        # Tests roll back, so the catalogue generation never moves: caching would
        # carry one test's searches into the next (tests/test_catalogue_cache.py
        # turns it on with a cache of its own).
        "CATALOGUE_CACHE_SECONDS": 0,
    }


class IsolatedClient(FlaskClient):
    """A test client whose every request starts with an empty ``g``.

    Tests run inside one app context (it holds the rolled-back session), and
    Flask reuses that context for requests; without this, ``g`` (and
    Flask-Login's cached user in it) would leak from one request to the next.
    """

    def open(self, *args, **kwargs):
        g.__dict__.clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            g.__dict__.clear()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    os.environ.setdefault("LINLI_INSTANCE_DIR", str(tmp_path_factory.mktemp("instance")))
    url = database_url(tmp_path_factory)
    if on_postgres():
        reset_postgres(url)
    app = create_app(test_config(url, tmp_path_factory.mktemp("files")))
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
    return app


class BoundSession(FlaskSession):
    """Use the session's own bind (the test's connection).

    Flask-SQLAlchemy's session picks the engine for every statement, which
    would bypass the outer transaction and make test data permanent.
    """

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and self.bind is not None:
            return self.bind
        return super().get_bind(mapper, clause, bind, **kwargs)


@contextmanager
def rolled_back_session(app):
    """``db.session`` bound to one connection whose outer transaction is rolled back
    on exit; the code under test may commit, which only releases a SAVEPOINT."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        session = db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint", "class_": BoundSession}
        )
        original = db.session
        db.session = session
        try:
            yield session
        finally:
            session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def db_session(request, app):
    """Every test in a transaction that is rolled back at the end."""
    if "no_db_session" in request.keywords:
        yield None
        return
    with rolled_back_session(app) as session:
        yield session


@pytest.fixture
def clock(app):
    clock = app.extensions["linli.clock"]
    clock.set(START)
    yield clock
    clock.set(START)


@pytest.fixture(autouse=True)
def _reset_clock(app):
    app.extensions["linli.clock"].set(START)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def csrf_enabled(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


class Auth:
    """Log a test client in and out through the real pages."""

    def __init__(self, client):
        self.client = client

    def login(self, user, password: str = PASSWORD):
        response = self.client.post("/login", data={"phone": user.phone, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return Auth(client)


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


@pytest.fixture
def en(client):
    """The client reads pages in English, so assertions read the source messages."""
    client.set_cookie("linli_lang", "en")
    return client


@pytest.fixture
def english_messages(client):
    """Messages in English, for tests that match them: the pages and API answers the test
    client gets (the language cookie) and errors raised straight from a service (a forced
    locale), whose lazy messages are rendered when the test reads them."""
    from flask_babel import force_locale

    client.set_cookie("linli_lang", "en")
    with force_locale("en"):
        yield
