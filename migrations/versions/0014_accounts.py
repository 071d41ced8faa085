"""accounts: API tokens expire and have scopes; phone codes (sign-up, log-in past the
throttle); the embedded SMS outbox; log-in attempts name their known device

Revision ID: 0014_accounts
Revises: 0011_credit_code_bar
Create Date: 2026-12-03 10:00:00

Backfills: tokens made before expiry and scopes existed keep writing (scope ``write``)
and expire 90 days after this upgrade (not after their creation, so no client stops
working on the day of the upgrade).
"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_accounts'
down_revision = '0013_booking_fee_policy'
branch_labels = None
depends_on = None

SCOPES = ('read', 'write')
PURPOSES = ('signup', 'register', 'login')


def upgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.Enum(*SCOPES, name='token_scope', native_enum=False,
                                                       create_constraint=True, length=9), nullable=True))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_reason', sa.String(length=20), nullable=True))
    expires = datetime.now(timezone.utc) + timedelta(days=90)
    op.get_bind().execute(sa.text("UPDATE api_token SET scope = 'write', expires_at = :expires"),
                          {"expires": expires})
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('scope', existing_type=sa.String(length=9), nullable=False)
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)

    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device', sa.String(length=32), nullable=True))

    op.create_table('phone_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Enum(*PURPOSES, name='code_purpose', native_enum=False, create_constraint=True,
                                 length=12), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('attempts >= 0 AND attempts <= max_attempts', name=op.f('ck_phone_code_attempts_within_max')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_code'))
    )
    with op.batch_alter_table('phone_code', schema=None) as batch_op:
        batch_op.create_index('ix_phone_code_ip_created_at', ['ip', 'created_at'], unique=False)
        batch_op.create_index('ix_phone_code_phone_created_at', ['phone', 'created_at'], unique=False)

    op.create_table('sms_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('body', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_outbox'))
    )
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_sms_outbox_phone_created_at', ['phone', 'created_at'], unique=False)


def downgrade():
    op.drop_table('sms_outbox')
    op.drop_table('phone_code')
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_column('device')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('revoked_reason')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('scope')
