"""patients: known blood clots (a contraindication for standing and FES)

Revision ID: b3c1d2e4f5a6
Revises: b4d1f0a2c9e7
Create Date: 2026-12-01 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3c1d2e4f5a6'
down_revision = 'b4d1f0a2c9e7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('known_clots', sa.JSON(), server_default='[]', nullable=False))


def downgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('known_clots')
