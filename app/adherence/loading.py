"""The logged sessions adherence reads: one query for any number of patients."""
from datetime import date, datetime
from functools import cache

from sqlalchemy import String, bindparam, func, select, type_coerce

from app.adherence.metrics import Tally
from app.common.types import UTCDateTime
from app.plans.loading import as_uuid, core_rows, known_uuid
from app.sessions.models import ExerciseSession

# Core columns, not the ORM's: the statements below return plain rows (app/plans/loading.py).
_SESSION = ExerciseSession.__table__.c


def _rows(patient_ids, start: date | None, end: date, built_once, build):
    """Run a statement of sessions in [start, end] for a list of ids (built_once) or a SELECT (build)."""
    params = {"end": end}
    if start is not None:
        params["start"] = start
    if isinstance(patient_ids, (list, tuple, set)):
        stmt, params["ids"] = built_once(start is not None), list(patient_ids)
    else:
        stmt = build(patient_ids, start is not None)
    return core_rows(stmt, params)


@cache
def _minutes_by_day_statement():
    raw = _SESSION
    return (select(raw.local_date, known_uuid(raw.item_key), raw.duration_minutes)
            .where(raw.patient_id == bindparam("patient_id"), raw.deleted_at.is_(None),
                   raw.local_date >= bindparam("start"), raw.local_date <= bindparam("end")))


def minutes_by_day(patient_id, start: date, end: date) -> dict:
    """{(local date, item_key): [minutes of each session]} of one patient's sessions with local
    dates in [start, end] (the agenda's reading: no start times). One query."""
    out: dict = {}
    for day, item_key, minutes in core_rows(_minutes_by_day_statement(),
                                            {"patient_id": patient_id, "start": start, "end": end}):
        found = out.get((day, item_key))
        if found is None:
            out[(day, item_key)] = [minutes]
        else:
            found.append(minutes)
    return out


def last_started(patient_ids: list, before: date) -> dict:
    """{patient_id: when their last session before `before` started}. One query."""
    raw = _SESSION
    rows = core_rows(
        select(raw.patient_id, func.max(raw.started_at)).where(
            raw.patient_id.in_(patient_ids), raw.deleted_at.is_(None), raw.local_date < before)
        .group_by(raw.patient_id))
    return {patient_id: started for patient_id, started in rows}


def _tally_statement(ids, bounded_below: bool):
    # Tens of thousands of rows for a few hundred patients: the patient ids and start times come
    # as the driver gives them (SQLite: text; cheap to hash and compare) and are converted once per
    # patient below; item ids from the process's memo (known_uuid); dates by the driver.
    raw = _SESSION
    stmt = (select(type_coerce(raw.patient_id, String), known_uuid(raw.item_key), raw.local_date,
                   raw.duration_minutes, type_coerce(raw.started_at, String))
            .where(raw.patient_id.in_(ids), raw.deleted_at.is_(None), raw.local_date <= bindparam("end")))
    return stmt.where(raw.local_date >= bindparam("start")) if bounded_below else stmt


@cache
def _tally_for_listed_ids(bounded_below: bool):
    return _tally_statement(bindparam("ids", expanding=True), bounded_below)


def tallies(patient_ids, start: date | None, end: date) -> tuple[dict, dict]:
    """({patient_id: Tally}, {patient_id: when their last session started}) of the sessions with
    local dates in [start, end] (start None: from the first), for the patients who have any.
    patient_ids: a list or a SELECT of ids. One query, no object per session."""
    rows_of, latest = {}, {}  # patient id as read -> [(item_key, date, minutes)], the latest start
    for patient, item_key, day, minutes, started in _rows(patient_ids, start, end, _tally_for_listed_ids,
                                                          _tally_statement):
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

