"""visit records: the proof of each visit (home locations, visit records, photos, code
cards, anomaly flags) and the follow-up call queue (calls, attempts, evaluators)

Revision ID: 0016_visit_records
Revises: 0015_objections
Create Date: 2026-12-03 15:45:56

New tables only; no existing row changes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_visit_records'
down_revision = '0015_objections'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('code_card',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['issued_by_id'], ['user_account.id'], name=op.f('fk_code_card_issued_by_id_user_account')),
    sa.ForeignKeyConstraint(['resident_id'], ['user_account.id'], name=op.f('fk_code_card_resident_id_user_account')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['user_account.id'], name=op.f('fk_code_card_revoked_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_code_card'))
    )
    with op.batch_alter_table('code_card', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_code_card_resident_id'), ['resident_id'], unique=False)

    op.create_table('home_location',
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('method', sa.Enum('device', 'entered', name='location_method', native_enum=False, create_constraint=True, length=11), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180', name=op.f('ck_home_location_coordinates_valid')),
    sa.ForeignKeyConstraint(['resident_id'], ['user_account.id'], name=op.f('fk_home_location_resident_id_user_account')),
    sa.ForeignKeyConstraint(['set_by_id'], ['user_account.id'], name=op.f('fk_home_location_set_by_id_user_account')),
    sa.PrimaryKeyConstraint('resident_id', name=op.f('pk_home_location'))
    )
    op.create_table('evaluator_appointment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('appointed_by_id', sa.Integer(), nullable=False),
    sa.Column('appointed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['appointed_by_id'], ['user_account.id'], name=op.f('fk_evaluator_appointment_appointed_by_id_user_account')),
    sa.ForeignKeyConstraint(['programme_id'], ['purchase_programme.id'], name=op.f('fk_evaluator_appointment_programme_id_purchase_programme')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_evaluator_appointment_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluator_appointment')),
    sa.UniqueConstraint('programme_id', 'user_id', name=op.f('uq_evaluator_appointment_programme_id_user_id'))
    )
    with op.batch_alter_table('evaluator_appointment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluator_appointment_user_id'), ['user_id'], unique=False)

    op.create_table('card_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(used_at IS NULL) = (booking_id IS NULL)', name=op.f('ck_card_code_used_for_a_visit')),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_card_code_booking_id_booking')),
    sa.ForeignKeyConstraint(['card_id'], ['code_card.id'], name=op.f('fk_card_code_card_id_code_card')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_code')),
    sa.UniqueConstraint('booking_id', name=op.f('uq_card_code_booking_id')),
    sa.UniqueConstraint('card_id', 'position', name=op.f('uq_card_code_card_id_position'))
    )
    with op.batch_alter_table('card_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_code_card_id'), ['card_id'], unique=False)

    op.create_table('follow_up_call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=True),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('reason', sa.Enum('sampled', 'flagged', name='sample_reason', native_enum=False, create_constraint=True, length=11), nullable=False),
    sa.Column('status', sa.Enum('queued', 'retry', 'done', name='call_status', native_enum=False, create_constraint=True, length=10), nullable=False),
    sa.Column('attempts', sa.SmallInteger(), nullable=False),
    sa.Column('outcome', sa.Enum('served', 'partly', 'not_served', 'unreachable', name='call_outcome', native_enum=False, create_constraint=True, length=15), nullable=True),
    sa.Column('satisfaction', sa.SmallInteger(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'done') = (outcome IS NOT NULL)", name=op.f('ck_follow_up_call_done_has_outcome')),
    sa.CheckConstraint('satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5', name=op.f('ck_follow_up_call_satisfaction_valid')),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_follow_up_call_booking_id_booking')),
    sa.ForeignKeyConstraint(['programme_id'], ['purchase_programme.id'], name=op.f('fk_follow_up_call_programme_id_purchase_programme')),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_follow_up_call_provider_id_provider')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_follow_up_call_recorded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_call')),
    sa.UniqueConstraint('booking_id', name=op.f('uq_follow_up_call_booking_id'))
    )
    with op.batch_alter_table('follow_up_call', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_call_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index('ix_follow_up_call_provider_month', ['provider_id', 'month'], unique=False)

    op.create_table('visit_flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.Enum('no_location', 'outside_radius', 'short_duration', 'no_code', 'code_locked', 'backfilled', 'carer_overlap', 'shared_device', 'shared_place', 'same_photo', 'burst_closures', name='flag_rule', native_enum=False, create_constraint=True, length=18), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleared_by_id', sa.Integer(), nullable=True),
    sa.Column('clear_reason', sa.Text(), nullable=True),
    sa.CheckConstraint('cleared_at IS NULL OR (cleared_by_id IS NOT NULL AND clear_reason IS NOT NULL)', name=op.f('ck_visit_flag_cleared_has_reason')),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_visit_flag_booking_id_booking')),
    sa.ForeignKeyConstraint(['cleared_by_id'], ['user_account.id'], name=op.f('fk_visit_flag_cleared_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_flag')),
    sa.UniqueConstraint('booking_id', 'rule', name=op.f('uq_visit_flag_booking_id_rule'))
    )
    with op.batch_alter_table('visit_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_flag_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index('ix_visit_flag_open', ['cleared_at', 'raised_at'], unique=False)

    op.create_table('visit_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.Enum('before', 'after', name='photo_stage', native_enum=False, create_constraint=True, length=10), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_visit_photo_booking_id_booking')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_visit_photo_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_photo')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_visit_photo_stored_name'))
    )
    with op.batch_alter_table('visit_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_photo_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_photo_sha256'), ['sha256'], unique=False)

    op.create_table('visit_record',
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('checked_in_by_id', sa.Integer(), nullable=True),
    sa.Column('check_in_lat', sa.Float(), nullable=True),
    sa.Column('check_in_lon', sa.Float(), nullable=True),
    sa.Column('check_in_accuracy_m', sa.Float(), nullable=True),
    sa.Column('check_in_distance_m', sa.Integer(), nullable=True),
    sa.Column('check_in_device', sa.String(length=64), nullable=True),
    sa.Column('checked_out_by_id', sa.Integer(), nullable=True),
    sa.Column('check_out_lat', sa.Float(), nullable=True),
    sa.Column('check_out_lon', sa.Float(), nullable=True),
    sa.Column('check_out_accuracy_m', sa.Float(), nullable=True),
    sa.Column('check_out_distance_m', sa.Integer(), nullable=True),
    sa.Column('check_out_device', sa.String(length=64), nullable=True),
    sa.Column('short_reason', sa.Text(), nullable=True),
    sa.Column('tasks_done', sa.JSON(), nullable=False),
    sa.Column('code', sa.String(length=6), nullable=True),
    sa.Column('code_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('code_attempts', sa.SmallInteger(), nullable=False),
    sa.Column('code_locked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_by', sa.Enum('code', 'card', 'resident', 'proxy', 'follow_up', name='verified_by', native_enum=False, create_constraint=True, length=13), nullable=True),
    sa.Column('verified_actor_id', sa.Integer(), nullable=True),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleared_by_id', sa.Integer(), nullable=True),
    sa.Column('clear_reason', sa.Text(), nullable=True),
    sa.Column('coordinates_dropped_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(verified_at IS NULL) = (verified_by IS NULL)', name=op.f('ck_visit_record_verified_has_method')),
    sa.CheckConstraint('cleared_at IS NULL OR (cleared_by_id IS NOT NULL AND clear_reason IS NOT NULL)', name=op.f('ck_visit_record_cleared_has_reason')),
    sa.CheckConstraint('code_attempts >= 0', name=op.f('ck_visit_record_code_attempts_nonnegative')),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_visit_record_booking_id_booking')),
    sa.ForeignKeyConstraint(['checked_in_by_id'], ['user_account.id'], name=op.f('fk_visit_record_checked_in_by_id_user_account')),
    sa.ForeignKeyConstraint(['checked_out_by_id'], ['user_account.id'], name=op.f('fk_visit_record_checked_out_by_id_user_account')),
    sa.ForeignKeyConstraint(['cleared_by_id'], ['user_account.id'], name=op.f('fk_visit_record_cleared_by_id_user_account')),
    sa.ForeignKeyConstraint(['verified_actor_id'], ['user_account.id'], name=op.f('fk_visit_record_verified_actor_id_user_account')),
    sa.PrimaryKeyConstraint('booking_id', name=op.f('pk_visit_record'))
    )
    with op.batch_alter_table('visit_record', schema=None) as batch_op:
        batch_op.create_index('ix_visit_record_check_in_device', ['check_in_device'], unique=False)

    op.create_table('follow_up_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('caller_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.Enum('served', 'partly', 'not_served', 'unreachable', name='attempt_outcome', native_enum=False, create_constraint=True, length=15), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['follow_up_call.id'], name=op.f('fk_follow_up_attempt_call_id_follow_up_call')),
    sa.ForeignKeyConstraint(['caller_id'], ['user_account.id'], name=op.f('fk_follow_up_attempt_caller_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_attempt'))
    )
    with op.batch_alter_table('follow_up_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_attempt_call_id'), ['call_id'], unique=False)



def downgrade():
    with op.batch_alter_table('follow_up_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_attempt_call_id'))

    op.drop_table('follow_up_attempt')
    with op.batch_alter_table('visit_record', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_record_check_in_device')

    op.drop_table('visit_record')
    with op.batch_alter_table('visit_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_photo_sha256'))
        batch_op.drop_index(batch_op.f('ix_visit_photo_booking_id'))

    op.drop_table('visit_photo')
    with op.batch_alter_table('visit_flag', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_flag_open')
        batch_op.drop_index(batch_op.f('ix_visit_flag_booking_id'))

    op.drop_table('visit_flag')
    with op.batch_alter_table('follow_up_call', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_up_call_provider_month')
        batch_op.drop_index(batch_op.f('ix_follow_up_call_programme_id'))

    op.drop_table('follow_up_call')
    with op.batch_alter_table('card_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_code_card_id'))

    op.drop_table('card_code')
    with op.batch_alter_table('evaluator_appointment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluator_appointment_user_id'))

    op.drop_table('evaluator_appointment')
    op.drop_table('home_location')
    with op.batch_alter_table('code_card', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_code_card_resident_id'))

    op.drop_table('code_card')
