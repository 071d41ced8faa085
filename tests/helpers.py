"""Helpers many test modules share: counting rows, API tokens, problem+json
answers, an app of its own for races, and a stored supervision grade."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone

import sqlalchemy as sa

from app.extensions import db

PROBLEM = "application/problem+json"


def count(model, *where) -> int:
    """Rows of ``model`` matching ``where``."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def bearer(user) -> dict:
    """The Authorization header of a fresh API token for ``user`` (committed)."""
    from app.auth.services import issue_token

    _, raw = issue_token(db.session, user, "test")
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def assert_problem(response, status: int, field: str | None = None) -> dict:
    """A problem+json answer with this status (and an error message for ``field``)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["type"] and body["detail"], body
    if field is not None:
        assert body["errors"][field] and all(isinstance(m, str) for m in body["errors"][field]), body
    return body


@contextmanager
def race_app(tmp_path_factory, name: str, connections: int = 6, *, frozen_clock: bool = True,
             migrate: bool = True):
    """An app on a scratch database of its own (a fresh SQLite file, or
    ``<test db>_<name>`` on PostgreSQL) for tests that really commit from several
    connections or processes; the clock is frozen at the suite's START unless told."""
    from flask_migrate import upgrade

    from app import create_app
    from app.clock import FrozenClock
    from tests.conftest import START, scratch_database

    settings = {
        "SQLALCHEMY_DATABASE_URI": scratch_database(tmp_path_factory, name),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": connections + 2, "max_overflow": 0},
        "UPLOAD_DIR": str(tmp_path_factory.mktemp(f"{name}-files")),
        "SECRET_KEY": "race-test-secret-key-long-enough-12345",
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 1024, "ARGON2_PARALLELISM": 1,
    }
    if frozen_clock:
        settings["CLOCK"] = FrozenClock(START)
    app = create_app(settings)
    if migrate:
        with app.app_context():
            upgrade()
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


def store_grade(provider_id: int, grade, as_of: datetime | None = None):
    """Store an evaluation run with the provider's snapshot at ``grade`` (the
    supervision grade other domains read), as the evaluator would."""
    from ratings.supervision.models import EvaluationRun, ProviderSnapshot
    from ratings.supervision.rules import current as current_rule_set

    as_of = as_of or datetime(2026, 10, 1, tzinfo=timezone.utc)
    run = EvaluationRun(as_of=as_of, rule_set_id=current_rule_set(db.session).id, trigger="cli")
    db.session.add(run)
    db.session.flush()
    snapshot = ProviderSnapshot(run_id=run.id, provider_id=provider_id, grade=grade, active_since=as_of,
                                window_start=as_of, window_end=as_of, window_days=90, figures={},
                                breaches=[], near=[])
    db.session.add(snapshot)
    db.session.flush()
    return snapshot


def log_in(client, phone: str, password: str | None = None, **environ):
    """Log in through the log-in form the page rendered (its hidden fields and button)."""
    from tests.conftest import PASSWORD
    from tests.rendered_forms import submit

    page = client.get("/login", **environ)
    return submit(client, page, "main form.stack", phone=phone, password=PASSWORD if password is None else password)
