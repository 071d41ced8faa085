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


PROJECT_TYPES = ('ev_charger_dc', 'ev_charger_ac', 'access_control', 'cctv', 'delivery_locker',
                 'drinking_water', 'elderly_renovation')

# Linli defaults (DOMAIN.md, build-then-subsidise): 550 CNY/kW DC and 150 CNY/kW AC
# (Guangzhou 2018), 30 % of verified investment, category caps, 5-year obligation.
# (type, unit, rate fen per unit, share %, category cap fen)
DEFAULT_POLICIES = [
    ('ev_charger_dc', 'kW', 55_000, '30.00', 20_000_000),
    ('ev_charger_ac', 'kW', 15_000, '30.00', 10_000_000),
    ('access_control', 'entrance', 200_000, '30.00', 10_000_000),
    ('cctv', 'camera', 50_000, '30.00', 10_000_000),
    ('delivery_locker', 'locker', 500_000, '30.00', 5_000_000),
    ('drinking_water', 'machine', 300_000, '30.00', 5_000_000),
    ('elderly_renovation', 'household', 300_000, '30.00', 15_000_000),
]
# Provincial smart-community awards (seeds/000): benchmark <= 1,000,000 CNY; growth, basic <= 100,000 CNY.
DEFAULT_TIER_CAPS = [('benchmark', 100_000_000), ('growth', 10_000_000), ('basic', 10_000_000)]


VERSIONED = ("subsidy_policy", "subsidy_tier_cap")


def _versions_are_immutable():
    """A policy or tier-cap version is never changed or deleted: an edit adds a version."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION linli_subsidy_version_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'subsidy policy versions are immutable: add a new version'; END $$"
        )
    for table in VERSIONED:
        for verb in ("UPDATE", "DELETE"):
            name = f"{table}_no_{verb.lower()}"
            if dialect == "sqlite":
                op.execute(f"CREATE TRIGGER {name} BEFORE {verb} ON {table} BEGIN SELECT "
                           f"RAISE(ABORT, 'subsidy policy versions are immutable: add a new version'); END")
            elif dialect == "postgresql":
                op.execute(f"CREATE TRIGGER {name} BEFORE {verb} ON {table} "
                           f"FOR EACH ROW EXECUTE FUNCTION linli_subsidy_version_immutable()")


def _project_type(name='subsidy_project_type'):
    return sa.Enum(*PROJECT_TYPES, name=name, native_enum=False, create_constraint=True, length=22)


def upgrade():
    policy = op.create_table('subsidy_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_type', _project_type(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('rate_fen', sa.BigInteger(), nullable=False),
    sa.Column('share_percent', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('category_cap_fen', sa.BigInteger(), nullable=False),
    sa.Column('obligation_years', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('version >= 1', name=op.f('ck_subsidy_policy_version_positive')),
    sa.CheckConstraint('rate_fen > 0', name=op.f('ck_subsidy_policy_rate_positive')),
    sa.CheckConstraint('share_percent > 0 AND share_percent <= 100', name=op.f('ck_subsidy_policy_share_valid')),
    sa.CheckConstraint('category_cap_fen > 0', name=op.f('ck_subsidy_policy_category_cap_positive')),
    sa.CheckConstraint('obligation_years BETWEEN 1 AND 20', name=op.f('ck_subsidy_policy_obligation_valid')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_subsidy_policy_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subsidy_policy')),
    sa.UniqueConstraint('project_type', 'version', name=op.f('uq_subsidy_policy_project_type_version'))
    )
    tier_cap = op.create_table('subsidy_tier_cap',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tier', sa.Enum('benchmark', 'growth', 'basic', name='subsidy_cap_tier', native_enum=False, create_constraint=True, length=13), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('cap_fen', sa.BigInteger(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('version >= 1', name=op.f('ck_subsidy_tier_cap_version_positive')),
    sa.CheckConstraint('cap_fen >= 0', name=op.f('ck_subsidy_tier_cap_cap_nonnegative')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_subsidy_tier_cap_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subsidy_tier_cap')),
    sa.UniqueConstraint('tier', 'version', name=op.f('uq_subsidy_tier_cap_tier_version'))
    )
    op.create_table('subsidy_project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('project_type', _project_type(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('planned_quantity', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('planned_investment_fen', sa.BigInteger(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('planned_quantity > 0', name=op.f('ck_subsidy_project_quantity_positive')),
    sa.CheckConstraint('planned_investment_fen > 0', name=op.f('ck_subsidy_project_investment_positive')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_subsidy_project_community_id_community')),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_subsidy_project_provider_id_provider')),
    sa.ForeignKeyConstraint(['registered_by_id'], ['user_account.id'], name=op.f('fk_subsidy_project_registered_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subsidy_project'))
    )
    with op.batch_alter_table('subsidy_project', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subsidy_project_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subsidy_project_provider_id'), ['provider_id'], unique=False)

    op.create_table('subsidy_community_year',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('awarded_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('awarded_fen >= 0', name=op.f('ck_subsidy_community_year_awarded_nonnegative')),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_subsidy_community_year_community_id_community')),
    sa.PrimaryKeyConstraint('community_id', 'year', name=op.f('pk_subsidy_community_year'))
    )
    op.create_table('subsidy_claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('submitted', 'verified', 'notice', 'objected', 'disbursed', 'rejected', name='subsidy_claim_status', native_enum=False, create_constraint=True, length=13), nullable=False),
    sa.Column('accepted_on', sa.Date(), nullable=False),
    sa.Column('verified_quantity', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('verified_investment_fen', sa.BigInteger(), nullable=False),
    sa.Column('requested_fen', sa.BigInteger(), nullable=True),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('tier_cap_id', sa.Integer(), nullable=False),
    sa.Column('award_year', sa.Integer(), nullable=False),
    sa.Column('rate_term_fen', sa.BigInteger(), nullable=False),
    sa.Column('share_term_fen', sa.BigInteger(), nullable=False),
    sa.Column('category_cap_fen', sa.BigInteger(), nullable=False),
    sa.Column('tier_room_fen', sa.BigInteger(), nullable=False),
    sa.Column('eligible_fen', sa.BigInteger(), nullable=False),
    sa.Column('binding_term', sa.String(length=20), nullable=False),
    sa.Column('approved_fen', sa.BigInteger(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('filed_by_id', sa.Integer(), nullable=False),
    sa.Column('district_official_id', sa.Integer(), nullable=True),
    sa.Column('district_decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('district_note', sa.Text(), nullable=True),
    sa.Column('city_official_id', sa.Integer(), nullable=True),
    sa.Column('city_decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notice_ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disbursed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('district_official_id IS NULL OR city_official_id IS NULL OR district_official_id <> city_official_id', name=op.f('ck_subsidy_claim_two_officials')),
    sa.CheckConstraint('verified_quantity > 0', name=op.f('ck_subsidy_claim_quantity_positive')),
    sa.CheckConstraint('verified_investment_fen > 0', name=op.f('ck_subsidy_claim_investment_positive')),
    sa.CheckConstraint('eligible_fen >= 0', name=op.f('ck_subsidy_claim_eligible_nonnegative')),
    sa.CheckConstraint('approved_fen IS NULL OR (approved_fen > 0 AND approved_fen <= eligible_fen)', name=op.f('ck_subsidy_claim_approved_within_eligible')),
    sa.ForeignKeyConstraint(['city_official_id'], ['user_account.id'], name=op.f('fk_subsidy_claim_city_official_id_user_account')),
    sa.ForeignKeyConstraint(['district_official_id'], ['user_account.id'], name=op.f('fk_subsidy_claim_district_official_id_user_account')),
    sa.ForeignKeyConstraint(['filed_by_id'], ['user_account.id'], name=op.f('fk_subsidy_claim_filed_by_id_user_account')),
    sa.ForeignKeyConstraint(['policy_id'], ['subsidy_policy.id'], name=op.f('fk_subsidy_claim_policy_id_subsidy_policy')),
    sa.ForeignKeyConstraint(['project_id'], ['subsidy_project.id'], name=op.f('fk_subsidy_claim_project_id_subsidy_project')),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_subsidy_claim_provider_id_provider')),
    sa.ForeignKeyConstraint(['tier_cap_id'], ['subsidy_tier_cap.id'], name=op.f('fk_subsidy_claim_tier_cap_id_subsidy_tier_cap')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subsidy_claim')),
    sa.UniqueConstraint('project_id', name=op.f('uq_subsidy_claim_project_id'))
    )
    with op.batch_alter_table('subsidy_claim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subsidy_claim_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index('ix_subsidy_claim_status', ['status', 'notice_ends_at'], unique=False)

    op.create_table('subsidy_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('acceptance_certificate', 'invoice', 'photo', name='subsidy_evidence_kind', native_enum=False, create_constraint=True, length=26), nullable=False),
    sa.Column('original_name', sa.String(length=200), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('size_bytes > 0', name=op.f('ck_subsidy_evidence_size_positive')),
    sa.ForeignKeyConstraint(['claim_id'], ['subsidy_claim.id'], name=op.f('fk_subsidy_evidence_claim_id_subsidy_claim')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_subsidy_evidence_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subsidy_evidence')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_subsidy_evidence_stored_name'))
    )
    with op.batch_alter_table('subsidy_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subsidy_evidence_claim_id'), ['claim_id'], unique=False)

    op.create_table('subsidy_objection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'upheld', 'dismissed', name='subsidy_objection_status', native_enum=False, create_constraint=True, length=13), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['claim_id'], ['subsidy_claim.id'], name=op.f('fk_subsidy_objection_claim_id_subsidy_claim')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['user_account.id'], name=op.f('fk_subsidy_objection_resolved_by_id_user_account')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_subsidy_objection_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subsidy_objection')),
    sa.UniqueConstraint('claim_id', 'user_id', name=op.f('uq_subsidy_objection_claim_id_user_id'))
    )
    with op.batch_alter_table('subsidy_objection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subsidy_objection_claim_id'), ['claim_id'], unique=False)

    op.create_table('subsidy_obligation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('running', 'stopped_early', name='subsidy_obligation_status', native_enum=False, create_constraint=True, length=17), nullable=False),
    sa.Column('stopped_on', sa.Date(), nullable=True),
    sa.Column('stop_reason', sa.Text(), nullable=True),
    sa.Column('clawback_percent', sa.Integer(), nullable=True),
    sa.Column('clawback_fen', sa.BigInteger(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('ends_on > starts_on', name=op.f('ck_subsidy_obligation_period_valid')),
    sa.CheckConstraint('clawback_fen IS NULL OR clawback_fen >= 0', name=op.f('ck_subsidy_obligation_clawback_nonnegative')),
    sa.ForeignKeyConstraint(['claim_id'], ['subsidy_claim.id'], name=op.f('fk_subsidy_obligation_claim_id_subsidy_claim')),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_subsidy_obligation_provider_id_provider')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_subsidy_obligation_recorded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subsidy_obligation')),
    sa.UniqueConstraint('claim_id', name=op.f('uq_subsidy_obligation_claim_id'))
    )
    with op.batch_alter_table('subsidy_obligation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subsidy_obligation_provider_id'), ['provider_id'], unique=False)

    # Version 1 of every policy and tier cap (officials add versions; rows are never changed).
    from datetime import datetime, timezone
    from decimal import Decimal

    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    op.bulk_insert(policy, [
        {'project_type': t, 'version': 1, 'unit': unit, 'rate_fen': rate, 'share_percent': Decimal(share),
         'category_cap_fen': cap, 'obligation_years': 5, 'note': 'Linli default (DOMAIN.md)',
         'created_at': at, 'created_by_id': None}
        for t, unit, rate, share, cap in DEFAULT_POLICIES
    ])
    op.bulk_insert(tier_cap, [
        {'tier': tier, 'version': 1, 'cap_fen': cap, 'note': 'Provincial smart-community award cap',
         'created_at': at, 'created_by_id': None}
        for tier, cap in DEFAULT_TIER_CAPS
    ])
    _versions_are_immutable()
    # A disbursed subsidy is owed to the provider and paid with its next monthly settlement.
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subsidies_fen', sa.BigInteger(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('settlement', schema=None) as batch_op:
        batch_op.drop_column('subsidies_fen')
    dialect = op.get_bind().dialect.name
    for table in VERSIONED:
        for verb in ("update", "delete"):
            if dialect == "sqlite":
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
            elif dialect == "postgresql":
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb} ON {table}")
    with op.batch_alter_table('subsidy_obligation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subsidy_obligation_provider_id'))
    op.drop_table('subsidy_obligation')
    with op.batch_alter_table('subsidy_objection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subsidy_objection_claim_id'))
    op.drop_table('subsidy_objection')
    with op.batch_alter_table('subsidy_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subsidy_evidence_claim_id'))
    op.drop_table('subsidy_evidence')
    with op.batch_alter_table('subsidy_claim', schema=None) as batch_op:
        batch_op.drop_index('ix_subsidy_claim_status')
        batch_op.drop_index(batch_op.f('ix_subsidy_claim_provider_id'))
    op.drop_table('subsidy_claim')
    op.drop_table('subsidy_community_year')
    with op.batch_alter_table('subsidy_project', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subsidy_project_provider_id'))
        batch_op.drop_index(batch_op.f('ix_subsidy_project_community_id'))
    op.drop_table('subsidy_project')
    op.drop_table('subsidy_tier_cap')
    op.drop_table('subsidy_policy')
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS linli_subsidy_version_immutable()")
