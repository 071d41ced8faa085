"""rule publication: rule-set versions are drafted, published with a comment period and take
effect on a date; comments on them; providers' requests for a human review of a grade

Revision ID: 0020_rule_publication
Revises: 0019_homes
Create Date: 2026-12-04 02:30:00

Every existing version was in use already, so it is backfilled as PUBLISHED on the day it
was saved (published_at = comment_until = effective_from = created_at).  SQLite cannot add a
table constraint to an existing table, but it takes column constraints in ADD COLUMN (checked
against the rows already there), so the publication column arrives with its CHECKs, after the
dates it checks are filled in.  On SQLite the column keeps its DEFAULT 'published' (SQLite
cannot drop a default; the application always writes the status); PostgreSQL drops it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_rule_publication'
down_revision = "0019_homes"
branch_labels = None
depends_on = None

TABLE = 'supervision_rule_set'
STATUSES = "'draft', 'published', 'withdrawn'"
ENUM_NAME = 'ck_supervision_rule_set_rule_publication'
DATES = ("publication <> 'published' OR (published_at IS NOT NULL AND comment_until IS NOT NULL "
         "AND effective_from IS NOT NULL AND comment_until >= published_at AND effective_from >= comment_until)")
DATES_NAME = 'ck_supervision_rule_set_publication_dates_valid'
DATES_COLUMNS = ('published_at', 'comment_until', 'effective_from', 'withdrawn_at')


def upgrade():
    for name in DATES_COLUMNS:
        op.add_column(TABLE, sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.execute(f'UPDATE {TABLE} SET published_at = created_at, comment_until = created_at, '
               'effective_from = created_at')
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f"ALTER TABLE {TABLE} ADD COLUMN publication VARCHAR(13) DEFAULT 'published' NOT NULL "
                   f"CONSTRAINT {ENUM_NAME} CHECK (publication IN ({STATUSES})) "
                   f"CONSTRAINT {DATES_NAME} CHECK ({DATES})")
    else:
        op.add_column(TABLE, sa.Column('publication', sa.String(13), server_default='published', nullable=False))
        op.alter_column(TABLE, 'publication', server_default=None)
        op.create_check_constraint(op.f(ENUM_NAME), TABLE, f'publication IN ({STATUSES})')
        op.create_check_constraint(op.f(DATES_NAME), TABLE, DATES)

    op.create_table('rule_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_set_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_rule_comment_author_id_user_account')),
    sa.ForeignKeyConstraint(['rule_set_id'], ['supervision_rule_set.id'], name=op.f('fk_rule_comment_rule_set_id_supervision_rule_set')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_comment'))
    )
    with op.batch_alter_table('rule_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_comment_rule_set_id'), ['rule_set_id'], unique=False)

    op.create_table('grade_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.Enum('upheld', 'changed', name='grade_review_outcome', native_enum=False, create_constraint=True, length=11), nullable=True),
    sa.Column('new_grade', sa.Enum('excellent', 'good', 'qualified', 'unqualified', 'new', name='grade_review_grade', native_enum=False, create_constraint=True, length=15), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.CheckConstraint('(decided_at IS NULL) = (outcome IS NULL)', name=op.f('ck_grade_review_decided_with_outcome')),
    sa.CheckConstraint("outcome IS NULL OR outcome <> 'changed' OR new_grade IS NOT NULL", name=op.f('ck_grade_review_change_names_grade')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_grade_review_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_grade_review_provider_id_provider')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_grade_review_requested_by_id_user_account')),
    sa.ForeignKeyConstraint(['snapshot_id'], ['supervision_snapshot.id'], name=op.f('fk_grade_review_snapshot_id_supervision_snapshot')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade_review'))
    )
    with op.batch_alter_table('grade_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grade_review_provider_id'), ['provider_id'], unique=False)
        # One open request per grade (the model's partial unique index).
        batch_op.create_index('uq_grade_review_open', ['snapshot_id'], unique=True,
                              sqlite_where=sa.text('decided_at IS NULL'),
                              postgresql_where=sa.text('decided_at IS NULL'))


def downgrade():
    op.drop_table('grade_review')
    op.drop_table('rule_comment')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f(DATES_NAME), TABLE, type_='check')
        op.drop_constraint(op.f(ENUM_NAME), TABLE, type_='check')
    op.drop_column(TABLE, 'publication')
    for name in DATES_COLUMNS:
        op.drop_column(TABLE, name)
