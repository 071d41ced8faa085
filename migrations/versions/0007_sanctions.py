"""supervision review, appeals, sanctions and exit

Revision ID: 0007_sanctions
Revises: 0006_supervision
Create Date: 2026-11-22 06:15:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0007_sanctions'
down_revision = '0006_supervision'
branch_labels = None
depends_on = None

SANCTION = sa.Enum('warning', 'fine', 'suspension', 'removal', name='review_sanction', native_enum=False,
                   create_constraint=True, length=14)
OUTCOME = sa.Enum('upheld', 'rejected', name='appeal_outcome', native_enum=False, create_constraint=True, length=12)


def upgrade():
    # Provider-side effects: a suspension that lifts itself, a removal that bars the credit code.
    # (Nullable columns: plain ADD COLUMN on SQLite, no table rebuild.)
    op.add_column('provider', sa.Column('suspended_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('provider', sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('provider', sa.Column('reregistration_barred_until', sa.DateTime(timezone=True), nullable=True))

    op.create_table('penalty_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('sanction', SANCTION, nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('first_official_id', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('second_official_id', sa.Integer(), nullable=True),
    sa.Column('second_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('appeal_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('effective_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fine_fen', sa.BigInteger(), nullable=True),
    sa.Column('suspended_until', sa.DateTime(timezone=True), nullable=True),
    # Removal needs two different officials: the database refuses the same one twice.
    sa.CheckConstraint('second_official_id IS NULL OR second_official_id <> first_official_id',
                       name=op.f('ck_penalty_review_two_different_officials')),
    sa.CheckConstraint('fine_fen IS NULL OR fine_fen >= 0', name=op.f('ck_penalty_review_fine_nonnegative')),
    sa.ForeignKeyConstraint(['first_official_id'], ['user_account.id'], name=op.f('fk_penalty_review_first_official_id_user_account')),
    sa.ForeignKeyConstraint(['report_id'], ['penalty_report.id'], name=op.f('fk_penalty_review_report_id_penalty_report')),
    sa.ForeignKeyConstraint(['second_official_id'], ['user_account.id'], name=op.f('fk_penalty_review_second_official_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_penalty_review')),
    sa.UniqueConstraint('report_id', name=op.f('uq_penalty_review_report_id'))
    )
    with op.batch_alter_table('penalty_review', schema=None) as batch_op:
        batch_op.create_index('ix_penalty_review_deadline', ['appeal_deadline'], unique=False)

    op.create_table('penalty_appeal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('root_cause', sa.Text(), nullable=False),
    sa.Column('corrective_actions', sa.Text(), nullable=False),
    sa.Column('preventive_steps', sa.Text(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', OUTCOME, nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_penalty_appeal_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['report_id'], ['penalty_report.id'], name=op.f('fk_penalty_appeal_report_id_penalty_report')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['user_account.id'], name=op.f('fk_penalty_appeal_submitted_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_penalty_appeal')),
    sa.UniqueConstraint('report_id', name=op.f('uq_penalty_appeal_report_id'))
    )

    op.create_table('penalty_appeal_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appeal_id', sa.Integer(), nullable=False),
    sa.Column('original_name', sa.String(length=200), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('size_bytes > 0', name=op.f('ck_penalty_appeal_file_size_positive')),
    sa.ForeignKeyConstraint(['appeal_id'], ['penalty_appeal.id'], name=op.f('fk_penalty_appeal_file_appeal_id_penalty_appeal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_penalty_appeal_file')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_penalty_appeal_file_stored_name'))
    )
    with op.batch_alter_table('penalty_appeal_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_penalty_appeal_file_appeal_id'), ['appeal_id'], unique=False)

    # Billing: a purchase-programme award ended by its provider's removal.
    op.create_table('programme_award_ending',
    sa.Column('award_id', sa.Integer(), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['award_id'], ['programme_award.id'], name=op.f('fk_programme_award_ending_award_id_programme_award')),
    sa.PrimaryKeyConstraint('award_id', name=op.f('pk_programme_award_ending'))
    )


def downgrade():
    op.drop_table('programme_award_ending')
    with op.batch_alter_table('penalty_appeal_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_penalty_appeal_file_appeal_id'))
    op.drop_table('penalty_appeal_file')
    op.drop_table('penalty_appeal')
    with op.batch_alter_table('penalty_review', schema=None) as batch_op:
        batch_op.drop_index('ix_penalty_review_deadline')
    op.drop_table('penalty_review')
    # Plain DROP COLUMN (SQLite 3.35+): no rebuild of a table others point at.
    op.drop_column('provider', 'reregistration_barred_until')
    op.drop_column('provider', 'removed_at')
    op.drop_column('provider', 'suspended_until')
