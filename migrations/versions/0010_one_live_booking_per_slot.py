"""one live booking per resident and slot: a partial unique index (a double submit makes one booking)

Revision ID: 0010_one_live_booking_per_slot
Revises: 0008_catalogue_generation
Create Date: 2026-12-03 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_one_live_booking_per_slot'
down_revision = '0009_booking_funding'
branch_labels = None
depends_on = None

# providers.bookings.models.LIVE_STATUSES_SQL (the open statuses), as of this revision.
LIVE = "status IN ('requested', 'accepted', 'in_service')"


def upgrade():
    # A duplicate made before this revision must be closed through the application (its
    # payment is then cancelled or refunded); say which ones instead of guessing here.
    duplicates = op.get_bind().execute(sa.text(
        f"SELECT b.id FROM booking b WHERE b.{LIVE} AND EXISTS ("
        f"SELECT 1 FROM booking o WHERE o.resident_id = b.resident_id AND o.slot_id = b.slot_id "
        f"AND o.{LIVE} AND o.id < b.id) ORDER BY b.id"
    )).scalars().all()
    if duplicates:
        raise RuntimeError(
            "residents hold more than one live booking of the same slot; cancel the later ones "
            f"(bookings {', '.join(map(str, duplicates))}) and migrate again")
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.create_index('uq_booking_one_live_per_slot', ['resident_id', 'slot_id'], unique=True,
                              sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))


def downgrade():
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.drop_index('uq_booking_one_live_per_slot', sqlite_where=sa.text(LIVE),
                            postgresql_where=sa.text(LIVE))
