"""visit rules: the rule set's proof-of-service thresholds (verified-visit rate, not-served
findings, flagged-visit rate)

Revision ID: 0021_visit_rules
Revises: 0020_rule_publication
Create Date: 2026-12-04 02:30:00

The new columns have server defaults (the Linli defaults), so every version has a value.
No version is added here: a change of the thresholds is a new version drafted and
published with its comment period (ratings/supervision/publication.py).  The figures
judge only visits recorded under proof of service (ratings/scorecard_visits.py), so a
version in force before this migration judges no visit served before it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021_visit_rules'
down_revision = '0020_rule_publication'
branch_labels = None
depends_on = None


# Rates in basis points (9000 = 90.00 %).
NEW_DEFAULTS = dict(verified_rate_below_bp=9000, verified_min_visits=10, not_served_min_count=1,
                    flagged_rate_bp=1000, flagged_min_count=5)


def upgrade():
    with op.batch_alter_table('supervision_rule_set', schema=None) as batch_op:
        for name, default in NEW_DEFAULTS.items():
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default=sa.text(str(default)), nullable=False))
        batch_op.create_check_constraint(
            op.f('ck_supervision_rule_set_visit_rates_valid'), 'verified_rate_below_bp BETWEEN 0 AND 10000 AND flagged_rate_bp BETWEEN 0 AND 10000')

def downgrade():
    with op.batch_alter_table('supervision_rule_set', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_supervision_rule_set_visit_rates_valid'), type_='check')
        for name in reversed(NEW_DEFAULTS):
            batch_op.drop_column(name)
