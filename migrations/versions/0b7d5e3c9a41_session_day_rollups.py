"""session day rollups: each plan item's sessions counted by day, kept by the session writes

Revision ID: 0b7d5e3c9a41
Revises: f1a9c3d7e2b4
Create Date: 2026-12-03 19:10:00

Adherence over many patients reads these instead of every session (app/sessions/rollups.py).
The rows are counted here from the sessions already stored; on PostgreSQL the writes' function
ss_bump is created (SQLite's is registered on each connection by the app).
"""
import uuid

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0b7d5e3c9a41'
down_revision = 'f1a9c3d7e2b4'
branch_labels = None
depends_on = None

BLOCK_DAYS = 256                                  # app/sessions/rollups.py, as of this revision
OFF_PLAN = uuid.UUID(int=0)
_GAP_FROM, _GAP, _MOST = 0xD800, 0x800, 1_000_000

POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ss_bump(days text, i integer, delta integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT overlay(days PLACING chr(v + 48 + CASE WHEN v + 48 >= {_GAP_FROM} THEN {_GAP} ELSE 0 END)
                 FROM i + 1 FOR 1)
  FROM (SELECT LEAST(GREATEST(c - 48 - CASE WHEN c >= {_GAP_FROM + _GAP} THEN {_GAP} ELSE 0 END + delta, 0),
                     {_MOST}) AS v
        FROM (SELECT ascii(substr(days, i + 1, 1)) AS c) AS point) AS moved
$$
"""


def _code(value):
    point = min(value, _MOST) + 48
    return chr(point + _GAP if point >= _GAP_FROM else point)


def upgrade():
    op.create_table('session_day_rollups',
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('item_key', sa.Uuid(), nullable=False),
    sa.Column('block', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.Column('minutes', sa.Text(), nullable=False),
    sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_session_day_rollups_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', 'item_key', 'block', name=op.f('pk_session_day_rollups'))
    )
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute(POSTGRESQL_FUNCTION)
    backfill(bind)


def backfill(bind):
    """The rows of the sessions already stored (tests/test_session_rollups.py runs it again)."""
    sessions = sa.table('exercise_sessions', sa.column('patient_id', sa.Uuid()), sa.column('item_key', sa.Uuid()),
                        sa.column('local_date', sa.Date()), sa.column('duration_minutes', sa.Integer()),
                        sa.column('started_at', sa.DateTime(timezone=True)),
                        sa.column('deleted_at', sa.DateTime(timezone=True)))
    rollups = sa.table('session_day_rollups', sa.column('patient_id', sa.Uuid()), sa.column('item_key', sa.Uuid()),
                       sa.column('block', sa.Integer()), sa.column('counts', sa.Text()),
                       sa.column('minutes', sa.Text()), sa.column('last_started_at', sa.DateTime(timezone=True)))
    rows = {}
    for patient_id, item_key, day, count, minutes, started in bind.execute(
            sa.select(sessions.c.patient_id, sessions.c.item_key, sessions.c.local_date, sa.func.count(),
                      sa.func.sum(sessions.c.duration_minutes), sa.func.max(sessions.c.started_at))
            .where(sessions.c.deleted_at.is_(None))
            .group_by(sessions.c.patient_id, sessions.c.item_key, sessions.c.local_date)):
        block, index = divmod(day.toordinal(), BLOCK_DAYS)
        key = (patient_id, item_key if item_key is not None else OFF_PLAN, block)
        row = rows.get(key)
        if row is None:
            row = rows[key] = {'patient_id': key[0], 'item_key': key[1], 'block': block, 'counts': [0] * BLOCK_DAYS,
                               'minutes': [0] * BLOCK_DAYS, 'last_started_at': None}
        row['counts'][index] += count
        row['minutes'][index] += minutes
        if row['last_started_at'] is None or started > row['last_started_at']:
            row['last_started_at'] = started
    values = [{**row, 'counts': ''.join(map(_code, row['counts'])), 'minutes': ''.join(map(_code, row['minutes']))}
              for row in rows.values()]
    for first in range(0, len(values), 5000):
        bind.execute(rollups.insert(), values[first:first + 5000])


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION IF EXISTS ss_bump(text, integer, integer)')
    op.drop_table('session_day_rollups')
