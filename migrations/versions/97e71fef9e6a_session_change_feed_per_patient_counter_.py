"""session change feed: a per-patient change counter and each session's feed position

Existing sessions get positions in the order the old feed handed them out (updated_at, id),
so a follower that starts again from the beginning sees every session once.

Revision ID: 97e71fef9e6a
Revises: 342392e2c31b
Create Date: 2026-12-01 08:27:46.243357

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '97e71fef9e6a'
down_revision = '342392e2c31b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('session_feeds',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_session_feeds_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_session_feeds'))
    )
    with op.batch_alter_table('exercise_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feed_position', sa.BigInteger(), nullable=True))
    # Window functions: PostgreSQL and SQLite >= 3.25 both have them.
    op.execute("""
        UPDATE exercise_sessions SET feed_position = (
            SELECT ranked.n FROM (
                SELECT id, ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY updated_at, id) AS n
                FROM exercise_sessions) AS ranked
            WHERE ranked.id = exercise_sessions.id)
    """)
    op.execute("""
        INSERT INTO session_feeds (patient_id, position)
        SELECT patient_id, MAX(feed_position) FROM exercise_sessions GROUP BY patient_id
    """)
    with op.batch_alter_table('exercise_sessions', schema=None) as batch_op:
        batch_op.alter_column('feed_position', existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_index(batch_op.f('ix_exercise_sessions_patient_changed'))
        batch_op.create_index('ix_exercise_sessions_patient_feed', ['patient_id', 'feed_position'], unique=True)


def downgrade():
    with op.batch_alter_table('exercise_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_exercise_sessions_patient_feed')
        batch_op.create_index(batch_op.f('ix_exercise_sessions_patient_changed'), ['patient_id', 'updated_at', 'id'], unique=False)
        batch_op.drop_column('feed_position')

    op.drop_table('session_feeds')
