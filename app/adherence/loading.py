"""The logged sessions adherence reads: one query for any number of patients."""
from datetime import date
from functools import cache

from sqlalchemy import bindparam, func, select

from app.adherence.metrics import LoggedSession
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


def sessions(patient_ids, start: date | None, end: date) -> dict:
    """{patient_id: [LoggedSession]} with local dates in [start, end] (start None: from the first).
    patient_ids: a list or a SELECT of ids. One query."""
    params = {"end": end}
    if start is not None:
        params["start"] = start
    if isinstance(patient_ids, (list, tuple, set)):
        stmt, params["ids"] = _sessions_for_listed_ids(start is not None), list(patient_ids)
    else:
        stmt = _sessions_statement(patient_ids, start is not None)
    out: dict = {}
    for row in db.session.execute(stmt, params):
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
