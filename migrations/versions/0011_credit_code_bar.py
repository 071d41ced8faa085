"""credit code bar: a credit code is unique among live providers only (partial unique index),
so a removed provider's code can register again once its re-registration bar has ended

Revision ID: 0011_credit_code_bar
Revises: 0008_catalogue_generation
Create Date: 2026-12-03 09:00:00

The bar itself (two calendar years from the removal, whole days in Asia/Shanghai)
depends on the clock, so providers/registration.py checks it; the index keeps two
live organisations from holding one code, also under concurrent registrations.

SQLite cannot drop a table's UNIQUE constraint: the table is rebuilt.  Its foreign
keys stay on (PRAGMA foreign_keys cannot change inside the migration's transaction),
so the rebuild defers their checks to the commit, puts every provider row back
under its id before then, and restores the rows that ``ON DELETE CASCADE`` removes
when the old table is dropped (``provider_category``, ``provider_community``).
"""
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_credit_code_bar'
down_revision = '0010_one_live_booking_per_slot'
branch_labels = None
depends_on = None

LIVE = "status <> 'removed'"
UNIQUE = 'CONSTRAINT uq_provider_credit_code UNIQUE (credit_code)'
CASCADED = ('provider_category', 'provider_community')


def _rebuild_sqlite_provider(change) -> None:
    """Re-create ``provider`` from ``change(create_sql)``, keeping rows, indexes and children."""
    bind = op.get_bind()
    table_sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'provider'").scalar_one()
    index_sqls = [sql for (sql,) in bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'provider' AND sql IS NOT NULL")]
    bind.exec_driver_sql('PRAGMA defer_foreign_keys = ON')
    bind.exec_driver_sql('CREATE TEMP TABLE _keep_provider AS SELECT * FROM provider')
    for child in CASCADED:
        bind.exec_driver_sql(f'CREATE TEMP TABLE _keep_{child} AS SELECT * FROM {child}')
    bind.exec_driver_sql('DROP TABLE provider')
    bind.exec_driver_sql(change(table_sql))
    bind.exec_driver_sql('INSERT INTO provider SELECT * FROM _keep_provider')
    for child in CASCADED:
        bind.exec_driver_sql(f'INSERT OR IGNORE INTO {child} SELECT * FROM _keep_{child}')
        bind.exec_driver_sql(f'DROP TABLE _keep_{child}')
    bind.exec_driver_sql('DROP TABLE _keep_provider')
    for sql in index_sqls:
        bind.exec_driver_sql(sql)


def _without_unique(table_sql: str) -> str:
    changed = re.sub(r',\s*' + re.escape(UNIQUE), '', table_sql)
    if changed == table_sql:
        raise RuntimeError('provider has no uq_provider_credit_code constraint to drop')
    return changed


def _with_unique(table_sql: str) -> str:
    head, _, tail = table_sql.rpartition(')')
    return f'{head}, \n\t{UNIQUE}\n){tail}'


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        _rebuild_sqlite_provider(_without_unique)
    else:
        op.drop_constraint(op.f('uq_provider_credit_code'), 'provider', type_='unique')
    # One live organisation per credit code; removed ones keep theirs for the record.
    op.create_index('uq_provider_credit_code_live', 'provider', ['credit_code'], unique=True,
                    postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE))


def downgrade():
    # Fails (as it must) once a code has registered again after a removal.
    op.drop_index('uq_provider_credit_code_live', table_name='provider')
    if op.get_bind().dialect.name == 'sqlite':
        _rebuild_sqlite_provider(_with_unique)
    else:
        op.create_unique_constraint(op.f('uq_provider_credit_code'), 'provider', ['credit_code'])
