"""provider changes: an approved provider's change to what officials vetted (name, legal
representative, categories, documents) waits in ``provider_change`` for an official's review;
documents carry the change they came with until it is approved; a medical practice licence kind

Revision ID: 0012_provider_changes
Revises: 0011_credit_code_bar
Create Date: 2026-12-03 09:40:00

SQLite cannot alter a CHECK constraint: ``qualification_document`` is rebuilt (no table
refers to it) with the new document kind and the ``change_id`` column.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_provider_changes'
down_revision = '0011_credit_code_bar'
branch_labels = None
depends_on = None

OLD_KINDS = "'business_licence', 'service_qualification', 'health_certificate', 'liability_insurance', 'other'"
NEW_KINDS = OLD_KINDS + ", 'medical_licence'"
PENDING = "status = 'pending'"
FK = ('CONSTRAINT fk_qualification_document_change_id_provider_change '
      'FOREIGN KEY(change_id) REFERENCES provider_change (id)')
COLUMNS = ('id, provider_id, kind, original_name, stored_name, content_type, size_bytes, sha256, '
           'expires_on, uploaded_at, uploaded_by_id')


def _rebuild_sqlite_documents(change) -> None:
    """Re-create ``qualification_document`` from ``change(create_sql)``, keeping rows and indexes."""
    bind = op.get_bind()
    table_sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'qualification_document'").scalar_one()
    index_sqls = [sql for (sql,) in bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'qualification_document' "
        "AND sql IS NOT NULL")]
    bind.exec_driver_sql('ALTER TABLE qualification_document RENAME TO _old_qualification_document')
    bind.exec_driver_sql(change(table_sql))
    bind.exec_driver_sql(
        f'INSERT INTO qualification_document ({COLUMNS}) SELECT {COLUMNS} FROM _old_qualification_document')
    bind.exec_driver_sql('DROP TABLE _old_qualification_document')
    for sql in index_sqls:
        if 'ix_qualification_document_change_id' not in sql:
            bind.exec_driver_sql(sql)


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise RuntimeError(f'qualification_document: expected {old!r} once')
    return text.replace(old, new)


def _upgraded(table_sql: str) -> str:
    table_sql = _replace_once(table_sql, f'({OLD_KINDS})', f'({NEW_KINDS})')
    table_sql = _replace_once(table_sql, 'uploaded_by_id INTEGER NOT NULL, ',
                              'uploaded_by_id INTEGER NOT NULL, \n\tchange_id INTEGER, ')
    head, _, tail = table_sql.rpartition(')')
    return f'{head}, \n\t{FK}\n){tail}'


def _downgraded(table_sql: str) -> str:
    table_sql = _replace_once(table_sql, f'({NEW_KINDS})', f'({OLD_KINDS})')
    table_sql = _replace_once(table_sql, '\n\tchange_id INTEGER, ', '')
    return _replace_once(table_sql, f', \n\t{FK}\n', '\n')


def upgrade():
    op.create_table('provider_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'withdrawn', name='provider_change_status', native_enum=False, create_constraint=True, length=13), nullable=False),
    sa.Column('proposed', sa.JSON(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_provider_change_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], name=op.f('fk_provider_change_provider_id_provider')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_provider_change_requested_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_change'))
    )
    op.create_index(op.f('ix_provider_change_provider_id'), 'provider_change', ['provider_id'], unique=False)
    # One open request per provider (a second edit amends it).
    op.create_index('uq_provider_change_pending', 'provider_change', ['provider_id'], unique=True,
                    postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING))

    if op.get_bind().dialect.name == 'sqlite':
        _rebuild_sqlite_documents(_upgraded)
    else:
        op.execute('ALTER TABLE qualification_document DROP CONSTRAINT ck_qualification_document_document_kind')
        op.execute(f'ALTER TABLE qualification_document ADD CONSTRAINT ck_qualification_document_document_kind '
                   f'CHECK (kind IN ({NEW_KINDS}))')
        op.add_column('qualification_document', sa.Column('change_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_qualification_document_change_id_provider_change'),
                              'qualification_document', 'provider_change', ['change_id'], ['id'])
    op.create_index(op.f('ix_qualification_document_change_id'), 'qualification_document', ['change_id'],
                    unique=False)


def downgrade():
    op.drop_index(op.f('ix_qualification_document_change_id'), table_name='qualification_document')
    # Fails (as it must) while a medical practice licence is on file.
    if op.get_bind().dialect.name == 'sqlite':
        _rebuild_sqlite_documents(_downgraded)
    else:
        op.drop_constraint(op.f('fk_qualification_document_change_id_provider_change'),
                           'qualification_document', type_='foreignkey')
        op.drop_column('qualification_document', 'change_id')
        op.execute('ALTER TABLE qualification_document DROP CONSTRAINT ck_qualification_document_document_kind')
        op.execute(f'ALTER TABLE qualification_document ADD CONSTRAINT ck_qualification_document_document_kind '
                   f'CHECK (kind IN ({OLD_KINDS}))')
    op.drop_index('uq_provider_change_pending', table_name='provider_change')
    op.drop_index(op.f('ix_provider_change_provider_id'), table_name='provider_change')
    op.drop_table('provider_change')
