"""Each patient's sessions counted by day, kept by the session writes: what adherence over many
patients reads (app/adherence/loading.py) instead of every session row.

A row holds one plan item's days (off-plan sessions under OFF_PLAN) over a block of BLOCK_DAYS
days: for each day, how many sessions and their minutes, each day one character of a text
(`code`), and the latest start among them. The writes change one character with `ss_bump`, a
function of the database (PostgreSQL: created by a migration; SQLite: registered on each
connection, app/__init__.py), inside the write's transaction and under its feed lock, so a row
always says what the committed sessions say (tests/test_session_rollups.py holds it to a
recount from the sessions, `recount_rows`). Texts, not bytes: both databases edit a character of a
text with the same plain functions, and Python turns a block into bit masks and sums in C
(str.encode, bytes.translate, int(..., 2), array)."""
import uuid
from datetime import date
from functools import cache

from sqlalchemy import Integer, bindparam, delete, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite

from app.common.types import UTCDateTime
from app.sessions.models import ExerciseSession, SessionDayRollup

BLOCK_DAYS = 256
OFF_PLAN = uuid.UUID(int=0)  # the item_key of sessions of no plan item
MOST = 1_000_000             # a day's count or minutes stop here (a session's minutes are at most 300)
ZERO = "0"
_GAP_FROM, _GAP = 0xD800, 0x800  # the surrogates, which no text may hold, are skipped


def code(value: int) -> str:
    """A day's value as its character: '0' for 0, then on, past the surrogates."""
    point = min(value, MOST) + 48
    return chr(point + _GAP if point >= _GAP_FROM else point)


def value_of(character: str) -> int:
    point = ord(character)
    return (point - _GAP if point >= _GAP_FROM + _GAP else point) - 48


def ss_bump(days: str, index: int, delta: int) -> str:
    """days with the value at index moved by delta (kept within 0 and MOST): the SQL function,
    for SQLite (PostgreSQL's, in migration 0b7d5e3c9a41, is the same)."""
    if days is None or index is None or delta is None:
        return None
    moved = min(max(value_of(days[index]) + delta, 0), MOST)
    return days[:index] + code(moved) + days[index + 1:]


def place(day: date) -> tuple[int, int]:
    """(block, index of the day in it)."""
    return divmod(day.toordinal(), BLOCK_DAYS)


_ROLLUP = SessionDayRollup.__table__
_COLUMNS = ["patient_id", "item_key", "block", "counts", "minutes", "last_started_at"]


def _bumped(column, delta):
    return func.ss_bump(column, bindparam("rollup_index", type_=Integer()), delta)


def _add(dialect: str, prefix: str = "", only_if=None):
    """INSERT ... ON CONFLICT DO UPDATE: one session more on its day. With only_if, an INSERT ...
    SELECT with that condition, its session parameters named prefix + column (PostgreSQL: the
    session insert's statement, which must stay short: sessions.service)."""
    zeros = literal_column(f"repeat('{ZERO}', {BLOCK_DAYS})" if dialect == "postgresql"
                           else f"'{ZERO * BLOCK_DAYS}'")
    one = literal_column("1")
    minutes = bindparam(prefix + "duration_minutes", type_=Integer())
    values = [bindparam(prefix + "patient_id", type_=_ROLLUP.c.patient_id.type),
              bindparam("rollup_key", type_=_ROLLUP.c.item_key.type), bindparam("rollup_block", type_=Integer()),
              _bumped(zeros, one), _bumped(zeros, minutes), bindparam(prefix + "started_at", type_=UTCDateTime())]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    if only_if is None:
        stmt = insert(_ROLLUP).values(dict(zip(_COLUMNS, values)))
    else:
        stmt = insert(_ROLLUP).from_select(_COLUMNS, select(*values).where(only_if))
    new, old = stmt.excluded, _ROLLUP.c
    if dialect == "postgresql":  # GREATEST passes over a NULL; SQLite's max() of two gives NULL
        latest = func.greatest(old.last_started_at, new.last_started_at)
    else:
        latest = func.max(func.coalesce(old.last_started_at, new.last_started_at), new.last_started_at)
    return stmt.on_conflict_do_update(
        index_elements=["patient_id", "item_key", "block"],
        set_={"counts": _bumped(old.counts, one), "minutes": _bumped(old.minutes, minutes), "last_started_at": latest})


@cache
def _add_alone(dialect: str):
    return _add(dialect, _OWN)


_OWN = "rollup_"  # the prefix of the session's values as parameters of the statements alone


def ride_with_insert(only_if_inserted, prefix: str):
    """The add as part of the session insert's own statement (PostgreSQL: a WITH that runs only
    if the session was inserted; sessions.service), its session parameters named prefix + column."""
    return _add("postgresql", prefix, only_if_inserted)


def ride_params(values: dict) -> dict:
    """The add's own parameters, beside the session insert's."""
    block, index = place(values["local_date"])
    return {"rollup_key": values["item_key"] or OFF_PLAN, "rollup_block": block, "rollup_index": index}


def _params(session) -> dict:
    return {**ride_params({"item_key": session.item_key, "local_date": session.local_date}),
            _OWN + "patient_id": session.patient_id, _OWN + "duration_minutes": session.duration_minutes,
            _OWN + "started_at": session.started_at}


def added(connection, session) -> None:
    """One session more (created, or edited onto its day): in the write's transaction."""
    connection.execute(_add_alone(connection.dialect.name), _params(session))


@cache
def _remove_statement():
    sessions = ExerciseSession.__table__.c
    patient, key = bindparam(_OWN + "patient_id"), bindparam("rollup_key", type_=sessions.item_key.type)
    latest = (select(func.max(sessions.started_at))
              .where(sessions.patient_id == patient, sessions.deleted_at.is_(None),
                     func.coalesce(sessions.item_key, OFF_PLAN) == key,
                     sessions.local_date >= bindparam("block_first"), sessions.local_date <= bindparam("block_last"))
              .scalar_subquery())
    return (_ROLLUP.update()
            .where(_ROLLUP.c.patient_id == patient, _ROLLUP.c.item_key == key,
                   _ROLLUP.c.block == bindparam("rollup_block"))
            .values(counts=_bumped(_ROLLUP.c.counts, literal_column("-1")),
                    minutes=_bumped(_ROLLUP.c.minutes, -bindparam(_OWN + "duration_minutes", type_=Integer())),
                    last_started_at=latest))


def removed(connection, session) -> None:
    """One session fewer on its day (deleted, or edited away from it), after the write changed
    its row: the block's latest start is read again from the sessions."""
    params = _params(session)
    block = params["rollup_block"]
    params |= {"block_first": date.fromordinal(max(block * BLOCK_DAYS, 1)),
               "block_last": date.fromordinal(block * BLOCK_DAYS + BLOCK_DAYS - 1)}
    connection.execute(_remove_statement(), params)


def moved(connection, before, after) -> None:
    """An edit: nothing when it kept the day, item, minutes and start."""
    if (before.local_date, before.item_key, before.duration_minutes, before.started_at) != (
            after.local_date, after.item_key, after.duration_minutes, after.started_at):
        removed(connection, before)
        added(connection, after)


# --- a recount from the sessions (the migration's backfill, the benches, the tests) -------------

def recount_rows(connection, patient_ids=None) -> list[dict]:
    """The rollup rows the sessions (of these patients; None: all) make, counted afresh."""
    s = ExerciseSession.__table__.c
    stmt = (select(s.patient_id, s.item_key, s.local_date, func.count(), func.sum(s.duration_minutes),
                   func.max(s.started_at))
            .where(s.deleted_at.is_(None)).group_by(s.patient_id, s.item_key, s.local_date))
    if patient_ids is not None:
        stmt = stmt.where(s.patient_id.in_(patient_ids))
    rows: dict = {}
    for patient_id, item_key, day, count, minutes, started in connection.execute(stmt):
        block, index = place(day)
        key = (patient_id, item_key or OFF_PLAN, block)
        row = rows.get(key)
        if row is None:
            row = rows[key] = {"patient_id": key[0], "item_key": key[1], "block": block,
                               "counts": [0] * BLOCK_DAYS, "minutes": [0] * BLOCK_DAYS, "last_started_at": None}
        row["counts"][index] += count
        row["minutes"][index] += minutes
        started = UTCDateTime().process_result_value(started, None) if isinstance(started, str) else started
        if row["last_started_at"] is None or started > row["last_started_at"]:
            row["last_started_at"] = started
    for row in rows.values():
        row["counts"] = "".join(map(code, row["counts"]))
        row["minutes"] = "".join(map(code, row["minutes"]))
    return list(rows.values())


def rebuild(connection, patient_ids=None) -> int:
    """Replace the rollups of these patients (None: all) with a recount; the number of rows."""
    stmt = delete(_ROLLUP)
    if patient_ids is not None:
        stmt = stmt.where(_ROLLUP.c.patient_id.in_(patient_ids))
    connection.execute(stmt)
    rows = recount_rows(connection, patient_ids)
    for first in range(0, len(rows), 5000):
        connection.execute(_ROLLUP.insert(), rows[first:first + 5000])
    return len(rows)


def stored_rows(connection, patient_ids=None) -> list[dict]:
    """The rollup rows as stored, days with nothing dropped (for comparing with recount_rows)."""
    stmt = select(_ROLLUP)
    if patient_ids is not None:
        stmt = stmt.where(_ROLLUP.c.patient_id.in_(patient_ids))
    return [dict(row._mapping) for row in connection.execute(stmt)
            if row.counts.strip(ZERO) or row.minutes.strip(ZERO)]

