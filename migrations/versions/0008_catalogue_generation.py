"""catalogue generation: one counter that moves with every catalogue change; index on suspension ends;
one- and two-character search grams (PostgreSQL)

Revision ID: 0008_catalogue_generation
Revises: 0007_sanctions
Create Date: 2026-11-22 09:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_catalogue_generation'
down_revision = '0007_sanctions'
branch_labels = None
depends_on = None

GRAMS_FUNCTION = """
CREATE FUNCTION linli_search_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT gram), '{}') FROM (
    SELECT substr(t, i, 1) AS gram FROM generate_series(1, char_length(t)) AS i
    UNION ALL
    SELECT substr(t, i, 2) FROM generate_series(1, char_length(t) - 1) AS i
  ) AS grams
$$
"""


def upgrade():
    table = op.create_table('catalogue_generation',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_catalogue_generation_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_generation'))
    )
    op.bulk_insert(table, [{'id': 1, 'value': 0}])
    # The catalogue cache asks when the next suspension lifts itself.
    op.create_index(op.f('ix_provider_suspended_until'), 'provider', ['suspended_until'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # pg_trgm cannot index a one- or two-character term (most Chinese service
        # words have two): index every character and character pair of the text.
        op.execute(GRAMS_FUNCTION)
        op.execute('CREATE INDEX ix_listing_search_grams ON listing USING gin (linli_search_grams(search_text))')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX ix_listing_search_grams')
        op.execute('DROP FUNCTION linli_search_grams(text)')
    op.drop_index(op.f('ix_provider_suspended_until'), table_name='provider')
    op.drop_table('catalogue_generation')
