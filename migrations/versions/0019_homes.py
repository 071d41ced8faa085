"""homes: one active code card per resident (a partial unique index)

Revision ID: 0019_homes
Revises: 0016_visit_records
Create Date: 2026-12-04 02:30:00

A card still in use is one whose ``revoked_at`` is NULL; at most one per resident,
so a lost card must be revoked before a new one is issued.  No existing row
changes (0016 made the table; the service already allowed one card at a time).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_homes'
down_revision = '0018_visit_checkin'
branch_labels = None
depends_on = None

ACTIVE = "revoked_at IS NULL"


def upgrade():
    with op.batch_alter_table('code_card', schema=None) as batch_op:
        batch_op.create_index('uq_code_card_active_resident', ['resident_id'], unique=True,
                              sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))


def downgrade():
    with op.batch_alter_table('code_card', schema=None) as batch_op:
        batch_op.drop_index('uq_code_card_active_resident', sqlite_where=sa.text(ACTIVE),
                            postgresql_where=sa.text(ACTIVE))
