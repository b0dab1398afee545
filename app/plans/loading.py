"""Plans as plain data for adherence and the agenda: a fixed number of queries.

Plain Core rows, no ORM entities: on the agenda's hot path, the ORM's statement and result
set-up cost more Python than the database's work, and parsing the same ids again on every read
(SQLite gives them as text) more than the rest of the rows.
"""
import uuid
from functools import cache

from sqlalchemy import Uuid, bindparam, select, type_coerce

from app.common.db import transaction_connection
from app.plans.models import Plan, PlanItem, PlanPause, PlanVersion
from app.plans.schedule import ItemSpec, PlanSpec

_UUIDS_KEPT = 50_000


class _Uuids(dict):
    """{text: uuid.UUID}, each id parsed once per process (ids are immutable: shared freely)."""

    def __missing__(self, text):
        if len(self) >= _UUIDS_KEPT:
            self.clear()
            self[None] = None
        found = self[text] = uuid.UUID(text)
        return found


_UUIDS = _Uuids({None: None})


class KnownUuid(Uuid):
    """Uuid whose values read as text (SQLite) come from a per-process memo instead of being
    parsed on every row: the same plan, item and patient ids are read on every agenda. Drivers
    with native UUIDs (PostgreSQL) are untouched. Use it with type_coerce in a SELECT list."""

    cache_ok = True

    def result_processor(self, dialect, coltype):
        parse = super().result_processor(dialect, coltype)
        return None if parse is None else _UUIDS.__getitem__


def as_uuid(raw):
    """An id as a driver gives it (SQLite: text) as a uuid.UUID, from the memo."""
    return _UUIDS[raw] if type(raw) is str else raw


def known_uuid(column, name: str | None = None):
    return type_coerce(column, KnownUuid).label(name or column.name)


def _specs_statements(ids):
    """The two statements of load_specs, for ids given as a list parameter or a SELECT."""
    plan, version, item, pause = (m.__table__.c for m in (Plan, PlanVersion, PlanItem, PlanPause))
    items = (
        select(known_uuid(plan.id), known_uuid(plan.patient_id), plan.start_date, plan.ended_on,
               known_uuid(version.id, "version_id"), version.number, version.effective_from,
               known_uuid(item.id, "item_id"), known_uuid(item.item_key), known_uuid(item.exercise_id),
               item.minutes, item.sessions_per_week, item.days_mask, item.start_date.label("item_start"),
               item.end_date, item.time_of_day)
        .join_from(Plan.__table__, PlanVersion.__table__, version.plan_id == plan.id)
        .join(PlanItem.__table__, item.version_id == version.id)
        .where(plan.patient_id.in_(ids))
        .order_by(plan.id, version.number, item.position))
    pauses = (select(known_uuid(pause.plan_id), pause.start_date, pause.end_date)
              .join_from(PlanPause.__table__, Plan.__table__, plan.id == pause.plan_id)
              .where(plan.patient_id.in_(ids)))
    return items, pauses


@cache
def _specs_for_listed_ids():
    # Built once: on the agenda's hot path, building a statement costs more than running it.
    return _specs_statements(bindparam("ids", expanding=True))


def core_rows(statement, params=None):
    """The rows of a Core statement (plain tuples: no ORM entities, no ORM result set-up), run
    on the session's connection after the flush an ORM statement would have done."""
    return transaction_connection().execute(statement, params)


def load_specs(patient_ids) -> dict:
    """{patient_id: [PlanSpec]} for the given patient ids (a list, or a SELECT of ids).

    Two queries whatever the number of patients, plans, versions or items (one without plans).
    """
    if isinstance(patient_ids, (list, tuple, set)):
        items_stmt, pauses_stmt = _specs_for_listed_ids()
        params = {"ids": list(patient_ids)}
    else:
        items_stmt, pauses_stmt = _specs_statements(patient_ids)
        params = {}
    plans: dict = {}
    versions: dict = {}
    result: dict = {}
    for (plan_id, patient_id, start, end, version_id, number, effective_from, item_id, item_key, exercise_id,
         minutes, per_week, mask, item_start, item_end, time_of_day) in core_rows(items_stmt, params):
        spec = plans.get(plan_id)
        if spec is None:
            spec = plans[plan_id] = PlanSpec(plan_id, start, end)
            found = result.get(patient_id)
            if found is None:
                result[patient_id] = [spec]
            else:
                found.append(spec)
        version = versions.get(version_id)
        if version is None:
            version = versions[version_id] = (number, effective_from, [])
            spec.versions.append(version)
        version[2].append(ItemSpec(item_key, exercise_id, minutes, per_week, mask, item_start, item_end,
                                   time_of_day, plan_id, item_id, number))
    if plans:
        for plan_id, start, end in core_rows(pauses_stmt, params):
            plans[plan_id].pauses.append((start, end))
    return result
