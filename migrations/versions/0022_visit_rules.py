"""visit rules: the rule set's proof-of-service thresholds (verified-visit rate, not-served
findings, flagged-visit rate) and a new rule-set version carrying them

Revision ID: 0022_visit_rules
Revises: 0016_visit_records
Create Date: 2026-12-04 02:30:00

The new columns have server defaults (the Linli defaults), so existing versions keep a
value.  Then version N+1 is added: the latest version's values with the new defaults
(a new version, because an old one is never edited; ratings/supervision/rules.py).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_visit_rules'
down_revision = '0016_visit_records'
branch_labels = None
depends_on = None


# Rates in basis points (9000 = 90.00 %).
NEW_DEFAULTS = dict(verified_rate_below_bp=9000, verified_min_visits=10, not_served_min_count=1,
                    flagged_rate_bp=1000, flagged_min_count=5)
NOTE = ('Proof of service: verified-visit rate below 90 % with at least 10 visits; any not-served finding; '
        'flagged-visit rate above 10 % with at least 5 flagged visits')
# The values copied from the latest version (the columns of 0006_supervision).
COPIED = (
    'evaluation_day', 'timezone', 'window_days', 'long_window_days', 'min_finished_bookings', 'new_provider_days',
    'late_rate_bp', 'late_min_count', 'cancellation_rate_bp', 'cancellation_min_count', 'expired_rate_bp',
    'expired_min_count', 'complaint_min_count', 'rating_below_x100', 'rating_min_count',
    'expired_document_min_count', 'excellent_rating_x100', 'good_rating_x100', 'unqualified_breaches',
    'warning_percent', 'ladder_days',
)


def upgrade():
    with op.batch_alter_table('supervision_rule_set', schema=None) as batch_op:
        for name, default in NEW_DEFAULTS.items():
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default=sa.text(str(default)), nullable=False))
        batch_op.create_check_constraint(
            op.f('ck_supervision_rule_set_visit_rates_valid'), 'verified_rate_below_bp BETWEEN 0 AND 10000 AND flagged_rate_bp BETWEEN 0 AND 10000')

    rule_set = sa.table('supervision_rule_set', *[
        sa.column(name) for name in ('version', 'note', 'created_at', *COPIED, *NEW_DEFAULTS)])
    latest = sa.select(sa.func.max(rule_set.c.version)).scalar_subquery()
    op.execute(rule_set.insert().from_select(
        ['version', 'note', 'created_at', *COPIED, *NEW_DEFAULTS],
        sa.select(rule_set.c.version + 1, sa.literal(NOTE), sa.func.now(), *[rule_set.c[name] for name in COPIED],
                  *[sa.literal(value) for value in NEW_DEFAULTS.values()])
        .where(rule_set.c.version == latest),
    ))


def downgrade():
    rule_set = sa.table('supervision_rule_set', sa.column('id'), sa.column('note'))
    run = sa.table('supervision_run', sa.column('rule_set_id'))
    op.execute(rule_set.delete().where(rule_set.c.note == NOTE, rule_set.c.id.not_in(sa.select(run.c.rule_set_id))))
    with op.batch_alter_table('supervision_rule_set', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_supervision_rule_set_visit_rates_valid'), type_='check')
        for name in reversed(NEW_DEFAULTS):
            batch_op.drop_column(name)
