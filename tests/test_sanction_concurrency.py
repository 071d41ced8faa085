"""Two scheduler processes apply the same due sanction at once: it takes effect once.

Real processes against a database of their own (``<test db>_sanc`` on PostgreSQL,
a fresh file on SQLite), because the per-test rollback would hide the race.  On
PostgreSQL the second process waits on the report's row lock and then finds it
no longer *confirmed*; on SQLite ``BEGIN IMMEDIATE`` serialises them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.audit import AuditEvent
from app.config import ROOT as ROOT_DIR
from app.extensions import db
from ratings.supervision import review
from ratings.supervision.models import PenaltyReport, ReportStatus, Sanction
from tests import factories
from tests.sanction_helpers import provider_with_staff, report
from tests.helpers import race_app as make_race_app

pytestmark = [pytest.mark.no_db_session]

SCRIPT = ("from app import create_app; from app.scheduler import run_job; "
          "from ratings.supervision.sanctions import apply_due_sanctions; "
          "print('applied', run_job(create_app(), apply_due_sanctions))")


@pytest.fixture(scope="module")
def race_db(tmp_path_factory):
    with make_race_app(tmp_path_factory, "sanc", 2, frozen_clock=False) as app:
        yield app, app.config['SQLALCHEMY_DATABASE_URI']


def test_two_schedulers_apply_a_due_suspension_once(race_db, tmp_path):
    app, url = race_db
    with app.app_context():
        provider, _staff = provider_with_staff()
        item = report(provider, Sanction.SUSPENSION)
        review.confirm(db.session, item.id, factories.official())
        found = review.review_of(db.session, item.id)
        found.appeal_deadline = datetime.now(timezone.utc) - timedelta(hours=1)
        db.session.commit()
        report_id, provider_id = item.id, provider.id
        db.session.remove()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "race-test-secret-key-long-enough-12345",
           "LINLI_INSTANCE_DIR": str(tmp_path), "LINLI_UPLOAD_DIR": str(tmp_path / "uploads")}
    processes = [subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=ROOT_DIR, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in processes]
    for p, (_out, err) in zip(processes, outputs):
        assert p.returncode == 0, err
    assert sorted(out.strip().splitlines()[-1] for out, _err in outputs) == ["applied 0", "applied 1"], outputs
    with app.app_context():
        assert db.session.get(PenaltyReport, report_id).status == ReportStatus.EFFECTIVE
        events = lambda action, object_id: db.session.scalar(  # noqa: E731
            sa.select(sa.func.count()).select_from(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.object_id == object_id))
        assert events("penalty_report.effective", report_id) == 1
        assert events("provider.sanction_suspended", provider_id) == 1
        db.session.remove()
