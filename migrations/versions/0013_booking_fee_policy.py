"""booking fee policy: the listing's payment policy fixed on each resident-paid booking when
it is made (when it is paid, the late-cancellation / no-show fee it may keep)

Revision ID: 0013_booking_fee_policy
Revises: 0011_credit_code_bar
Create Date: 2026-12-03 09:40:00

Existing resident-paid bookings are given the policy their listing has now (or the
defaults, pay at acceptance and 20 %): the best record there is of the terms they
were made under.  Programme-funded bookings have no resident payment and no row.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_booking_fee_policy'
down_revision = '0012_provider_changes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('booking_fee_policy',
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('pay_at', sa.Enum('booking', 'acceptance', name='booking_fee_pay_at', native_enum=False, create_constraint=True, length=14), nullable=False),
    sa.Column('late_cancel_fee_percent', sa.SmallInteger(), nullable=False),
    sa.Column('fixed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('late_cancel_fee_percent BETWEEN 0 AND 100', name=op.f('ck_booking_fee_policy_fee_percent_valid')),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_booking_fee_policy_booking_id_booking')),
    sa.PrimaryKeyConstraint('booking_id', name=op.f('pk_booking_fee_policy'))
    )
    op.execute(
        "INSERT INTO booking_fee_policy (booking_id, pay_at, late_cancel_fee_percent, fixed_at) "
        "SELECT b.id, COALESCE(p.pay_at, 'acceptance'), COALESCE(p.late_cancel_fee_percent, 20), b.requested_at "
        "FROM booking b LEFT JOIN payment_policy p ON p.listing_id = b.listing_id "
        "WHERE b.funding = 'resident'"
    )


def downgrade():
    op.drop_table('booking_fee_policy')
