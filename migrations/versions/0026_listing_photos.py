"""listing photos: a listing's photos (resized, EXIF stripped) and their thumbnails

Revision ID: 0026_listing_photos
Revises: 0025_rating_tags
Create Date: 2026-12-04 18:40:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026_listing_photos'
down_revision = '0025_rating_tags'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('listing_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('thumb_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('thumb_width', sa.Integer(), nullable=False),
    sa.Column('thumb_height', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_listing_photo_listing_id_listing'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'],
                            name=op.f('fk_listing_photo_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing_photo')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_listing_photo_stored_name')),
    sa.UniqueConstraint('thumb_name', name=op.f('uq_listing_photo_thumb_name'))
    )
    with op.batch_alter_table('listing_photo', schema=None) as batch_op:
        batch_op.create_index('ix_listing_photo_listing_id_position', ['listing_id', 'position'], unique=False)


def downgrade():
    with op.batch_alter_table('listing_photo', schema=None) as batch_op:
        batch_op.drop_index('ix_listing_photo_listing_id_position')
    op.drop_table('listing_photo')
