"""dxa follow-ups: closed_by_result, so that deleting a scan's last result reopens the follow-up it closed

Revision ID: f1a9c3d7e2b4
Revises: a9c4e2f7b1d3
Create Date: 2026-12-03 14:00:00

A follow-up closed before this column existed counts as closed by hand: deleting a result
leaves it done, as it did before.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f1a9c3d7e2b4'
down_revision = 'a9c4e2f7b1d3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('dxa_followups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_by_result', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('dxa_followups', schema=None) as batch_op:
        batch_op.drop_column('closed_by_result')
