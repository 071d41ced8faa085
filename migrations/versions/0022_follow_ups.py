"""follow-ups: the third-party evaluator role ('evaluator') on ``user_account``

Revision ID: 0022_follow_ups
Revises: 0021_visit_rules
Create Date: 2026-12-04 02:30:00

The role is a portable enum (VARCHAR plus the CHECK ``ck_user_account_user_role``); the
column is long enough already.  PostgreSQL replaces the CHECK.  SQLite cannot alter a
CHECK, and ``user_account`` is referred to by most tables, so it is not rebuilt: the
CHECK is widened in the stored schema (SQLite's documented procedure for changes that
leave the stored rows valid, "ALTER TABLE", section 7: writable_schema, then a new
schema_version).  The downgrade fails while an evaluator account exists.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0022_follow_ups'
down_revision = '0021_visit_rules'
branch_labels = None
depends_on = None

OLD_ROLES = "'resident', 'provider_staff', 'official', 'admin'"
NEW_ROLES = OLD_ROLES + ", 'evaluator'"


def _sqlite_replace_check(old: str, new: str) -> None:
    bind = op.get_bind()
    table_sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'user_account'").scalar_one()
    if table_sql.count(f'({old})') != 1:
        raise RuntimeError('user_account: the role CHECK is not as expected')
    version = bind.exec_driver_sql('PRAGMA schema_version').scalar_one()
    bind.exec_driver_sql('PRAGMA writable_schema = ON')
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'user_account'",
                         (table_sql.replace(f'({old})', f'({new})'),))
    bind.exec_driver_sql(f'PRAGMA schema_version = {version + 1}')
    bind.exec_driver_sql('PRAGMA writable_schema = OFF')


def _postgres_replace_check(roles: str) -> None:
    op.execute('ALTER TABLE user_account DROP CONSTRAINT ck_user_account_user_role')
    op.execute(f'ALTER TABLE user_account ADD CONSTRAINT ck_user_account_user_role CHECK (role IN ({roles}))')


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_replace_check(OLD_ROLES, NEW_ROLES)
    else:
        _postgres_replace_check(NEW_ROLES)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        if op.get_bind().exec_driver_sql("SELECT count(*) FROM user_account WHERE role = 'evaluator'").scalar_one():
            raise RuntimeError('evaluator accounts exist: remove them before downgrading')
        _sqlite_replace_check(NEW_ROLES, OLD_ROLES)
    else:
        _postgres_replace_check(OLD_ROLES)
