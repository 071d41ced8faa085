"""grids: the grid tree of GB/T 34300-2017 (street → community → grid → micro-grid →
household), residents' households, grid workers and their assignments

Revision ID: 0031_grids
Revises: 0026_listing_photos
Create Date: 2026-12-05 09:00:00

``community`` gains ``street_id`` and ``user_account`` gains ``household_id`` (both
nullable).  Existing communities are placed under one street per district (named as the
district, which the demo and the CLI fill with the street's name already, e.g.
淄川区般阳路街道); an official renames or re-places them.  The role CHECK gains
``grid_worker`` as 0022 widened it for ``evaluator``: SQLite's stored schema is edited
(``user_account`` is referred to by most tables and is not rebuilt), PostgreSQL's CHECK
is replaced.  The downgrade fails while a grid-worker account exists.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0031_grids'
down_revision = '0026_listing_photos'
branch_labels = None
depends_on = None

OLD_ROLES = "'resident', 'provider_staff', 'official', 'admin', 'evaluator'"
NEW_ROLES = OLD_ROLES + ", 'grid_worker'"
TOP = "parent_id IS NULL"
MICRO = "parent_id IS NOT NULL"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _sqlite_replace_check(old: str, new: str) -> None:
    bind = op.get_bind()
    table_sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'user_account'").scalar_one()
    if table_sql.count(f'({old})') != 1:
        raise RuntimeError('user_account: the role CHECK is not as expected')
    version = bind.exec_driver_sql('PRAGMA schema_version').scalar_one()
    bind.exec_driver_sql('PRAGMA writable_schema = ON')
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'user_account'",
                         (table_sql.replace(f'({old})', f'({new})'),))
    bind.exec_driver_sql(f'PRAGMA schema_version = {version + 1}')
    bind.exec_driver_sql('PRAGMA writable_schema = OFF')


def _postgres_replace_check(roles: str) -> None:
    op.execute('ALTER TABLE user_account DROP CONSTRAINT ck_user_account_user_role')
    op.execute(f'ALTER TABLE user_account ADD CONSTRAINT ck_user_account_user_role CHECK (role IN ({roles}))')


def _partial(name: str, columns: list[str], where: str) -> None:
    op.create_index(name, 'grid', columns, unique=True, sqlite_where=sa.text(where),
                    postgresql_where=sa.text(where))


def upgrade():
    op.create_table('street',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('district', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_street')),
    sa.UniqueConstraint('code', name=op.f('uq_street_code')),
    sa.UniqueConstraint('district', 'name', name=op.f('uq_street_district_name'))
    )
    op.create_table('grid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_grid_community_id_community')),
    sa.ForeignKeyConstraint(['parent_id', 'community_id'], ['grid.id', 'grid.community_id'],
                            name='fk_grid_parent_same_community'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid')),
    sa.UniqueConstraint('id', 'community_id', name=op.f('uq_grid_id_community_id'))
    )
    op.create_index(op.f('ix_grid_community_id'), 'grid', ['community_id'], unique=False)
    op.create_index('ix_grid_parent_id', 'grid', ['parent_id'], unique=False)
    _partial('uq_grid_community_code', ['community_id', 'code'], TOP)
    _partial('uq_grid_community_name', ['community_id', 'name'], TOP)
    _partial('uq_grid_parent_code', ['parent_id', 'code'], MICRO)
    _partial('uq_grid_parent_name', ['parent_id', 'name'], MICRO)
    op.create_table('household',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_household_community_id_community')),
    sa.ForeignKeyConstraint(['grid_id', 'community_id'], ['grid.id', 'grid.community_id'],
                            name='fk_household_grid_same_community'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household')),
    sa.UniqueConstraint('community_id', 'code', name=op.f('uq_household_community_id_code'))
    )
    op.create_index(op.f('ix_household_grid_id'), 'household', ['grid_id'], unique=False)
    op.create_table('grid_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('assigned_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('valid_until IS NULL OR valid_until >= valid_from',
                       name=op.f('ck_grid_assignment_period_in_order')),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['user_account.id'],
                            name=op.f('fk_grid_assignment_assigned_by_id_user_account')),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], name=op.f('fk_grid_assignment_grid_id_grid')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_grid_assignment_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_assignment'))
    )
    op.create_index(op.f('ix_grid_assignment_grid_id'), 'grid_assignment', ['grid_id'], unique=False)
    op.create_index('ix_grid_assignment_user_id_valid_from', 'grid_assignment', ['user_id', 'valid_from'],
                    unique=False)

    if _sqlite():
        # Rebuilding community or user_account (batch mode) would drop the tables that refer
        # to them; SQLite adds a column in place, with its foreign key inline.
        op.execute("ALTER TABLE community ADD COLUMN street_id INTEGER "
                   "CONSTRAINT fk_community_street_id_street REFERENCES street (id)")
        op.execute("ALTER TABLE user_account ADD COLUMN household_id INTEGER "
                   "CONSTRAINT fk_user_account_household_id_household REFERENCES household (id)")
        _sqlite_replace_check(OLD_ROLES, NEW_ROLES)
    else:
        op.add_column('community', sa.Column('street_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_community_street_id_street'), 'community', 'street', ['street_id'], ['id'])
        op.add_column('user_account', sa.Column('household_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_user_account_household_id_household'), 'user_account', 'household',
                              ['household_id'], ['id'])
        _postgres_replace_check(NEW_ROLES)
    op.create_index(op.f('ix_community_street_id'), 'community', ['street_id'], unique=False)
    op.create_index(op.f('ix_user_account_household_id'), 'user_account', ['household_id'], unique=False)

    # Existing communities: one street per district, named as the district.
    bind = op.get_bind()
    districts = [row[0] for row in bind.execute(sa.text("SELECT DISTINCT district FROM community ORDER BY district"))]
    for number, district in enumerate(districts, start=1):
        bind.execute(sa.text("INSERT INTO street (code, name, district, created_at) "
                             "VALUES (:code, :name, :district, CURRENT_TIMESTAMP)"),
                     {"code": f"street-{number}", "name": district, "district": district})
        bind.execute(sa.text("UPDATE community SET street_id = (SELECT id FROM street WHERE code = :code) "
                             "WHERE district = :district"), {"code": f"street-{number}", "district": district})


def downgrade():
    bind = op.get_bind()
    if bind.exec_driver_sql("SELECT count(*) FROM user_account WHERE role = 'grid_worker'").scalar_one():
        raise RuntimeError('grid-worker accounts exist: remove them before downgrading')
    op.drop_index(op.f('ix_user_account_household_id'), table_name='user_account')
    op.drop_index(op.f('ix_community_street_id'), table_name='community')
    if _sqlite():
        _sqlite_replace_check(NEW_ROLES, OLD_ROLES)
        # SQLite 3.35+ drops a column in place once no index names it (its inline
        # foreign key goes with it).
        op.execute("ALTER TABLE user_account DROP COLUMN household_id")
        op.execute("ALTER TABLE community DROP COLUMN street_id")
    else:
        _postgres_replace_check(OLD_ROLES)
        op.drop_constraint(op.f('fk_user_account_household_id_household'), 'user_account', type_='foreignkey')
        op.drop_column('user_account', 'household_id')
        op.drop_constraint(op.f('fk_community_street_id_street'), 'community', type_='foreignkey')
        op.drop_column('community', 'street_id')
    op.drop_table('grid_assignment')
    op.drop_table('household')
    for name in ('uq_grid_parent_name', 'uq_grid_parent_code', 'uq_grid_community_name', 'uq_grid_community_code',
                 'ix_grid_parent_id', op.f('ix_grid_community_id')):
        op.drop_index(name, table_name='grid')
    op.drop_table('grid')
    op.drop_table('street')
