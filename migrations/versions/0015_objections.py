"""objections: an official may dismiss an objection as abusive (``subsidy_objection.abusive``)

Revision ID: 0015_objections
Revises: 0011_credit_code_bar
Create Date: 2026-12-03 09:40:00

An abusive objection is a dismissed one whose objector is told why; the CHECK
keeps the flag off open and upheld objections.  SQLite cannot add a table
constraint to an existing table, but it takes a column constraint in ADD COLUMN
(checked against the rows already there), so the flag and its CHECK arrive
together on both databases.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_objections'
down_revision = '0014_accounts'
branch_labels = None
depends_on = None

CHECK = "NOT abusive OR status = 'dismissed'"
NAME = 'ck_subsidy_objection_abusive_is_dismissed'


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE subsidy_objection ADD COLUMN abusive BOOLEAN DEFAULT 0 NOT NULL '
                   f'CONSTRAINT {NAME} CHECK ({CHECK})')
    else:
        op.add_column('subsidy_objection',
                      sa.Column('abusive', sa.Boolean(), server_default=sa.false(), nullable=False))
        op.create_check_constraint(op.f(NAME), 'subsidy_objection', CHECK)


def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f(NAME), 'subsidy_objection', type_='check')
    op.drop_column('subsidy_objection', 'abusive')
