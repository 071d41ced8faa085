"""Two scheduler processes evaluate the same as-of day at once: one run, one set of reports.

Real processes (``flask --app app evaluate``) against a database of their own
(``<test db>_sup`` on PostgreSQL, a fresh file on SQLite), because the per-test
rollback would hide the race.  On PostgreSQL the second ``INSERT … ON CONFLICT
DO NOTHING`` of the run waits for the first transaction and then inserts
nothing; on SQLite ``BEGIN IMMEDIATE`` serialises them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from ratings.supervision.models import EvaluationRun, PenaltyReport, ProviderSnapshot
from app.config import ROOT as ROOT_DIR
from tests.supervision_helpers import bookings, serving_provider
from tests.helpers import race_app as make_race_app

pytestmark = [pytest.mark.no_db_session]

PROCESSES = 2


@pytest.fixture(scope="module")
def race_db(tmp_path_factory):
    with make_race_app(tmp_path_factory, "sup", PROCESSES, frozen_clock=False) as app:
        yield app, app.config['SQLALCHEMY_DATABASE_URI']


def test_two_processes_evaluate_the_same_day_once(race_db, tmp_path):
    app, url = race_db
    with app.app_context():
        for late in (6, 7, 1):
            provider, listing, resident, _ = serving_provider(days=400)
            bookings(listing, resident, 50, late=late)
        db.session.commit()
        db.session.remove()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "race-test-secret-key-long-enough-12345",
           "LINLI_INSTANCE_DIR": str(tmp_path), "LINLI_UPLOAD_DIR": str(tmp_path / "uploads")}
    day = (date.today() - timedelta(days=1)).isoformat()
    processes = [
        subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "evaluate", "--as-of", day],
                         cwd=ROOT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    for p, (out, err) in zip(processes, outputs):
        assert p.returncode == 0, err
    said = sorted("exists already" in out for out, _err in outputs)
    assert said == [False, True], outputs
    with app.app_context():
        count = lambda model: db.session.scalar(sa.select(sa.func.count()).select_from(model))  # noqa: E731
        assert count(EvaluationRun) == 1
        run = db.session.scalar(sa.select(EvaluationRun))
        assert count(ProviderSnapshot) == run.provider_count >= 3
        assert count(PenaltyReport) == run.report_count == 2
        db.session.remove()
