"""The logged sessions adherence reads: one query for any number of patients."""
from datetime import date, datetime
from itertools import compress

from sqlalchemy import String, bindparam, case, cast, func, select, type_coerce

from app.adherence.metrics import Tally
from app.common.memo import ParsedOnce
from app.common.sql_functions import dialect_function
from app.common.types import UTCDateTime
from app.exercises.service import LIBRARY
from app.plans.loading import (AT, as_uuid, core_rows, id_text, matches, patients_statement, spec_branch,
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


_packed = dialect_function(
    "_packed", String(), "A group's values as one comma-separated text, in no particular order (the same for "
    "every aggregate of the query: _tally_statement).",
    default="group_concat({})", postgresql="string_agg({}, ',')")

# A date as text: on SQLite as stored (YYYY-MM-DD); on PostgreSQL as days since 1970-01-01,
# which it writes as cheaply as an integer (to_char costs a fifth of the statement there, and a
# date's own text depends on the session's DateStyle). _ordinal_of reads either.
_day_text = dialect_function(
    "_day_text", String(), "A date as text: YYYY-MM-DD (SQLite) or days since 1970-01-01 (PostgreSQL).",
    default="{}", postgresql="CAST(({} - DATE '1970-01-01') AS TEXT)")
_EPOCH = date(1970, 1, 1).toordinal()


def _ordinal_of(text: str) -> int:
    return date.fromisoformat(text).toordinal() if len(text) == 10 else _EPOCH + int(text)


# A batch reads a few hundred distinct days and minutes, hundreds of thousands of times.
_DAYS, _MINUTE_COUNTS = ParsedOnce(_ordinal_of, kept=20_000), ParsedOnce(int, kept=20_000)


def _tally_statement(ids, bounded_below: bool):
    # One row per patient, its sessions packed into three texts: item ids ('' for an off-plan
    # session), local dates and minutes, comma-separated, so that hundreds of thousands of
    # sessions reach Python as a few thousand rows, split and converted by C (str.split, map),
    # with no Python step per session. The three line up: both databases feed each row of a
    # group to every aggregate of the query in turn, so each sees the group's rows in the same
    # order (how both run aggregates, not a documented promise: tests/test_adherence_tallies.py
    # holds them to it, and a DISTINCT, ORDER BY or FILTER on one of them would break it); no
    # value is NULL (a NULL would be left out). Three aggregates, not one of joined texts: on
    # SQLite joining cost 15 to 35 per cent more of the statement (two measurements). The start
    # times as the driver gives them (SQLite: text), converted once per patient.
    raw = _SESSION
    stmt = (select(id_text(raw.patient_id), _packed(func.coalesce(id_text(raw.item_key), "")),
                   _packed(_day_text(raw.local_date)), _packed(cast(raw.duration_minutes, String)),
                   func.max(type_coerce(raw.started_at, String)))
            .where(matches(raw.patient_id, ids), raw.deleted_at.is_(None), raw.local_date <= bindparam("end"))
            .group_by(raw.patient_id))
    return stmt.where(raw.local_date >= bindparam("start")) if bounded_below else stmt


def _tallies_from(ids):
    return _tally_statement(ids, True)


def _tallies_through(ids):
    return _tally_statement(ids, False)


def _tally(item_keys: str, local_dates: str, minutes_each: str, base: int | None) -> Tally:
    keys = item_keys.split(",")
    days = list(map(_DAYS.__getitem__, local_dates.split(",")))
    minutes = list(map(_MINUTE_COUNTS.__getitem__, minutes_each.split(",")))
    distinct = set(keys)
    groups = {}
    if len(distinct) == 1:
        key = keys[0]
        if key:
            groups[as_uuid(key)] = (days, minutes)
    else:
        for key in distinct:
            if key:
                chosen = list(map(key.__eq__, keys))
                groups[as_uuid(key)] = (list(compress(days, chosen)), list(compress(minutes, chosen)))
    return Tally.of_columns(days, minutes, groups, base)


def tallies(patient_ids, start: date | None, end: date) -> tuple[dict, dict]:
    """({patient_id: Tally}, {patient_id: when their last session started}) of the sessions with
    local dates in [start, end] (start None: from the first), for the patients who have any.
    patient_ids: a list or a SELECT of ids. One query, one row per patient."""
    statement, params = patients_statement(_tallies_through if start is None else _tallies_from, patient_ids)
    params["end"] = end
    if start is not None:
        params["start"] = start
    by_patient, latest = {}, {}
    base = None if start is None else start.toordinal()  # one base for the batch: its masks are shared
    for patient, item_keys, local_dates, minutes_each, started in core_rows(statement, params).all():
        patient = as_uuid(patient)
        by_patient[patient] = _tally(item_keys, local_dates, minutes_each, base)
        latest[patient] = _moment(started)
    return by_patient, latest


def _moment(value) -> datetime:
    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    return UTCDateTime().process_result_value(value, None)

