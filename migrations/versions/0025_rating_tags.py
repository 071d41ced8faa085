"""rating tags: the quick tags of a rating (fixed codes), and optional detailed scores

Revision ID: 0025_rating_tags
Revises: 0024_carers
Create Date: 2026-12-04 18:20:00

Only the overall score is required from now on: timeliness, quality and attitude may be
NULL (their CHECKs let NULL through).  Existing ratings keep all four scores; the public
average and the scorecard read ``overall`` as before.  Each quick tag chosen is one row of
``rating_tag`` (its codes are checked; a rating has a tag at most once).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025_rating_tags'
down_revision = '0024_carers'
branch_labels = None
depends_on = None

CODES = ('punctual', 'professional', 'friendly', 'patient', 'tidy', 'clear', 'late', 'careless', 'impolite')
TAG_CHECK = "code IN ({})".format(", ".join(f"'{code}'" for code in CODES))
DETAILS = ('timeliness', 'quality', 'attitude')


def upgrade():
    op.create_table('rating_tag',
    sa.Column('rating_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.CheckConstraint(TAG_CHECK, name=op.f('ck_rating_tag_code_known')),
    sa.ForeignKeyConstraint(['rating_id'], ['rating.id'], name=op.f('fk_rating_tag_rating_id_rating'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('rating_id', 'code', name=op.f('pk_rating_tag'))
    )
    with op.batch_alter_table('rating', schema=None) as batch_op:
        for column in DETAILS:
            batch_op.alter_column(column, existing_type=sa.SmallInteger(), nullable=True)


def downgrade():
    # A rating without detailed scores gets its overall score in each (the columns were required).
    for column in DETAILS:
        op.execute(f"UPDATE rating SET {column} = overall WHERE {column} IS NULL")
    with op.batch_alter_table('rating', schema=None) as batch_op:
        for column in DETAILS:
            batch_op.alter_column(column, existing_type=sa.SmallInteger(), nullable=False)
    op.drop_table('rating_tag')
