"""carers: the provider's roster (carers, their qualifications), the qualification a
category requires, and the carer of each booking (one carer, one visit at a time)

Revision ID: 0024_carers
Revises: 0023_visit_money
Create Date: 2026-12-04 02:30:00

Existing bookings get no carer (they were accepted before rosters existed); the
exclusion constraint ignores a booking without one.  The home-care and medical
categories start requiring the certificate their work needs.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024_carers'
down_revision = '0023_visit_money'
branch_labels = None
depends_on = None

KINDS = ('elder_care', 'health', 'nurse', 'electrician')
KIND_CHECK = "required_qualification IN ({})".format(", ".join(f"'{k}'" for k in KINDS))
REQUIRED = {'home_care': 'elder_care', 'day_care': 'elder_care', 'home_medical': 'nurse',
            'meal_delivery': 'health'}
# A booking holds its carer from acceptance to the end of the visit: a cancelled, declined,
# expired or no-show booking frees them.
CARER_BUSY = "carer_id IS NOT NULL AND status IN ('accepted', 'in_service', 'completed')"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade():
    op.create_table('carer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('id_number_secret', sa.Text(), nullable=False),
    sa.Column('id_number_digest', sa.String(length=64), nullable=False),
    sa.Column('id_number_masked', sa.String(length=18), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_carer_provider_id_provider')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carer')),
    sa.UniqueConstraint('provider_id', 'id_number_digest', name=op.f('uq_carer_provider_id_id_number_digest'))
    )
    with op.batch_alter_table('carer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_carer_provider_id'), ['provider_id'], unique=False)

    op.create_table('carer_qualification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('carer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum(*KINDS, name='qualification_kind', native_enum=False, create_constraint=True, length=15), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['carer_id'], ['carer.id'], name=op.f('fk_carer_qualification_carer_id_carer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carer_qualification'))
    )
    with op.batch_alter_table('carer_qualification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_carer_qualification_carer_id'), ['carer_id'], unique=False)

    if _sqlite():
        # Rebuilding booking or service_category (batch mode) would drop tables other rows refer
        # to; SQLite adds the columns in place, with their constraints inline.
        op.execute("ALTER TABLE service_category ADD COLUMN required_qualification VARCHAR(15) "
                   f"CONSTRAINT ck_service_category_required_qualification CHECK ({KIND_CHECK})")
        op.execute("ALTER TABLE booking ADD COLUMN carer_id INTEGER "
                   "CONSTRAINT fk_booking_carer_id_carer REFERENCES carer (id)")
    else:
        op.add_column('service_category', sa.Column(
            'required_qualification', sa.Enum(*KINDS, name='required_qualification', native_enum=False,
                                              create_constraint=True, length=15), nullable=True))
        op.add_column('booking', sa.Column('carer_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_booking_carer_id_carer'), 'booking', 'carer', ['carer_id'], ['id'])
    op.create_index(op.f('ix_booking_carer_id'), 'booking', ['carer_id'], unique=False)
    if not _sqlite():
        # One carer is never in two visits at once: no two busy bookings of a carer have
        # overlapping [starts_at, ends_at) (back-to-back visits touch, they do not overlap).
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute("ALTER TABLE booking ADD CONSTRAINT ex_booking_carer_overlap EXCLUDE USING gist "
                   "(carer_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
                   f"WHERE ({CARER_BUSY})")
    category = sa.table('service_category', sa.column('code', sa.String), sa.column('required_qualification', sa.String))
    for code, kind in REQUIRED.items():
        op.execute(category.update().where(category.c.code == code).values(required_qualification=kind))


def downgrade():
    if not _sqlite():
        op.execute("ALTER TABLE booking DROP CONSTRAINT ex_booking_carer_overlap")
    op.drop_index(op.f('ix_booking_carer_id'), table_name='booking')
    if _sqlite():
        # SQLite (3.35+) drops a column that no index or constraint names in place.
        op.execute("ALTER TABLE booking DROP COLUMN carer_id")
        op.execute("ALTER TABLE service_category DROP COLUMN required_qualification")
    else:
        op.drop_constraint(op.f('fk_booking_carer_id_carer'), 'booking', type_='foreignkey')
        op.drop_column('booking', 'carer_id')
        op.drop_column('service_category', 'required_qualification')
    with op.batch_alter_table('carer_qualification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_carer_qualification_carer_id'))
    op.drop_table('carer_qualification')
    with op.batch_alter_table('carer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_carer_provider_id'))
    op.drop_table('carer')
