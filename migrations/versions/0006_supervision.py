"""supervision rule sets, exclusions, evaluation runs, snapshots, penalty reports

Revision ID: 0006_supervision
Revises: 0005_subsidies
Create Date: 2026-11-22 06:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0006_supervision'
down_revision = '0005_subsidies'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
