"""The logged sessions adherence reads: one query for any number of patients."""
import uuid
from datetime import date, datetime
from functools import cache

from sqlalchemy import String, bindparam, func, select, type_coerce

from app.adherence.metrics import LoggedSession, Tally
from app.common.types import UTCDateTime
from app.extensions import db
from app.sessions.models import ExerciseSession


def _sessions_statement(ids, bounded_below: bool):
    stmt = (select(ExerciseSession.patient_id, ExerciseSession.item_key, ExerciseSession.local_date,
                   ExerciseSession.duration_minutes, ExerciseSession.started_at)
            .where(ExerciseSession.patient_id.in_(ids), ExerciseSession.deleted_at.is_(None),
                   ExerciseSession.local_date <= bindparam("end")))
    return stmt.where(ExerciseSession.local_date >= bindparam("start")) if bounded_below else stmt


@cache
def _sessions_for_listed_ids(bounded_below: bool = True):
    # Built once: on the agenda's hot path, building a statement costs more than running it.
    return _sessions_statement(bindparam("ids", expanding=True), bounded_below)


def _rows(patient_ids, start: date | None, end: date, built_once, build):
    """Run a statement of sessions in [start, end] for a list of ids (built_once) or a SELECT (build)."""
    params = {"end": end}
    if start is not None:
        params["start"] = start
    if isinstance(patient_ids, (list, tuple, set)):
        stmt, params["ids"] = built_once(start is not None), list(patient_ids)
    else:
        stmt = build(patient_ids, start is not None)
    return db.session.execute(stmt, params)


def sessions(patient_ids, start: date | None, end: date) -> dict:
    """{patient_id: [LoggedSession]} with local dates in [start, end] (start None: from the first).
    patient_ids: a list or a SELECT of ids. One query."""
    out: dict = {}
    for row in _rows(patient_ids, start, end, _sessions_for_listed_ids, _sessions_statement):
        out.setdefault(row.patient_id, []).append(
            LoggedSession(row.item_key, row.local_date, row.duration_minutes, row.started_at))
    return out


def last_started(patient_ids: list, before: date) -> dict:
    """{patient_id: when their last session before `before` started}. One query."""
    rows = db.session.execute(
        select(ExerciseSession.patient_id, func.max(ExerciseSession.started_at))
        .where(ExerciseSession.patient_id.in_(patient_ids), ExerciseSession.deleted_at.is_(None),
               ExerciseSession.local_date < before)
        .group_by(ExerciseSession.patient_id))
    return {patient_id: started for patient_id, started in rows}


def _tally_statement(ids, bounded_below: bool):
    # The ids and dates come as the driver gives them (SQLite: text) and are converted once per
    # distinct value below: a few hundred patients, a few items and days, tens of thousands of rows.
    raw = ExerciseSession
    stmt = (select(type_coerce(raw.patient_id, String), type_coerce(raw.item_key, String),
                   type_coerce(raw.local_date, String), raw.duration_minutes,
                   type_coerce(raw.started_at, String))
            .where(raw.patient_id.in_(ids), raw.deleted_at.is_(None), raw.local_date <= bindparam("end")))
    return stmt.where(raw.local_date >= bindparam("start")) if bounded_below else stmt


@cache
def _tally_for_listed_ids(bounded_below: bool):
    return _tally_statement(bindparam("ids", expanding=True), bounded_below)


def _as(kind):
    memo: dict = {None: None}

    def convert(value):
        found = memo.get(value)
        if found is None and value is not None:
            found = memo[value] = kind(value) if isinstance(value, str) else value
        return found
    return convert


def tallies(patient_ids, start: date | None, end: date) -> tuple[dict, dict]:
    """({patient_id: Tally}, {patient_id: when their last session started}) of the sessions with
    local dates in [start, end] (start None: from the first), for the patients who have any.
    patient_ids: a list or a SELECT of ids. One query, no object per session."""
    as_id, as_date = _as(uuid.UUID), _as(date.fromisoformat)
    rows_of, latest = {}, {}  # raw patient id -> [(item_key, date, minutes)], the latest start
    for patient, item_key, day, minutes, started in _rows(patient_ids, start, end, _tally_for_listed_ids,
                                                          _tally_statement):
        rows = rows_of.get(patient)
        if rows is None:
            rows = rows_of[patient] = []
            latest[patient] = started
        elif started > latest[patient]:  # SQLite's text is fixed-width UTC: it sorts as the moments do
            latest[patient] = started
        rows.append((as_id(item_key), as_date(day), minutes))
    by_patient = {}
    for patient, rows in rows_of.items():
        tally = by_patient[as_id(patient)] = Tally()
        tally.add_all(rows)
    return by_patient, {as_id(patient): _moment(started) for patient, started in latest.items()}


def _moment(value) -> datetime:
    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    return UTCDateTime().process_result_value(value, None)

