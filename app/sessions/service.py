"""Logging sessions: idempotent PUT by device-made id, offline batches, edits, soft deletes,
the sync feed, and the urgent safety answers."""
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache

import marshmallow as ma
from flask import current_app
from sqlalchemy import bindparam, cast, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from app.audit import rows as audit_rows
from app.audit import service as audit
from app.access.policy import LOG_SESSION, READ, patient_for
from app.common.clock import local_date
from app.common.db import insert_ignoring_conflict, transaction_connection, writes_from_here
from app.common.i18n import choose_language
from app.common.pagination import Page, paginate
from app.common.types import utcnow
from app.errors import TYPE_BASE, ApiError, _slug, client_refusal, describe
from app.exercises.models import Exercise
from app.exercises.service import exercise_key
from app.extensions import db, fields_with_nul
from app.plans.models import Plan, PlanItem, PlanVersion
from app.sessions import content, rollups
from app.sessions.feed import FeedCounter, encode_cursor, read_cursor
from app.sessions.models import ExerciseSession
from app.sessions.schemas import BatchItemSchema, SessionSchema
from app.sessions import signals
from app.sessions.signals import session_saving, session_written

log = logging.getLogger("standstrong.sessions")
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass
class _Context:
    """What validating a request's sessions needs. A batch loads it all at once; a single
    PUT looks up only its own plan item or exercise."""

    patient: object
    actor: object
    now: datetime
    language: str
    preloaded: bool = False
    items: dict = field(default_factory=dict)      # item_key -> (plan_id, exercise row)
    exercises: dict = field(default_factory=dict)  # exercise_key (id or slug) -> exercise row
    written: list = field(default_factory=list)    # (session, change) to announce after commit
    feed: "FeedCounter | None" = None                   # the patient's change counter, once locked
    stored_ids: set | None = None                  # a batch: which of its ids the patient has
    audit_row: dict | None = None                  # the write's audit row, until a statement inserts it
    ridden: dict | None = None                     # session id -> the names of write_with_create's riders run

    def preload(self) -> "_Context":
        for key, plan_id, *exercise in self.execute(_items_of_patient(), {"patient_id": self.patient.id}):
            self.items[key] = (plan_id, _ExerciseRow(*exercise))
        for row in self.execute(_exercises()):
            self._remember(_ExerciseRow(*row))
        self.preloaded = True
        return self

    def execute(self, stmt, params=None):
        """A Core statement on the transaction's connection (taken with the feed lock)."""
        return self.feed.connection.execute(stmt, params)

    def _remember(self, exercise) -> None:
        self.exercises[exercise.id] = self.exercises[exercise.slug] = exercise

    def item(self, key):
        if not self.preloaded and key not in self.items:
            rows = self.execute(_items_of_patient(by_key=True), {"patient_id": self.patient.id, "key": key}).all()
            if rows:
                key, plan_id, *exercise = rows[-1]
                self.items[key] = (plan_id, _ExerciseRow(*exercise))
        return self.items.get(key)

    def exercise(self, ref: str):
        key = exercise_key(ref)
        if not self.preloaded and key not in self.exercises:
            exercises = Exercise.__table__
            column = exercises.c.id if isinstance(key, uuid.UUID) else exercises.c.slug
            row = self.execute(_exercises().where(column == key)).first()
            if row:
                self._remember(_ExerciseRow(*row))
        return self.exercises.get(key)


@cache
def _items_of_patient(by_key: bool = False):
    """Plan items with what validation needs of their exercise (not the translated texts);
    in version order, so the latest version wins. Built once, on the tables (a Core statement:
    none of the ORM's compile and loading steps): it runs on every session PUT."""
    items, versions, plans = PlanItem.__table__, PlanVersion.__table__, Plan.__table__
    exercises = Exercise.__table__
    stmt = (select(items.c.item_key, versions.c.plan_id, exercises.c.id, exercises.c.slug, exercises.c.measures)
            .join(versions, versions.c.id == items.c.version_id)
            .join(plans, plans.c.id == versions.c.plan_id)
            .join(exercises, exercises.c.id == items.c.exercise_id)
            .where(plans.c.patient_id == bindparam("patient_id")).order_by(versions.c.number))
    return stmt.where(items.c.item_key == bindparam("key")) if by_key else stmt


@cache
def _exercises():
    exercises = Exercise.__table__
    return select(exercises.c.id, exercises.c.slug, exercises.c.measures)


@dataclass(frozen=True)
class _ExerciseRow:
    id: uuid.UUID
    slug: str
    measures: list


def _patient_and_context(actor, patient_ref, language: str | None, resource=None) -> _Context:
    """The patient the actor may log sessions for (the access policy) and the write's context,
    its feed locked (_context, then _lock)."""
    ctx, audit_row = _context(actor, patient_ref, language, resource)
    _lock(ctx, audit_row)
    return ctx


def _context(actor, patient_ref, language: str | None, resource=None) -> tuple[_Context, dict]:
    """(the write's context, its audit row not yet inserted): the access policy's reads only."""
    carried = []
    patient = patient_for(actor, patient_ref, LOG_SESSION, resource=resource, carry_audit=carried)
    return _Context(patient, actor, utcnow(), choose_language(language, patient.language)), carried[0]


def _lock(ctx: _Context, audit_row: dict, reserve: int = 0, carry_audit: bool = False) -> None:
    """The policy's audit row inserted, then the patient's feed locked. With carry_audit on
    PostgreSQL the row is left for the write's own insert to carry (a WITH of it: one round trip
    fewer), or for _commit to insert."""
    connection = transaction_connection()
    if carry_audit and connection.dialect.name == "postgresql":
        ctx.audit_row = audit_row
    else:
        audit_rows.insert_row(audit_row, connection)
    ctx.feed = FeedCounter.lock(ctx.patient.id, reserve, connection)
    # The write's time, taken again once the lock is held (after any wait for it): a patient's
    # sessions then carry created_at and updated_at in their feed order, and the rules, which
    # take a patient's latest alert by updated_at, never see a later write as an earlier one.
    ctx.now = utcnow()


def _invalid(errors: dict, detail: str | None = None) -> ApiError:
    return ApiError(422, detail or describe(errors, "json"), title="Validation failed", errors=errors)


def _check_times(ctx: _Context, data: dict) -> None:
    cfg = current_app.config
    started = data["started_at"]
    if started > ctx.now + FUTURE_TOLERANCE:
        raise _invalid({"started_at": ["Starts more than 5 minutes in the future."]})
    if started < ctx.now - timedelta(days=cfg["SESSION_BACKFILL_DAYS"]):
        raise _invalid({"started_at": [f"Older than {cfg['SESSION_BACKFILL_DAYS']} days: too late to log."]})


def _looked_up(ctx: _Context, data: dict) -> tuple:
    """(plan_id, exercise_id) for the session: its plan item (the patient's) or exercise, and its
    measures checked against what the exercise records."""
    if "item_key" in data:
        found = ctx.item(data["item_key"])
        if found is None:
            raise _invalid({"item_key": ["Not an item of this patient's plans."]})
        plan_id, exercise = found
    else:
        plan_id, exercise = None, ctx.exercise(data["exercise"])
        if exercise is None:
            raise _invalid({"exercise": ["No exercise with this id or slug."]})
    allowed = {m["key"]: m for m in exercise.measures}
    errors = {}
    for key, value in data.get("measures", {}).items():
        measure = allowed.get(key)
        if measure is None:
            errors[key] = [f"{exercise.slug} records: {', '.join(allowed) or 'minutes only'}."]
        elif not measure["min"] <= value <= measure["max"]:
            errors[key] = [f"Between {measure['min']} and {measure['max']} {measure['unit']}."]
    if errors:
        raise _invalid({"measures": errors})
    return plan_id, exercise.id


def _checked_hash(ctx: _Context, data: dict) -> str:
    """The body's hash, once its times are checked (a 422 otherwise)."""
    _check_times(ctx, data)
    return _body_hash(data)


def _body_hash(data: dict) -> str:
    canonical = {k: v for k, v in data.items() if k != "id"}
    canonical["started_at"] = data["started_at"].astimezone(timezone.utc).isoformat()
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


def _values(ctx: _Context, data: dict, body_hash: str, resolved: tuple | None) -> dict:
    """The columns a write sets (the whole body sent, what follows from it, who and when);
    resolved: (plan_id, exercise_id), None when the insert takes them from the plan item."""
    symptoms = data.get("symptoms", [])
    alerts = content.alerts_for(symptoms, ctx.patient.neurological_level)
    found = {} if resolved is None else {"plan_id": resolved[0], "exercise_id": resolved[1]}
    return {"item_key": data.get("item_key"), **found,
            "started_at": data["started_at"], "local_date": local_date(data["started_at"], ctx.patient.time_zone),
            "duration_minutes": data["duration_minutes"], "measures": data.get("measures", {}),
            "exertion": data.get("exertion"), "pain": data.get("pain"), "symptoms": symptoms,
            "note": data.get("note"), "alerts": alerts, "needs_review": bool(alerts), "body_hash": body_hash,
            "updated_by_id": ctx.actor.id, "updated_at": ctx.now, "feed_position": ctx.feed.next()}


_COLUMNS = tuple(c.key for c in ExerciseSession.__table__.columns)
_new_instance = ExerciseSession.__mapper__.class_manager.new_instance


def _snapshot(values) -> ExerciseSession:
    """A transient ExerciseSession holding a row's values (never added to the db session): what
    view() and the signals' receivers read. Filled directly, not through the instrumented
    constructor (about 200 calls for 22 columns): it runs on every write."""
    session = _new_instance()
    session.__dict__.update(values)
    return session


def _upsert(ctx: _Context, session_id: uuid.UUID, data: dict, base: int | None,
            body_hash: str | None = None) -> tuple[ExerciseSession, str]:
    """Create, or recognise a resend, or edit the version the sender based it on (`base`).

    Runs under the patient's feed lock, so the row read here is the latest committed one and
    stays so until this transaction commits; the stored body is always one sent whole. Core
    statements on the table throughout; the session returned is a snapshot of the row written
    (or found), not an object of the db session. body_hash: given when the caller has checked
    the times and hashed the body already (a single PUT, before the lock).
    """
    if body_hash is None:
        body_hash = _checked_hash(ctx, data)
    resolved = None  # (plan_id, exercise_id), once looked up
    stored = None
    if ctx.stored_ids is not None:  # a batch: its plan items are loaded, and it knows its stored ids
        resolved = _looked_up(ctx, data)
        if session_id in ctx.stored_ids:
            stored = _stored_row(ctx, session_id)
    if stored is None:
        values = {"id": session_id, "patient_id": ctx.patient.id, "logged_by_id": ctx.actor.id,
                  "logged_by_role": ctx.actor.role, "created_at": ctx.now, "revision": 1, "deleted_at": None}
        if resolved is None and "item_key" in data and not data.get("measures"):
            # A single PUT of a plan item (the usual one): one statement inserts it with its item's
            # plan and exercise if the item is the patient's and the id is free; else it inserts
            # nothing and the look-ups below say which (nothing to check its measures against).
            values.update(_values(ctx, data, body_hash, None))
            dialect = ctx.feed.connection.dialect.name
            if dialect == "postgresql":  # its parameters named apart from the WITHs' columns
                params = {_NEW + key: value for key, value in values.items()}
                params["item_patient"] = ctx.patient.id
            else:
                params = {**values, "item_patient": ctx.patient.id}
            riders = signals.create_riders if dialect == "postgresql" else ()  # as WITHs of the insert
            for _name, _build, ride_params in riders:
                params.update(ride_params(values))
            carrying_audit = dialect == "postgresql" and ctx.audit_row is not None
            if carrying_audit:
                params.update(audit_rows.carried_params(ctx.audit_row))
                ctx.audit_row = None
            if dialect == "postgresql":
                params.update(rollups.ride_params(values))
            row = ctx.execute(_insert_on_plan_statement(dialect, carrying_audit, riders), params).first()
            if row is not None:
                values.update(plan_id=row.plan_id, exercise_id=row.exercise_id)
                if riders:
                    ctx.ridden = {**(ctx.ridden or {}), session_id: _rider_names(riders)}
            inserted = row is not None
            counted = dialect == "postgresql"  # the day's rollup rode with the insert
        else:
            resolved = resolved or _looked_up(ctx, data)
            values.update(_values(ctx, data, body_hash, resolved))
            # Insert-if-absent: a resend, or the same id from another patient at the same moment, cannot 500.
            inserted = insert_ignoring_conflict(ExerciseSession, values, ["id"], ctx.feed.connection) == 1
            counted = False
        if inserted:
            if ctx.stored_ids is not None:
                ctx.stored_ids.add(session_id)
            fresh = _snapshot(values)
            if not counted:
                rollups.added(ctx.feed.connection, fresh)
            ctx.written.append((fresh, "created"))
            return fresh, "created"
        ctx.feed.give_back()
        stored = _stored_row(ctx, session_id) if ctx.stored_ids is None else None
        if stored is None:
            resolved = resolved or _looked_up(ctx, data)  # 422 when the item is not the patient's
            raise ApiError(409, "This session id is already used; make a new UUID.", title="Conflict")
    session = _snapshot(stored._mapping)
    resend = session.deleted_at is None and session.body_hash == body_hash
    if resolved is None and not resend:
        # A resend needs no look-up: this body was accepted for this patient, and plan items are
        # history (never removed), so its item is still theirs. Anything else answers as before.
        resolved = _looked_up(ctx, data)
    if session.deleted_at is not None:
        raise _conflict(ctx, session, "This session was deleted.", "session-deleted")
    if resend:
        return session, "unchanged"  # a resend (its first answer may have been lost)
    _check_edit_window(ctx, session)
    _check_base(ctx, session, base)
    values = {**_values(ctx, data, body_hash, resolved), "revision": session.revision + 1}
    ctx.execute(_edit_statement(), {"edited_id": session_id, **values})
    edited = _snapshot({**stored._mapping, **values})
    rollups.moved(ctx.feed.connection, session, edited)
    ctx.written.append((edited, "updated"))
    return edited, "updated"


@cache
def _rider_names(riders: tuple) -> frozenset:
    """The names of the riders the statement ran: the tuple it was built from, not the registry
    as it may read by now (signals.create_riders)."""
    return frozenset(name for name, _build, _params in riders)


_NEW = "new_"  # PostgreSQL: the prefix of _insert_on_plan_statement's parameters of the session's columns


@cache
def _insert_on_plan_statement(dialect: str, carrying_audit: bool = False, riders: tuple = ()):
    """INSERT ... SELECT: the session, with the plan and exercise of its plan item (the latest
    version's), only if the item is one of the patient's plans; ON CONFLICT (id) DO NOTHING.
    Returns the plan and exercise of a row inserted, no row otherwise. Built once per dialect.
    PostgreSQL: the insert is a WITH of a SELECT of what it returns, beside the day's rollup
    (rollups.ride_with_insert) and the riders' writes (signals.write_with_create), both run only
    if a row was inserted, and, with carrying_audit,
    the INSERT of the write's audit row (audit.rows.carried_insert); data-modifying WITHs run
    once, referenced or not, on the statement's one snapshot. There the session's parameters are
    named _NEW + column: a WITH's UPDATE or INSERT would take a parameter named as one of its
    table's columns for a value to set. Keep its SQL under 4 kB and its parameters at most 50
    (about 3.9 kB and 45 now, with the reminders' rider and the audit row): psycopg parses the text of a longer one again on every execution
    (_queries.MAX_CACHED_STATEMENT_LENGTH/_PARAMS), some 700 calls a PUT."""
    sessions = ExerciseSession.__table__
    items, versions, plans = PlanItem.__table__, PlanVersion.__table__, Plan.__table__
    names = [c.key for c in sessions.columns if c.key not in ("plan_id", "exercise_id")]

    prefix = _NEW if dialect == "postgresql" else ""

    def value(name):  # PostgreSQL types a SELECT list's parameters as text unless told
        param = bindparam(prefix + name, type_=sessions.c[name].type)
        return cast(param, sessions.c[name].type) if dialect == "postgresql" else param

    source = (select(*(value(name) for name in names), versions.c.plan_id, items.c.exercise_id)
              .select_from(items).join(versions, versions.c.id == items.c.version_id)
              .join(plans, plans.c.id == versions.c.plan_id)
              .where(plans.c.patient_id == bindparam("item_patient"),
                     items.c.item_key == bindparam(prefix + "item_key", type_=items.c.item_key.type))
              .order_by(versions.c.number.desc()).limit(1))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (insert(sessions).from_select([*names, "plan_id", "exercise_id"], source)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(sessions.c.plan_id, sessions.c.exercise_id))
    if dialect != "postgresql":
        return stmt
    inserted = stmt.cte("inserted")
    stmt = select(inserted.c.plan_id, inserted.c.exercise_id)
    only_if_inserted = exists(select(inserted.c.plan_id))
    stmt = stmt.add_cte(rollups.ride_with_insert(only_if_inserted, _NEW).cte("rollup"))
    for name, build, _params in riders:
        stmt = stmt.add_cte(build(only_if_inserted).cte(f"ride_{name}"))
    if carrying_audit:
        stmt = stmt.add_cte(audit_rows.carried_insert().cte("audit_row"))
    return stmt


@cache
def _edit_statement():
    sessions = ExerciseSession.__table__
    edited = ("item_key", "plan_id", "exercise_id", "started_at", "local_date", "duration_minutes", "measures",
              "exertion", "pain", "symptoms", "note", "alerts", "needs_review", "body_hash", "updated_by_id",
              "updated_at", "feed_position", "revision")
    return update(sessions).where(sessions.c.id == bindparam("edited_id")).values(
        {name: bindparam(name) for name in edited})


@cache
def _stored_row_statement():
    sessions = ExerciseSession.__table__
    return (select(sessions).where(sessions.c.id == bindparam("stored_id"),
                                   sessions.c.patient_id == bindparam("stored_patient")).with_for_update())


def _stored_row(ctx: _Context, session_id):
    """The patient's session as a row, locked (redundant under the feed lock, kept as a second
    guard). Never another patient's row: locking those could make two patients' writes deadlock."""
    return ctx.execute(_stored_row_statement(), {"stored_id": session_id, "stored_patient": ctx.patient.id}).first()


def _stored(patient, session_id) -> ExerciseSession | None:
    """The patient's session as an ORM object (a delete changes it), locked as _stored_row."""
    return db.session.scalars(select(ExerciseSession)
                              .where(ExerciseSession.id == session_id, ExerciseSession.patient_id == patient.id)
                              .with_for_update().execution_options(populate_existing=True)).first()


def _check_base(ctx: _Context, session: ExerciseSession, base: int | None) -> None:
    """A change must say which revision it was made on; only the current one may be changed.

    Without a base a stale offline edit cannot be told from a fresh one, and the stale one is
    exactly the edit that would wipe a safety report (symptoms, alerts, review mark) that a
    caregiver added meanwhile. So a change without a base is refused (428), not applied.
    """
    if base is None:
        raise _conflict(ctx, session, "Say which revision you changed: send base_revision (or If-Match) "
                                      "with the revision you last had; the current one is in `current`.",
                        "base-revision-required", status=428, title="Precondition Required")
    if base != session.revision:
        alert = " It carries a safety report your edit did not see." if session.alerts else ""
        raise _conflict(ctx, session, f"This session changed since revision {base}: it is at revision "
                                      f"{session.revision}.{alert} Show `current`, and resend your change "
                                      f"with base_revision {session.revision} if it still applies.",
                        "stale-revision")


def _conflict(ctx: _Context, session: ExerciseSession, detail: str, slug: str, status: int = 409,
              title: str = "Conflict") -> ApiError:
    return ApiError(status, detail, title=title, type_slug=slug,
                    current=SessionSchema().dump(view(session, ctx.language)))


def _check_edit_window(ctx: _Context, session: ExerciseSession) -> None:
    hours = current_app.config["SESSION_EDIT_WINDOW_HOURS"]
    if ctx.now > session.started_at + timedelta(hours=hours):
        raise _conflict(ctx, session, f"Sessions can be changed for {hours} hours after they start; this one "
                                      "is older. Log a new session instead.", "edit-window-closed")


_NOTHING_RIDDEN = frozenset()


def _commit(ctx: _Context, expire: bool = True) -> None:
    """Save the feed counter, let receivers add to the transaction (session_saving), commit.
    expire=False: the ORM objects loaded (the account, the patient) are kept as they are, not
    expired (a single PUT wrote none of them: its writes are Core statements), which is half
    the commit's cost; whatever the request reads of them after the commit is as it was."""
    if ctx.audit_row is not None:  # not carried by a statement of the write
        audit_rows.insert_row(ctx.audit_row, ctx.feed.connection)
        ctx.audit_row = None
    ctx.feed.save()
    app = current_app._get_current_object()
    for session, change in ctx.written:
        ridden = ctx.ridden.get(session.id, _NOTHING_RIDDEN) if ctx.ridden else _NOTHING_RIDDEN
        session_saving.send(app, session=session, change=change, locked_reads=ctx.feed.locked_reads,
                            connection=ctx.feed.connection, ridden=ridden)
    orm_session = db.session()
    if expire:
        orm_session.commit()
        return
    kept, orm_session.expire_on_commit = orm_session.expire_on_commit, False
    try:
        orm_session.commit()
    finally:
        orm_session.expire_on_commit = kept


def _announce(ctx: _Context) -> None:
    app = current_app._get_current_object()
    for session, change in ctx.written:
        session_written.send(app, session=session, change=change)


def view(session: ExerciseSession, language: str) -> dict:
    # The values held (a snapshot's, a loaded row's) straight from the instance: through the
    # instrumented attributes it cost two calls a column on every write. One not held (expired,
    # never loaded) is read through its attribute, which loads it.
    held = session.__dict__
    out = {key: held[key] if key in held else getattr(session, key) for key in _COLUMNS}
    out["deleted"] = out["deleted_at"] is not None
    out["safety_alerts"] = [content.alert_view(code, language) for code in out["alerts"] or []]
    return out


# --- the routes' entry points -------------------------------------------------------------

def put_session(actor, patient_ref, session_id, data: dict, language: str | None = None, *,
                if_match: int | None = None) -> tuple[dict, int]:
    """language (of the safety answers): the one asked for, None for the patient's own.
    if_match: the revision from an If-Match header; it must agree with base_revision."""
    base = _base_revision(data.pop("base_revision", None), if_match)
    # The policy's reads and the time checks (against the moment the request arrived) before the
    # write: on SQLite they run, like the route's login check, before the writer lock
    # (writes_from_here), which other workers' writes queue for.
    ctx, audit_row = _context(actor, patient_ref, language, resource=session_id)
    body_hash = _checked_hash(ctx, data)
    with writes_from_here():
        _lock(ctx, audit_row, reserve=1, carry_audit=True)
        session, status = _upsert(ctx, session_id, data, base, body_hash)
        _commit(ctx, expire=False)  # (SQLite's writer lock is released here: the rest runs without it)
    out = view(session, ctx.language)
    _announce(ctx)
    return out, 201 if status == "created" else 200


def _base_revision(field_value: int | None, if_match: int | None) -> int | None:
    if field_value is not None and if_match is not None and field_value != if_match:
        raise _invalid({"base_revision": ["Differs from If-Match; send one of them."]})
    return field_value if field_value is not None else if_match


def batch(actor, patient_ref, raw_items: list, language: str | None = None) -> dict:
    ctx = _patient_and_context(actor, patient_ref, language).preload()
    ctx.stored_ids = _stored_ids(ctx.patient, raw_items)
    results, loaded = _loaded(raw_items)
    # Written in id order, not the batch's: two batches creating the same new ids (two patients',
    # whose feed locks differ) then wait on each other's inserts in one order, never in a cycle
    # (PostgreSQL's deadlock, which failed one of them). One id sent twice keeps its order.
    for index, session_id, data in sorted(loaded, key=lambda item: (item[1], item[0])):
        results[index] = _batch_item(ctx, index, session_id, data)
    _commit(ctx)
    _announce(ctx)
    counts = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return {"results": results, "counts": counts}


def _loaded(raw_items: list) -> tuple[list, list]:
    """(the results so far: the problem of each item that does not load, None for the others;
    (index, id, data) of the items that load)."""
    schema = BatchItemSchema()
    results, loaded = [None] * len(raw_items), []
    for index, raw in enumerate(raw_items):
        try:
            nul = fields_with_nul(raw)  # the request parser's check, item by item (BatchInSchema)
            if nul:
                raise ma.ValidationError(nul)
            data = schema.load(raw)
        except ma.ValidationError as error:
            sid = raw.get("id") if isinstance(raw, dict) else None
            results[index] = _failed(index, sid, 422, "Validation failed", error.messages)
            continue
        loaded.append((index, data.pop("id"), data))
    return results, loaded


def _batch_item(ctx: _Context, index: int, session_id, data: dict) -> dict:
    """One item written in its own savepoint: its result, or its problem (the others unaffected)."""
    try:
        # The connection's savepoint, not the db session's: that one is emitted only when the
        # session itself runs a statement, and an item's statements run on the connection (a
        # refused one would then abort PostgreSQL's whole transaction, every item with it).
        with ctx.feed.connection.begin_nested():
            session, status = _upsert(ctx, session_id, data, data.pop("base_revision", None))
    except ApiError as error:
        return _failed(index, str(session_id), error.code, error.title or error.name,
                       error.errors, error.description, error.type_slug, error.extra)
    except SQLAlchemyError as error:  # its savepoint is rolled back: the transaction goes on
        return _refused_by_database(index, session_id, error)
    return {"index": index, "id": str(session_id), "status": status,
            "session": view(session, ctx.language), "problem": None}


def _refused_by_database(index: int, session_id, error: SQLAlchemyError) -> dict:
    """A batch item whose write the database refused: the problem the same session alone would
    get (errors.client_refusal), else a 503 to send it again; the others unaffected. The log names
    the error's class only: its message quotes the statement and the row's values."""
    log.warning("batch item %d not stored: %s", index, type(error).__name__)
    problem = client_refusal(error) or ApiError(503, "The database did not store this session; send it again shortly.",
                                                title="Not stored")
    return _failed(index, session_id, problem.code, problem.title, detail=problem.description)


def _stored_ids(patient, raw_items: list) -> set:
    """Which of the batch's ids the patient already has, in one query (the rest are inserted
    without a look-up; the feed lock keeps the answer true for the whole batch)."""
    ids = set()
    for raw in raw_items:
        try:
            ids.add(uuid.UUID(raw["id"]))
        except (TypeError, KeyError, ValueError, AttributeError):
            continue
    return set(db.session.scalars(select(ExerciseSession.id).where(
        ExerciseSession.patient_id == patient.id, ExerciseSession.id.in_(ids)))) if ids else set()


def _failed(index, sid, status, title, errors=None, detail=None, type_slug=None, extra=None) -> dict:
    return {"index": index, "id": str(sid) if sid is not None else None, "status": "error", "session": None,
            "problem": {"type": TYPE_BASE + (type_slug or _slug(title)), "status": status, "title": title,
                        "detail": detail or describe(errors, "json"), **({"errors": errors} if errors else {}),
                        **(extra or {})}}


def _own_session(patient, session_id) -> ExerciseSession:
    session = db.session.get(ExerciseSession, session_id)
    if session is None or session.patient_id != patient.id:
        raise ApiError(404, "No such session for this patient.", title="Not Found")
    return session


def get_session(actor, patient_ref, session_id, language: str | None = None) -> dict:
    patient = patient_for(actor, patient_ref, READ, resource=session_id)
    return view(_own_session(patient, session_id), choose_language(language, patient.language))


def delete_session(actor, patient_ref, session_id, language: str | None = None, *,
                   if_match: int | None = None) -> None:
    """if_match: the revision the sender last had (If-Match); required, as for an edit."""
    ctx = _patient_and_context(actor, patient_ref, language, resource=session_id)
    patient = ctx.patient
    session = _stored(patient, session_id)
    if session is None:
        raise ApiError(404, "No such session for this patient.", title="Not Found")
    if session.deleted_at is not None:
        return
    _check_edit_window(ctx, session)
    _check_base(ctx, session, if_match)
    session.deleted_at = session.updated_at = ctx.now
    session.updated_by_id = actor.id
    session.revision += 1
    session.feed_position = ctx.feed.next()
    audit.record("delete_session", actor, patient_id=patient.id, resource_id=session.id)
    db.session.flush()  # the row deleted before its day's rollup reads the block's latest start again
    rollups.removed(ctx.feed.connection, session)
    ctx.feed.save()
    db.session.commit()
    session_written.send(current_app._get_current_object(), session=session, change="deleted")


def list_sessions(actor, patient_ref, args: dict | None = None, language: str | None = None) -> Page:
    """The page (args: page, per_page, date_from, date_to, needs_review) of the sessions, newest
    first, in the language asked (else the patient's)."""
    args = args or {}
    patient = patient_for(actor, patient_ref, READ)
    stmt = select(ExerciseSession).where(ExerciseSession.patient_id == patient.id,
                                         ExerciseSession.deleted_at.is_(None))
    if args.get("date_from"):
        stmt = stmt.where(ExerciseSession.local_date >= args["date_from"])
    if args.get("date_to"):
        stmt = stmt.where(ExerciseSession.local_date <= args["date_to"])
    if "needs_review" in args:
        stmt = stmt.where(ExerciseSession.needs_review.is_(args["needs_review"]))
    served = choose_language(language, patient.language)
    return paginate(stmt.order_by(ExerciseSession.started_at.desc(), ExerciseSession.id), args) \
        .map(lambda s: view(s, served))


# --- the sync feed ------------------------------------------------------------------------

def changes(actor, patient_ref, since: str | None = None, limit: int = 200,
            language: str | None = None) -> dict:
    """Sessions created, updated or deleted after the cursor, in feed (commit) order.

    Each session appears once, at the position of its latest write: a follower that applies
    the items in order, by id and revision, has every committed change of the patient. A write
    still in flight has no position visible yet; when it commits its position is above every
    position already handed out, so no cursor can have passed it.
    """
    patient = patient_for(actor, patient_ref, READ)
    after = read_cursor(since, patient.id) if since else 0
    rows = list(db.session.scalars(
        select(ExerciseSession).where(ExerciseSession.patient_id == patient.id,
                                      ExerciseSession.feed_position > after)
        .order_by(ExerciseSession.feed_position).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    language = choose_language(language, patient.language)
    reached = rows[-1].feed_position if rows else after
    return {"items": [view(s, language) for s in rows], "next_cursor": encode_cursor(patient.id, reached),
            "has_more": has_more}


def symptom_checklist(language: str, args: dict | None = None) -> Page:
    """In the seed's order; args: page, per_page."""
    names = content.symptom_names(language)
    return paginate([{"code": s["code"], "label": names[s["code"]], "triggers_alert": s["alert"]}
                     for s in content.symptoms()], args or {})

