"""visit check-in: the listing's checklist of tasks a carer ticks at check-out

Revision ID: 0018_visit_checkin
Revises: 0016_visit_records
Create Date: 2026-12-04 02:25:00

One new column; existing listings get an empty checklist.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_visit_checkin'
down_revision = '0016_visit_records'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checklist', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))


def downgrade():
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.drop_column('checklist')
