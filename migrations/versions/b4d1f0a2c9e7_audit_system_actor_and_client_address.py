"""audit events: system actor name and client address

Revision ID: b4d1f0a2c9e7
Revises: e89ec1bfc7db
Create Date: 2026-12-01 08:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b4d1f0a2c9e7'
down_revision = 'e89ec1bfc7db'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('client_address', sa.String(length=45), nullable=True))


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('client_address')
        batch_op.drop_column('actor_name')
