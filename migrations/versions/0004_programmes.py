"""purchase programmes, enrolments, awards, entitlement reservations

Revision ID: 0004_programmes
Revises: 0003_billing
Create Date: 2026-11-22 06:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0004_programmes'
down_revision = '0003_billing'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
