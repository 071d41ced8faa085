"""Migration 0031_grids on a database with communities: one street per district, and it downgrades."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db
from tests.conftest import scratch_database


def test_existing_communities_get_a_street_per_district_and_it_downgrades(tmp_path_factory):
    app = create_app({"SQLALCHEMY_DATABASE_URI": scratch_database(tmp_path_factory, "gridsmig"),
                      "SECRET_KEY": "migration-test-secret-key-long-enough-1234",
                      "UPLOAD_DIR": str(tmp_path_factory.mktemp("gridsmig-files"))})
    with app.app_context():
        upgrade(revision="0026_listing_photos")
        with db.engine.begin() as conn:
            for code, district in (("a", "淄川区般阳路街道"), ("b", "淄川区般阳路街道"), ("c", "楚雄市鹿城镇")):
                conn.execute(sa.text("INSERT INTO community (code, name, district, tier, timezone, created_at) "
                                     "VALUES (:code, :code, :district, 'basic', 'Asia/Shanghai', CURRENT_TIMESTAMP)"),
                             {"code": code, "district": district})
        upgrade(revision="0031_grids")
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT c.code, s.name FROM community c JOIN street s ON s.id = c.street_id "
                                        "ORDER BY c.code")).all()
        assert [tuple(r) for r in rows] == [("a", "淄川区般阳路街道"), ("b", "淄川区般阳路街道"), ("c", "楚雄市鹿城镇")]
        with db.engine.begin() as conn:  # the role CHECK takes a grid worker now
            conn.execute(sa.text("INSERT INTO user_account (phone, name, password_hash, role, session_nonce, "
                                 "large_text, created_at) VALUES ('13500000009', 'w', 'x', 'grid_worker', 'n', "
                                 "false, CURRENT_TIMESTAMP)"))
            conn.execute(sa.text("DELETE FROM user_account WHERE phone = '13500000009'"))
        downgrade(revision="0026_listing_photos")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("community")}
            assert "street_id" not in columns and not sa.inspect(conn).has_table("street")
        db.engine.dispose()
