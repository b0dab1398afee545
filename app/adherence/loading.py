"""The logged sessions adherence reads: one query for any number of patients."""
from datetime import date, datetime

from sqlalchemy import String, bindparam, case, func, select, type_coerce

from app.adherence.metrics import Tally
from app.common.types import UTCDateTime
from app.exercises.service import LIBRARY
from app.plans.loading import (AT, as_uuid, core_rows, id_text, known_uuid, matches, patients_statement, spec_branch,
                               specs_from_rows, specs_statement)
from app.sessions.models import ExerciseSession

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
            logged.append((row[_ITEM], row[_DAY], row[_MINUTES]))
        elif row[0] == LAST_STARTED_ROW and row[_STARTED] is not None:
            last = _moment(row[_STARTED])
    if not logged:
        return None, last
    tally = Tally()
    tally.add_all(logged)
    return tally, last


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


def _tally_statement(ids, bounded_below: bool):
    # Tens of thousands of rows for a few hundred patients: the patient ids as text (cheap to hash
    # and compare) and the start times as the driver gives them (SQLite: text) are converted once
    # per patient below; item ids from the process's memo (known_uuid); dates by the driver.
    raw = _SESSION
    stmt = (select(id_text(raw.patient_id), known_uuid(raw.item_key), raw.local_date,
                   raw.duration_minutes, type_coerce(raw.started_at, String))
            .where(matches(raw.patient_id, ids), raw.deleted_at.is_(None), raw.local_date <= bindparam("end")))
    return stmt.where(raw.local_date >= bindparam("start")) if bounded_below else stmt


def _tallies_from(ids):
    return _tally_statement(ids, True)


def _tallies_through(ids):
    return _tally_statement(ids, False)


def tallies(patient_ids, start: date | None, end: date) -> tuple[dict, dict]:
    """({patient_id: Tally}, {patient_id: when their last session started}) of the sessions with
    local dates in [start, end] (start None: from the first), for the patients who have any.
    patient_ids: a list or a SELECT of ids. One query, no object per session."""
    rows_of, latest = {}, {}  # patient id as read -> [(item_key, date, minutes)], the latest start
    statement, params = patients_statement(_tallies_through if start is None else _tallies_from, patient_ids)
    params["end"] = end
    if start is not None:
        params["start"] = start
    for patient, item_key, day, minutes, started in core_rows(statement, params).all():
        rows = rows_of.get(patient)
        if rows is None:
            rows = rows_of[patient] = []
            latest[patient] = started
        elif started > latest[patient]:  # SQLite's text is fixed-width UTC: it sorts as the moments do
            latest[patient] = started
        rows.append((item_key, day, minutes))
    by_patient = {}
    for patient, rows in rows_of.items():
        tally = by_patient[as_uuid(patient)] = Tally()
        tally.add_all(rows)
    return by_patient, {as_uuid(patient): _moment(started) for patient, started in latest.items()}


def _moment(value) -> datetime:
    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    return UTCDateTime().process_result_value(value, None)

