"""Plans as plain data for adherence and the agenda: a fixed number of queries.

Plain Core rows, no ORM entities: on the agenda's hot path, the ORM's statement and result
set-up cost more Python than the database's work, and parsing the same ids again on every read
(SQLite gives them as text) more than the rest of the rows.
"""
import uuid

from sqlalchemy import (BindParameter, DateTime, Integer, String, TypeDecorator, bindparam, cast, literal_column, null,
                        select, type_coerce, union_all)
from sqlalchemy.types import NullType

from app.common.db import transaction_connection
from app.common.memo import ParsedOnce
from app.plans.models import Plan, PlanItem, PlanPause, PlanVersion
from app.plans.schedule import ItemSpec, PlanSpec

# {id as text: uuid.UUID}. Adherence for 10,000 patients reads some 85,000 distinct ids (patients,
# plans, items, keys); a memo smaller than a batch is cleared in the middle of it, and every id is
# then parsed again and compared by UUID.__eq__ (10-30% of the batch's CPU). About 32 MB when full.
_UUIDS = ParsedOnce(uuid.UUID, kept=150_000, fixed={None: None})


class KnownUuid(TypeDecorator):
    """An id read as text (known_uuid casts it in the SELECT list) whose values come from a
    per-process memo instead of being parsed on every row: the same plan, item and patient ids
    are read on every agenda. On every database, PostgreSQL too: its driver's native UUIDs come
    as new uuid.UUID objects on every row, and each dict look-up of one then costs two Python
    calls (UUID.__hash__, and __eq__ against the equal key); the memo's are the same objects
    every time (no __eq__), and text is cheaper for the driver to read. (A TypeDecorator: a
    dialect would replace a String subclass by its own String type.)"""

    impl = String
    cache_ok = True

    def result_processor(self, dialect, coltype):
        return _UUIDS.__getitem__


def as_uuid(raw):
    """An id as a driver gives it (SQLite: text) as a uuid.UUID, from the memo."""
    return _UUIDS[raw] if type(raw) is str else raw


def id_text(column):
    """A uuid column as text in a SELECT list (on SQLite, as stored)."""
    return cast(column, String)


def known_uuid(column, name: str | None = None):
    return type_coerce(id_text(column), KnownUuid).label(name or column.name)


# One statement for a plan's rows and its pauses: a UNION ALL whose rows say what they are in
# their first column (KIND), in the same columns (a pause's plan id, first and last day in the
# plan's id, start_date and ended_on). A caller may add rows of its own kinds in these columns
# (spec_branch): the agenda reads its week's sessions and the library's freshness with them.
PLAN_ROW, PAUSE_ROW = 1, 2
SPEC_COLUMNS = ("id", "patient_id", "start_date", "ended_on", "number", "effective_from",
                "item_id", "item_key", "exercise_id", "minutes", "sessions_per_week", "days_mask",
                "item_start", "end_date", "time_of_day", "position", "started_at")
_ID_COLUMNS = {"id", "patient_id", "item_id", "item_key", "exercise_id"}  # read as known_uuid (text in SQL)
AT = {name: index for index, name in enumerate(SPEC_COLUMNS, start=1)}  # a column's place in a row (after kind)


def _kind(kind: int):
    return literal_column(str(kind), Integer).label("kind")


def spec_branch(kind: int, ids=None, where=(), from_=None, **columns):
    """A SELECT in the columns of the specs statement: `columns` by SPEC_COLUMNS name, NULL in the
    others; its rows have `kind` (>= 10 for a caller's own kinds) in the first column."""
    unknown = set(columns) - set(SPEC_COLUMNS)
    if unknown:
        raise ValueError(f"not a column of the specs statement: {sorted(unknown)}")
    stmt = select(_kind(kind), *((id_text(columns[name]) if name in _ID_COLUMNS else columns[name]).label(name)
                                 if name in columns else null().label(name) for name in SPEC_COLUMNS))
    if from_ is not None:
        stmt = stmt.select_from(from_)
    return stmt.where(*where)


def matches(column, ids):
    """column = the id, or IN the ids: for ids as patients_statement gives them to a build."""
    return column == ids if isinstance(ids, BindParameter) and not ids.expanding else column.in_(ids)


_BUILT: dict = {}


def patients_statement(build, patient_ids) -> tuple:
    """(statement, params) of build(ids) for patient ids given as a list, tuple or set (built once
    per build for one id, bound as "patient_id", and once for several, "ids") or as a SELECT of
    ids (built on each call). build uses matches(column, ids). On the daily reads, building a
    statement costs more than running it, and an IN list more than an equality."""
    if not isinstance(patient_ids, (list, tuple, set)):
        return build(patient_ids), {}
    ids = list(patient_ids)
    one = len(ids) == 1
    stmt = _BUILT.get((build, one))
    if stmt is None:
        stmt = _BUILT[(build, one)] = build(bindparam("patient_id") if one else bindparam("ids", expanding=True))
    return stmt, ({"patient_id": ids[0]} if one else {"ids": ids})


# A moment's column (a caller's, e.g. a last session's start: NULL in the plans' rows), typed in
# SQL for PostgreSQL's UNION and untyped for SQLAlchemy: no result processing on every row.
_NO_MOMENT = type_coerce(cast(null(), DateTime(timezone=True)), NullType()).label("started_at")


def _specs_branches(ids) -> list:
    """The plan rows and pause rows of the patients (ids: a list parameter or a SELECT)."""
    plan, version, item, pause = (m.__table__.c for m in (Plan, PlanVersion, PlanItem, PlanPause))
    # The first branch gives every column its type (the others are read with it).
    items = (
        select(_kind(PLAN_ROW), known_uuid(plan.id), known_uuid(plan.patient_id), plan.start_date,
               plan.ended_on, version.number, version.effective_from,
               known_uuid(item.id, "item_id"), known_uuid(item.item_key), known_uuid(item.exercise_id),
               item.minutes, item.sessions_per_week, item.days_mask, item.start_date.label("item_start"),
               item.end_date, item.time_of_day, item.position, _NO_MOMENT)
        .join_from(Plan.__table__, PlanVersion.__table__, version.plan_id == plan.id)
        .join(PlanItem.__table__, item.version_id == version.id)
        .where(matches(plan.patient_id, ids)))
    pauses = spec_branch(PAUSE_ROW, id=pause.plan_id, start_date=pause.start_date, ended_on=pause.end_date,
                         from_=PlanPause.__table__.join(Plan.__table__, plan.id == pause.plan_id),
                         where=[matches(plan.patient_id, ids)])
    return [items, pauses]


def specs_statement(ids, *more):
    """The specs statement of the patients (ids as patients_statement gives them), with the
    caller's branches (spec_branch) after; rows by kind, a plan's by version and position."""
    union = union_all(*_specs_branches(ids), *more)
    cols = union.selected_columns
    return union.order_by(cols.kind, cols.id, cols.number, cols.position)


def core_rows(statement, params=None):
    """The rows of a Core statement (plain tuples: no ORM entities, no ORM result set-up), run
    on the session's connection after the flush an ORM statement would have done."""
    return transaction_connection().execute(statement, params)


def load_specs(patient_ids) -> dict:
    """{patient_id: [PlanSpec]} for the given patient ids (a list, or a SELECT of ids).

    One query whatever the number of patients, plans, versions or items.
    """
    return specs_from_rows(core_rows(*patients_statement(specs_statement, patient_ids)).all())


def specs_from_rows(rows, others: list | None = None) -> dict:
    """{patient_id: [PlanSpec]} from the rows of a specs statement (in its order); rows of the
    caller's kinds are appended to `others`."""
    plans: dict = {}
    result: dict = {}
    for row in rows:
        kind = row[0]
        if kind == PLAN_ROW:
            (_kind_, plan_id, patient_id, start, end, number, effective_from, item_id, item_key, exercise_id,
             minutes, per_week, mask, item_start, item_end, time_of_day, _position, _started) = row
            spec = plans.get(plan_id)
            if spec is None:
                spec = plans[plan_id] = PlanSpec(plan_id, start, end)
                found = result.get(patient_id)
                if found is None:
                    result[patient_id] = [spec]
                else:
                    found.append(spec)
            versions = spec.versions  # a plan's rows come by version number (a plan's numbers are unique)
            if not versions or versions[-1][0] != number:
                versions.append((number, effective_from, []))
            versions[-1][2].append(ItemSpec(item_key, exercise_id, minutes, per_week, mask, item_start, item_end,
                                            time_of_day, plan_id, item_id, number))
        elif kind == PAUSE_ROW:
            spec = plans.get(row[1])
            if spec is not None:  # (a plan has items in every version)
                spec.pauses.append((row[3], row[4]))
        elif others is not None:
            others.append(row)
    return result
