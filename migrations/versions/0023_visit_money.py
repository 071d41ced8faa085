"""visit money: programme money pays only verified visits — why an entitlement was
released (closed unserved, not verified within the deadline, found not served) and when a
paid visit's money was clawed back

Revision ID: 0023_visit_money
Revises: 0022_follow_ups
Create Date: 2026-12-04 02:40:00

Released uses that exist already were all closed without service (the only release
there was): they get the reason ``unserved``.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023_visit_money'
down_revision = '0022_follow_ups'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('entitlement_use', schema=None) as batch_op:
        batch_op.add_column(sa.Column('release_reason', sa.Enum('unserved', 'unverified', 'not_served', name='release_reason', native_enum=False, create_constraint=True, length=14), nullable=True))
        batch_op.add_column(sa.Column('clawed_back_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE entitlement_use SET release_reason = 'unserved' WHERE status = 'released'")
    with op.batch_alter_table('entitlement_use', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_entitlement_use_reason_only_when_released'), "release_reason IS NULL OR status = 'released'")
        batch_op.create_check_constraint(op.f('ck_entitlement_use_clawback_only_when_paid'), "clawed_back_at IS NULL OR settlement_id IS NOT NULL")


def downgrade():
    with op.batch_alter_table('entitlement_use', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_entitlement_use_clawback_only_when_paid'), type_='check')
        batch_op.drop_constraint(op.f('ck_entitlement_use_reason_only_when_released'), type_='check')
        batch_op.drop_constraint(op.f('ck_entitlement_use_release_reason'), type_='check')
        batch_op.drop_column('clawed_back_at')
        batch_op.drop_column('release_reason')
