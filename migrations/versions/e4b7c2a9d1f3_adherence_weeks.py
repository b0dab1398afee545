"""adherence: settled weeks, counted once (adherence_weeks), and how far they reach

Revision ID: e4b7c2a9d1f3
Revises: 5d2e8a61c4f0
Create Date: 2026-12-02 06:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e4b7c2a9d1f3'
down_revision = '5d2e8a61c4f0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('adherence_weeks',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_adherence_weeks_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', 'week_start', name=op.f('pk_adherence_weeks'))
    )
    with op.batch_alter_table('adherence_streak_checkpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('weeks_through', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('adherence_streak_checkpoints', schema=None) as batch_op:
        batch_op.drop_column('weeks_through')
    op.drop_table('adherence_weeks')
