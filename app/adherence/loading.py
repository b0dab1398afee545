"""The logged sessions adherence reads: one query for any number of patients."""
from datetime import date, datetime, timedelta

from sqlalchemy import String, bindparam, case, func, select, type_coerce

from app.adherence.day_counts import DayCounts
from app.adherence.metrics import Tally
from app.common.types import UTCDateTime
from app.exercises.service import LIBRARY
from app.plans.loading import (AT, as_uuid, core_rows, id_text, matches, patients_statement, spec_branch,
                               specs_from_rows, specs_statement)
from app.sessions.models import ExerciseSession, SessionDayRollup
from app.sessions.rollups import BLOCK_DAYS, ZERO

# Core columns, not the ORM's: the statements below return plain rows (app/plans/loading.py).
_SESSION = ExerciseSession.__table__.c
_SESSION_IN_UNION = ExerciseSession.__table__.alias("s").c  # short: see streaks._one_patient_statement


SESSION_ROW, LIBRARY_ROW, LAST_STARTED_ROW = 10, 11, 12
_DAY, _ITEM, _MINUTES, _HASHES = AT["start_date"], AT["item_key"], AT["minutes"], AT["time_of_day"]
_STARTED = AT["started_at"]


def session_branch(kind: int, ids, low, high):
    """The sessions with local dates in [low, high] as rows of the specs statement: local date in
    start_date, item_key, minutes."""
    raw = _SESSION_IN_UNION
    return spec_branch(kind, start_date=raw.local_date, item_key=raw.item_key, minutes=raw.duration_minutes,
                       where=[matches(raw.patient_id, ids), raw.deleted_at.is_(None),
                              raw.local_date >= low, raw.local_date <= high])


def last_started_branch(kind: int, ids, low, high):
    """One row of the specs statement (one patient): in started_at, when the last session with a
    local date in [low, high] started, or if there is none, the last one before low (tallies'
    and last_started's answers together)."""
    raw = _SESSION_IN_UNION
    within = func.max(case((raw.local_date >= low, raw.started_at)))
    return spec_branch(kind, started_at=func.coalesce(within, func.max(raw.started_at)),
                       where=[matches(raw.patient_id, ids), raw.deleted_at.is_(None), raw.local_date <= high])


def tally_and_last(rows) -> tuple[Tally | None, datetime | None]:
    """One patient's Tally (None: no session) and last start, from the rows of session_branch
    and last_started_branch."""
    logged, last = [], None
    for row in rows:
        if row[0] == SESSION_ROW:
            logged.append((row[_ITEM], row[_DAY].toordinal(), row[_MINUTES]))
        elif row[0] == LAST_STARTED_ROW and row[_STARTED] is not None:
            last = _moment(row[_STARTED])
    return (Tally.of_rows(logged) if logged else None), last


def _agenda_statement(ids):
    # The patients' daily read: the sessions (session_branch); the library's freshness row: its
    # fingerprint's two values in minutes and time_of_day.
    fingerprint = LIBRARY.statement().subquery()
    count, hashes = fingerprint.c
    sessions = session_branch(SESSION_ROW, ids, bindparam("start"), bindparam("end"))
    library = spec_branch(LIBRARY_ROW, minutes=count, time_of_day=hashes, from_=fingerprint)
    return specs_statement(ids, sessions, library)


def agenda_data(patient_id, start: date, end: date) -> tuple[list, dict, tuple]:
    """One patient's plans ([PlanSpec]), {(local date, item_key): [minutes of each session]} of
    the sessions with local dates in [start, end] (the agenda's reading: no start times), and the
    exercise library's fingerprint (for exercises_by_id). One query."""
    statement, params = patients_statement(_agenda_statement, [patient_id])
    others: list = []
    specs = specs_from_rows(core_rows(statement, {**params, "start": start, "end": end}).all(), others)
    by_day: dict = {}
    fingerprint = None
    for row in others:
        if row[0] == SESSION_ROW:
            key = (row[_DAY], row[_ITEM])
            found = by_day.get(key)
            if found is None:
                by_day[key] = [row[_MINUTES]]
            else:
                found.append(row[_MINUTES])
        else:
            fingerprint = (row[_MINUTES], row[_HASHES])
    return specs.get(patient_id, []), by_day, fingerprint


def last_started(patient_ids: list, before: date) -> dict:
    """{patient_id: when their last session before `before` started}. One query."""
    raw = _SESSION
    rows = core_rows(
        select(raw.patient_id, func.max(raw.started_at)).where(
            raw.patient_id.in_(patient_ids), raw.deleted_at.is_(None), raw.local_date < before)
        .group_by(raw.patient_id))
    return {patient_id: started for patient_id, started in rows}


def _rollups_statement(ids, bounded_below: bool):
    # The day rollups (app/sessions/rollups.py) of the blocks holding [start, end]: a few rows per
    # patient and plan item, whatever the number of sessions.
    rollup = SessionDayRollup.__table__.c
    stmt = (select(id_text(rollup.patient_id), id_text(rollup.item_key), rollup.block, rollup.counts,
                   rollup.minutes, type_coerce(rollup.last_started_at, String))
            .where(matches(rollup.patient_id, ids), rollup.block <= bindparam("last_block")))
    return stmt.where(rollup.block >= bindparam("first_block")) if bounded_below else stmt


def _rollups_from(ids):
    return _rollups_statement(ids, True)


def _rollups_through(ids):
    return _rollups_statement(ids, False)


def tallies(patient_ids, start: date | None, end: date, last_sessions: bool = True) -> tuple[dict, dict]:
    """({patient_id: Tally}, {patient_id: when their last session started}) of the sessions with
    local dates in [start, end] (start None: from the first), for the patients who have any,
    read from the sessions' day rollups. patient_ids: a list or a SELECT of ids. One query, a
    few rows per patient and plan item; one more when a block read holds a session dated after
    end (logged before midnight, starting just after it): a block's latest start is then not
    the last of the days read, and those patients' are read from the sessions (last_sessions
    False: the caller reads no last sessions, and none are read again)."""
    statement, params = patients_statement(_rollups_through if start is None else _rollups_from, patient_ids)
    params["last_block"] = end.toordinal() // BLOCK_DAYS
    if start is not None:
        params["first_block"] = start.toordinal() // BLOCK_DAYS
    blocks: dict = {}
    latest: dict = {}
    ahead = set()  # patients with a session dated after end in a block read: its latest start may be that one
    high = end.toordinal()
    for patient, item_key, block, counts, minutes, started in core_rows(statement, params).all():
        after = high - block * BLOCK_DAYS + 1
        if after < BLOCK_DAYS and counts[after:].strip(ZERO):
            ahead.add(patient)
        found = blocks.get(patient)
        if found is None:
            found = blocks[patient] = {}
        item = found.get(item_key)
        if item is None:
            found[item_key] = [(block, counts, minutes)]
        else:
            item.append((block, counts, minutes))
        if started is not None and (patient not in latest or started > latest[patient]):
            latest[patient] = started  # (the same text form for every row: compared as text)
    # one base for the batch: its masks are shared
    low = None if start is None else start.toordinal()
    by_patient, last, recheck = {}, {}, []
    for patient, by_item in blocks.items():
        tally = DayCounts({as_uuid(key): rows for key, rows in by_item.items()}, low, high)
        if tally._any:
            patient_id = as_uuid(patient)
            by_patient[patient_id] = tally
            if patient in ahead:
                recheck.append(patient_id)
            else:
                last[patient_id] = _moment(latest[patient])
    if recheck and last_sessions:  # (rare: a session logged just before midnight that starts after it) one more query
        found = last_started(recheck, end + timedelta(days=1))
        last |= {pid: _moment(found[pid]) for pid in recheck if pid in found}
    return by_patient, last


def _moment(value) -> datetime:
    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    return UTCDateTime().process_result_value(value, None)

