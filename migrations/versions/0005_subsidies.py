"""subsidy policies, projects, claims, objections, operating obligations

Revision ID: 0005_subsidies
Revises: 0004_programmes
Create Date: 2026-11-22 06:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0005_subsidies'
down_revision = '0004_programmes'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
