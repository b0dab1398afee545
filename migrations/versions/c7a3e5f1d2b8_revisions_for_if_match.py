"""patients and plans: a revision for If-Match (optimistic concurrency)

Revision ID: c7a3e5f1d2b8
Revises: 1ac635596c85
Create Date: 2026-12-01 09:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7a3e5f1d2b8'
down_revision = '1ac635596c85'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('revision')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('revision')
