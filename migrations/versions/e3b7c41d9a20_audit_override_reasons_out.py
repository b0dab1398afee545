"""audit trail: override events keep the warning's code, not the coordinator's reason

Revision ID: e3b7c41d9a20
Revises: 5d2e8a61c4f0
Create Date: 2026-12-03 08:00:00

An override's detail used to be "recent_fracture: <the coordinator's reason>". The reason is a
clinical note an admin reading the trail must not see; it is kept in plan_versions.override_reason
(where the care team reads it), so the trail keeps only the code. Not undone by a downgrade.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e3b7c41d9a20'
down_revision = '5d2e8a61c4f0'
branch_labels = None
depends_on = None

CODES = ("recent_fracture", "recent_clot")


def upgrade():
    events = sa.table("audit_events", sa.column("action", sa.String), sa.column("detail", sa.String))
    for code in CODES:
        op.execute(events.update()
                   .where(events.c.action == "override", events.c.detail.like(f"{code}:%"))
                   .values(detail=code))


def downgrade():
    pass
