"""outbox: durable delivery of SMS and email (one generic row per message, a unique
deduplication key, attempts with backoff, leases for concurrent workers, dead letters),
and each user's notification channels

Revision ID: 0030_outbox
Revises: 0031_grids
Create Date: 2026-12-04 18:45:00

The embedded SMS channel's ``sms_outbox`` stays: it is now what the embedded transport
"delivers" to (read on /official/sms-outbox).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0030_outbox'
down_revision = '0031_grids'
branch_labels = None
depends_on = None

STATUSES = ('pending', 'sending', 'sent', 'dead', 'expired')


def upgrade():
    op.create_table('outbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('template', sa.String(length=60), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('dedup_key', sa.String(length=200), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum(*STATUSES, name='outbox_status', native_enum=False, create_constraint=True,
                                length=11), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_token', sa.String(length=32), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('provider_ref', sa.String(length=100), nullable=True),
    sa.Column('rendered', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_outbox_message_attempts_not_negative')),
    sa.CheckConstraint('max_attempts >= 1', name=op.f('ck_outbox_message_max_attempts_positive')),
    sa.CheckConstraint("(status = 'sending') = (lease_token IS NOT NULL)", name=op.f('ck_outbox_message_lease_iff_sending')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_outbox_message_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_message')),
    sa.UniqueConstraint('dedup_key', name=op.f('uq_outbox_message_dedup_key'))
    )
    op.create_index('ix_outbox_message_status_next_attempt_at', 'outbox_message', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_outbox_message_recipient_sent_at', 'outbox_message', ['recipient', 'sent_at'], unique=False)
    op.create_index(op.f('ix_outbox_message_user_id'), 'outbox_message', ['user_id'], unique=False)
    op.create_table('notification_preference',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sms', sa.Boolean(), nullable=False),
    sa.Column('email', sa.Boolean(), nullable=False),
    sa.Column('email_address', sa.String(length=254), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('NOT email OR email_address IS NOT NULL', name=op.f('ck_notification_preference_email_needs_address')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_preference_user_id_user_account')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_preference'))
    )


def downgrade():
    op.drop_table('notification_preference')
    op.drop_index(op.f('ix_outbox_message_user_id'), table_name='outbox_message')
    op.drop_index('ix_outbox_message_recipient_sent_at', table_name='outbox_message')
    op.drop_index('ix_outbox_message_status_next_attempt_at', table_name='outbox_message')
    op.drop_table('outbox_message')
