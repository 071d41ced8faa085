"""Migration 0020_rule_publication on a database with rule-set versions already in use:
every one becomes published on the day it was saved, the CHECKs hold, and it downgrades."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db
from tests.conftest import scratch_database

SAVED = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)


def test_existing_versions_are_backfilled_as_published_and_it_downgrades(tmp_path_factory):
    app = create_app({"SQLALCHEMY_DATABASE_URI": scratch_database(tmp_path_factory, "rulepub"),
                      "SECRET_KEY": "migration-test-secret-key-long-enough-1234",
                      "UPLOAD_DIR": str(tmp_path_factory.mktemp("rulepub-files"))})
    with app.app_context():
        upgrade(revision="0016_visit_records")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO supervision_rule_set (version, created_at, note, evaluation_day, "
                                 "timezone, window_days, long_window_days, min_finished_bookings, new_provider_days, "
                                 "late_rate_bp, late_min_count, cancellation_rate_bp, cancellation_min_count, "
                                 "expired_rate_bp, expired_min_count, complaint_min_count, rating_below_x100, "
                                 "rating_min_count, expired_document_min_count, excellent_rating_x100, "
                                 "good_rating_x100, unqualified_breaches, warning_percent, ladder_days) "
                                 "SELECT 2, :saved, 'v2', evaluation_day, timezone, 60, long_window_days, "
                                 "min_finished_bookings, new_provider_days, late_rate_bp, late_min_count, "
                                 "cancellation_rate_bp, cancellation_min_count, expired_rate_bp, expired_min_count, "
                                 "complaint_min_count, rating_below_x100, rating_min_count, "
                                 "expired_document_min_count, excellent_rating_x100, good_rating_x100, "
                                 "unqualified_breaches, warning_percent, ladder_days FROM supervision_rule_set "
                                 "WHERE version = 1"), {"saved": SAVED})
        upgrade(revision="0020_rule_publication")
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT version, publication, effective_from, created_at, comment_until "
                                        "FROM supervision_rule_set ORDER BY version")).all()
        assert [(r.version, r.publication) for r in rows] == [(1, "published"), (2, "published")]
        assert all(r.effective_from == r.created_at == r.comment_until for r in rows)
        refused = None
        try:
            with db.engine.begin() as conn:
                conn.execute(sa.text("UPDATE supervision_rule_set SET effective_from = NULL WHERE version = 2"))
        except sa.exc.IntegrityError as error:
            refused = error
        assert refused is not None  # the publication CHECK arrived with the column, on both databases
        downgrade(revision="0016_visit_records")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("supervision_rule_set")}
        assert "publication" not in columns and "effective_from" not in columns
        db.engine.dispose()
