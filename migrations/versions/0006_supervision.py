"""supervision rule sets, exclusions, evaluation runs, snapshots, penalty reports

Revision ID: 0006_supervision
Revises: 0005_subsidies
Create Date: 2026-11-22 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_supervision'
down_revision = '0005_subsidies'
branch_labels = None
depends_on = None


# Version 1 of the rule set: the Linli default (DOMAIN.md). Rates in basis points
# (1000 = 10.00 %), rating cut-offs ×100 (350 = 3.50).
DEFAULT_RULE_SET = dict(
    version=1, note='Linli default rule set (DOMAIN.md)', evaluation_day=1, timezone='Asia/Shanghai',
    window_days=90, long_window_days=365, min_finished_bookings=20, new_provider_days=90,
    late_rate_bp=1000, late_min_count=5, cancellation_rate_bp=500, cancellation_min_count=3,
    expired_rate_bp=1000, expired_min_count=3, complaint_min_count=3,
    rating_below_x100=350, rating_min_count=10, expired_document_min_count=1,
    excellent_rating_x100=450, good_rating_x100=400, unqualified_breaches=2, warning_percent=80,
    ladder_days=180,
)


def upgrade():
    op.create_table('supervision_rule_set',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('evaluation_day', sa.SmallInteger(), nullable=False),
    sa.Column('timezone', sa.String(length=40), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('long_window_days', sa.Integer(), nullable=False),
    sa.Column('min_finished_bookings', sa.Integer(), nullable=False),
    sa.Column('new_provider_days', sa.Integer(), nullable=False),
    sa.Column('late_rate_bp', sa.Integer(), nullable=False),
    sa.Column('late_min_count', sa.Integer(), nullable=False),
    sa.Column('cancellation_rate_bp', sa.Integer(), nullable=False),
    sa.Column('cancellation_min_count', sa.Integer(), nullable=False),
    sa.Column('expired_rate_bp', sa.Integer(), nullable=False),
    sa.Column('expired_min_count', sa.Integer(), nullable=False),
    sa.Column('complaint_min_count', sa.Integer(), nullable=False),
    sa.Column('rating_below_x100', sa.Integer(), nullable=False),
    sa.Column('rating_min_count', sa.Integer(), nullable=False),
    sa.Column('expired_document_min_count', sa.Integer(), nullable=False),
    sa.Column('excellent_rating_x100', sa.Integer(), nullable=False),
    sa.Column('good_rating_x100', sa.Integer(), nullable=False),
    sa.Column('unqualified_breaches', sa.SmallInteger(), nullable=False),
    sa.Column('warning_percent', sa.SmallInteger(), nullable=False),
    sa.Column('ladder_days', sa.Integer(), nullable=False),
    sa.CheckConstraint('evaluation_day BETWEEN 1 AND 28', name=op.f('ck_supervision_rule_set_evaluation_day_valid')),
    sa.CheckConstraint('late_rate_bp BETWEEN 0 AND 10000 AND cancellation_rate_bp BETWEEN 0 AND 10000 AND expired_rate_bp BETWEEN 0 AND 10000', name=op.f('ck_supervision_rule_set_rates_valid')),
    sa.CheckConstraint('window_days > 0 AND long_window_days >= window_days', name=op.f('ck_supervision_rule_set_windows_valid')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_supervision_rule_set_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_rule_set')),
    sa.UniqueConstraint('version', name=op.f('uq_supervision_rule_set_version'))
    )

    op.create_table('supervision_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rule_set_id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('provider_count', sa.Integer(), nullable=False),
    sa.Column('breach_count', sa.Integer(), nullable=False),
    sa.Column('report_count', sa.Integer(), nullable=False),
    sa.Column('grade_counts', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['rule_set_id'], ['supervision_rule_set.id'], name=op.f('fk_supervision_run_rule_set_id_supervision_rule_set')),
    sa.ForeignKeyConstraint(['started_by_id'], ['user_account.id'], name=op.f('fk_supervision_run_started_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_run')),
    sa.UniqueConstraint('as_of', name=op.f('uq_supervision_run_as_of'))
    )

    op.create_table('supervision_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('grade', sa.Enum('excellent', 'good', 'qualified', 'unqualified', 'new', name='supervision_grade', native_enum=False, create_constraint=True, length=15), nullable=False),
    sa.Column('active_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('breaches', sa.JSON(), nullable=False),
    sa.Column('near', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_supervision_snapshot_provider_id_provider')),
    sa.ForeignKeyConstraint(['run_id'], ['supervision_run.id'], name=op.f('fk_supervision_snapshot_run_id_supervision_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_snapshot')),
    sa.UniqueConstraint('run_id', 'provider_id', name=op.f('uq_supervision_snapshot_run_id_provider_id'))
    )
    with op.batch_alter_table('supervision_snapshot', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_snapshot_provider', ['provider_id', 'run_id'], unique=False)

    op.create_table('penalty_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('denominator', sa.Integer(), nullable=True),
    sa.Column('threshold', sa.JSON(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ladder_step', sa.SmallInteger(), nullable=False),
    sa.Column('proposed_sanction', sa.Enum('warning', 'fine', 'suspension', 'removal', name='sanction', native_enum=False, create_constraint=True, length=14), nullable=False),
    sa.Column('severity', sa.Enum('low', 'medium', 'high', 'critical', name='report_severity', native_enum=False, create_constraint=True, length=12), nullable=False),
    sa.Column('status', sa.Enum('proposed', 'confirmed', 'dismissed', 'appealed', 'effective', 'overturned', name='report_status', native_enum=False, create_constraint=True, length=14), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ladder_step BETWEEN 1 AND 4', name=op.f('ck_penalty_report_ladder_step_valid')),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_penalty_report_provider_id_provider')),
    sa.ForeignKeyConstraint(['run_id'], ['supervision_run.id'], name=op.f('fk_penalty_report_run_id_supervision_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_penalty_report')),
    sa.UniqueConstraint('run_id', 'provider_id', 'metric', name=op.f('uq_penalty_report_run_id_provider_id_metric'))
    )
    with op.batch_alter_table('penalty_report', schema=None) as batch_op:
        batch_op.create_index('ix_penalty_report_provider_created', ['provider_id', 'created_at'], unique=False)
        batch_op.create_index('ix_penalty_report_status_created', ['status', 'created_at'], unique=False)

    op.create_table('booking_exclusion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('cause', sa.Enum('resident_fault', 'force_majeure', name='exclusion_cause', native_enum=False, create_constraint=True, length=18), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_booking_exclusion_booking_id_booking')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_booking_exclusion_decided_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_exclusion')),
    sa.UniqueConstraint('booking_id', name=op.f('uq_booking_exclusion_booking_id'))
    )

    op.create_table('supervision_warning',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_supervision_warning_provider_id_provider')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_warning')),
    sa.UniqueConstraint('provider_id', 'on_date', name=op.f('uq_supervision_warning_provider_id_on_date'))
    )

    rule_set = sa.table('supervision_rule_set', *[sa.column(name) for name in (*DEFAULT_RULE_SET, 'created_at')])
    op.execute(rule_set.insert().values(**DEFAULT_RULE_SET, created_at=sa.func.now()))


def downgrade():
    op.drop_table('supervision_warning')
    op.drop_table('booking_exclusion')
    with op.batch_alter_table('penalty_report', schema=None) as batch_op:
        batch_op.drop_index('ix_penalty_report_status_created')
        batch_op.drop_index('ix_penalty_report_provider_created')
    op.drop_table('penalty_report')
    with op.batch_alter_table('supervision_snapshot', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_snapshot_provider')
    op.drop_table('supervision_snapshot')
    op.drop_table('supervision_run')
    op.drop_table('supervision_rule_set')
