"""device tokens and calendar feeds record the login that made them

Revision ID: a9c4e2f7b1d3
Revises: e3b7c41d9a20
Create Date: 2026-12-03 13:40:00

A password change ends the account's other logins and, with them, the push registrations and
feed tokens those logins made; the changing login's own stay. Rows from before have no login:
a change treats them as another login's.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a9c4e2f7b1d3'
down_revision = 'e3b7c41d9a20'
branch_labels = None
depends_on = None

TABLES = ("device_tokens", "calendar_feeds")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('session_id', sa.Uuid(), nullable=True))
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_session_id_auth_sessions'), 'auth_sessions',
                                        ['session_id'], ['id'], ondelete='SET NULL')


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_session_id_auth_sessions'), type_='foreignkey')
            batch_op.drop_column('session_id')
