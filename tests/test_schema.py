"""The schema comes only from migrations, and they agree with the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db


def _include(obj, name, type_, reflected, compare_to):
    only = getattr(obj, "info", {}).get("only_dialect")
    return only is None or only == db.engine.dialect.name


# The gram index is PostgreSQL-only (``only_dialect``); alembic warns about its expression on
# SQLite before ``include_object`` can leave it out.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_models_and_migrations_agree(app, db_session):
    connection = db_session.connection()
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": _include}
    )
    diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_migration_seeds_the_default_categories(db_session):
    from tests import factories

    assert factories.category("home_medical").name_zh == "上门医疗"
    assert factories.category("ev_charger").kind == "infrastructure"


@pytest.mark.no_db_session
def test_what_a_test_commits_is_rolled_back(app):
    """One test, in any order: a row committed inside the harness's transaction is
    visible there, and gone once that transaction is rolled back."""
    import sqlalchemy as sa

    from app.models import Community
    from tests import factories
    from tests.conftest import rolled_back_session

    code = "isolation-check"
    where = sa.select(sa.func.count()).select_from(Community).where(Community.code == code)
    with rolled_back_session(app) as session:
        factories.community(code=code)  # commits
        session.commit()
        assert session.scalar(where) == 1
    with app.app_context(), db.engine.connect() as fresh:
        assert fresh.scalar(where) == 0
