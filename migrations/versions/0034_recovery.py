"""recovery: password-reset codes (phone_code purpose ``reset``) and temporary passwords
(``user_account.temporary_password_until``)

Revision ID: 0034_recovery
Revises: 0030_outbox
Create Date: 2026-12-05 12:00:00

A grid worker or an official who resets a resident's password after an identity check
gives her a temporary password on a printed slip: it works until
``temporary_password_until`` and must be replaced at the first log-in.  The purpose
CHECK of ``phone_code`` gains ``reset`` (SQLite: the stored schema is edited, as 0031
did for the role CHECK; PostgreSQL: the CHECK is replaced).  The downgrade fails while
a reset code exists.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0034_recovery'
down_revision = '0030_outbox'
branch_labels = None
depends_on = None

OLD = "'signup', 'register', 'login'"
NEW = OLD + ", 'reset'"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _replace_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if _sqlite():
        table_sql = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'phone_code'").scalar_one()
        if table_sql.count(f'({old})') != 1:
            raise RuntimeError('phone_code: the purpose CHECK is not as expected')
        version = bind.exec_driver_sql('PRAGMA schema_version').scalar_one()
        bind.exec_driver_sql('PRAGMA writable_schema = ON')
        bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'phone_code'",
                             (table_sql.replace(f'({old})', f'({new})'),))
        bind.exec_driver_sql(f'PRAGMA schema_version = {version + 1}')
        bind.exec_driver_sql('PRAGMA writable_schema = OFF')
    else:
        op.execute('ALTER TABLE phone_code DROP CONSTRAINT ck_phone_code_code_purpose')
        op.execute(f'ALTER TABLE phone_code ADD CONSTRAINT ck_phone_code_code_purpose CHECK (purpose IN ({new}))')


def upgrade():
    _replace_check(OLD, NEW)
    op.add_column('user_account', sa.Column('temporary_password_until', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    bind = op.get_bind()
    if bind.exec_driver_sql("SELECT count(*) FROM phone_code WHERE purpose = 'reset'").scalar_one():
        raise RuntimeError('password-reset codes exist: delete them before downgrading')
    _replace_check(NEW, OLD)
    if _sqlite():
        op.execute("ALTER TABLE user_account DROP COLUMN temporary_password_until")
    else:
        op.drop_column('user_account', 'temporary_password_until')
