"""booking funding: who pays for a booking, stored on it; settlement sources with a CHECK;
the late-cancellation fee kept, stored on the refund

Revision ID: 0009_booking_funding
Revises: 0008_catalogue_generation
Create Date: 2026-12-03 09:30:00

Backfills: a booking with an entitlement use is programme-funded by that use's award
(its pending payments, which the pay page used to create by mistake, are cancelled);
every other booking is resident-paid.  Each kept late-cancellation fee (the ledger's
``late_cancel_fee`` transactions, key ``late_fee:<payment id>``) is stored on the
refund made with it, or on a refund of 0 when the provider kept everything that was left.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_booking_funding'
down_revision = '0008_catalogue_generation'
branch_labels = None
depends_on = None

FUNDING = ('resident', 'programme')
SOURCES = ('gateway', 'offline', 'direct', 'late_fee', 'late_fee_offline', 'programme')

# What each late_cancel_fee transaction credited to the provider's payable, by payment.
KEPT_FEES = """
SELECT t.idempotency_key AS key, t.at AS at, -sum(e.amount_fen) AS fee
FROM ledger_transaction t
JOIN ledger_entry e ON e.transaction_id = t.id
JOIN ledger_account a ON a.id = e.account_id
WHERE t.kind = 'late_cancel_fee' AND a.code LIKE 'provider_payable:%'
GROUP BY t.id, t.idempotency_key, t.at
"""


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


FUNDING_NAMES_AWARD = ("(funding = 'programme' AND programme_award_id IS NOT NULL)"
                       " OR (funding = 'resident' AND programme_award_id IS NULL)")


def _sqlite():
    return op.get_bind().dialect.name == 'sqlite'


def upgrade():
    if _sqlite():
        # Rebuilding booking (batch mode) would drop a table that other rows refer to; SQLite
        # adds both columns in place instead, with their constraints inline.
        op.execute("ALTER TABLE booking ADD COLUMN funding VARCHAR(13) DEFAULT 'resident' NOT NULL "
                   f"CONSTRAINT ck_booking_booking_funding CHECK ({_in('funding', FUNDING)})")
        op.execute("ALTER TABLE booking ADD COLUMN programme_award_id INTEGER "
                   "CONSTRAINT fk_booking_programme_award_id_programme_award REFERENCES programme_award (id) "
                   f"CONSTRAINT ck_booking_funding_names_award CHECK ({FUNDING_NAMES_AWARD})")
    else:
        op.add_column('booking', sa.Column('funding', sa.Enum(*FUNDING, name='booking_funding', native_enum=False,
                                                              create_constraint=True, length=13),
                                           server_default='resident', nullable=False))
        op.add_column('booking', sa.Column('programme_award_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_booking_programme_award_id_programme_award'), 'booking',
                              'programme_award', ['programme_award_id'], ['id'])
    op.create_index(op.f('ix_booking_programme_award_id'), 'booking', ['programme_award_id'], unique=False)
    op.execute("""
        UPDATE booking SET funding = 'programme',
               programme_award_id = (SELECT u.award_id FROM entitlement_use u WHERE u.booking_id = booking.id)
        WHERE EXISTS (SELECT 1 FROM entitlement_use u WHERE u.booking_id = booking.id)
    """)
    op.execute("""
        UPDATE payment SET status = 'cancelled'
        WHERE status = 'pending'
          AND booking_id IN (SELECT id FROM booking WHERE funding = 'programme')
    """)
    if not _sqlite():
        op.create_check_constraint(op.f('ck_booking_funding_names_award'), 'booking', FUNDING_NAMES_AWARD)

    with op.batch_alter_table('settlement_line', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_settlement_line_settlement_source'), _in('source', SOURCES))

    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.add_column(sa.Column('late_fee_fen', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_constraint(op.f('ck_refund_amount_positive'), type_='check')
        batch_op.create_check_constraint(op.f('ck_refund_amounts_nonnegative'),
                                         'amount_fen >= 0 AND late_fee_fen >= 0')
        batch_op.create_check_constraint(op.f('ck_refund_refunds_or_keeps'), 'amount_fen > 0 OR late_fee_fen > 0')
    bind = op.get_bind()
    refund = sa.table('refund', sa.column('id'), sa.column('payment_id'), sa.column('amount_fen'),
                      sa.column('late_fee_fen'), sa.column('status'), sa.column('reason'),
                      sa.column('idempotency_key'), sa.column('created_at'), sa.column('succeeded_at'))
    for key, at, fee in bind.execute(sa.text(KEPT_FEES)).all():
        payment_id = int(key.split(':', 1)[1])
        # The refund made with the fee is the payment's first one that says so.
        made_with = bind.execute(sa.select(sa.func.min(refund.c.id)).where(
            refund.c.payment_id == payment_id, refund.c.reason.like('%fen kept'))).scalar()
        if made_with is not None:
            bind.execute(refund.update().where(refund.c.id == made_with).values(late_fee_fen=int(fee)))
        else:
            bind.execute(refund.insert().values(
                payment_id=payment_id, amount_fen=0, late_fee_fen=int(fee), status='succeeded',
                reason=f'fee {int(fee)} fen kept', idempotency_key=key, created_at=at, succeeded_at=at))


def downgrade():
    op.execute('DELETE FROM refund WHERE amount_fen = 0')
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_refund_refunds_or_keeps'), type_='check')
        batch_op.drop_constraint(op.f('ck_refund_amounts_nonnegative'), type_='check')
        batch_op.create_check_constraint(op.f('ck_refund_amount_positive'), 'amount_fen > 0')
        batch_op.drop_column('late_fee_fen')
    with op.batch_alter_table('settlement_line', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_settlement_line_settlement_source'), type_='check')
    # On SQLite this rebuilds booking, which needs the rows that refer to bookings out of
    # the way (or PRAGMA foreign_keys=OFF around the downgrade).
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_programme_award_id'))
        batch_op.drop_constraint(op.f('ck_booking_funding_names_award'), type_='check')
        batch_op.drop_constraint(op.f('ck_booking_booking_funding'), type_='check')
        if not _sqlite():  # SQLite added it inline (unnamed when reflected): it goes with its column
            batch_op.drop_constraint(batch_op.f('fk_booking_programme_award_id_programme_award'), type_='foreignkey')
        batch_op.drop_column('programme_award_id')
        batch_op.drop_column('funding')
