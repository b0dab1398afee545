"""Logging sessions: idempotent PUT by device-made id, offline batches, edits, soft deletes,
the sync feed, and the urgent safety answers."""
import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache

import marshmallow as ma
from flask import current_app
from sqlalchemy import and_, bindparam, or_, select

from app.audit import service as audit
from app.access.policy import LOG_SESSION, READ, patient_for
from app.common.clock import local_date
from app.common.db import insert_ignoring_conflict
from app.common.i18n import choose_language
from app.common.pagination import Page, paginate
from app.common.types import utcnow
from app.errors import ApiError
from app.exercises.models import Exercise
from app.extensions import db
from app.plans.models import Plan, PlanItem, PlanVersion
from app.sessions import content
from app.sessions.models import ExerciseSession
from app.sessions.schemas import BatchItemSchema
from app.sessions.signals import session_written

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
    exercises: dict = field(default_factory=dict)  # id, str(id) and slug -> exercise row
    written: list = field(default_factory=list)    # (session, change) to announce after commit

    def preload(self) -> "_Context":
        for key, plan_id, *exercise in db.session.execute(_items_of_patient(), {"patient_id": self.patient.id}):
            self.items[key] = (plan_id, _ExerciseRow(*exercise))
        for row in db.session.execute(select(Exercise.id, Exercise.slug, Exercise.measures)):
            self._remember(_ExerciseRow(*row))
        self.preloaded = True
        return self

    def _remember(self, exercise) -> None:
        self.exercises[exercise.id] = self.exercises[str(exercise.id)] = self.exercises[exercise.slug] = exercise

    def item(self, key):
        if not self.preloaded and key not in self.items:
            rows = db.session.execute(_items_of_patient(by_key=True),
                                      {"patient_id": self.patient.id, "key": key}).all()
            if rows:
                key, plan_id, *exercise = rows[-1]
                self.items[key] = (plan_id, _ExerciseRow(*exercise))
        return self.items.get(key)

    def exercise(self, ref: str):
        if not self.preloaded and ref not in self.exercises:
            try:
                condition = Exercise.id == uuid.UUID(ref)
            except ValueError:
                condition = Exercise.slug == ref
            row = db.session.execute(select(Exercise.id, Exercise.slug, Exercise.measures).where(condition)).first()
            if row:
                self._remember(_ExerciseRow(*row))
        return self.exercises.get(ref)


@cache
def _items_of_patient(by_key: bool = False):
    """Plan items with what validation needs of their exercise (not the translated texts);
    in version order, so the latest version wins. Built once: it runs on every session PUT."""
    stmt = (select(PlanItem.item_key, PlanVersion.plan_id, Exercise.id, Exercise.slug, Exercise.measures)
            .join(PlanVersion, PlanVersion.id == PlanItem.version_id)
            .join(Plan, Plan.id == PlanVersion.plan_id)
            .join(Exercise, Exercise.id == PlanItem.exercise_id)
            .where(Plan.patient_id == bindparam("patient_id")).order_by(PlanVersion.number))
    return stmt.where(PlanItem.item_key == bindparam("key")) if by_key else stmt


@dataclass(frozen=True)
class _ExerciseRow:
    id: uuid.UUID
    slug: str
    measures: list


def _context(actor, patient, language: str | None) -> _Context:
    return _Context(patient, actor, utcnow(), choose_language(language, patient.language))


def _invalid(errors: dict, detail="The session is not valid; see errors for each field.") -> ApiError:
    return ApiError(422, detail, title="Validation failed", errors=errors)


def _resolve(ctx: _Context, data: dict) -> tuple:
    """(plan_id, exercise) for the session, checking dates and measures."""
    cfg = current_app.config
    started = data["started_at"]
    if started > ctx.now + FUTURE_TOLERANCE:
        raise _invalid({"started_at": ["Starts more than 5 minutes in the future."]})
    if started < ctx.now - timedelta(days=cfg["SESSION_BACKFILL_DAYS"]):
        raise _invalid({"started_at": [f"Older than {cfg['SESSION_BACKFILL_DAYS']} days: too late to log."]})
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
    return plan_id, exercise


def _body_hash(data: dict) -> str:
    canonical = {k: v for k, v in data.items() if k != "id"}
    canonical["started_at"] = data["started_at"].astimezone(timezone.utc).isoformat()
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


def _apply(session: ExerciseSession, ctx: _Context, data: dict, plan_id, exercise, body_hash: str) -> None:
    session.item_key = data.get("item_key")
    session.plan_id = plan_id
    session.exercise_id = exercise.id
    session.started_at = data["started_at"]
    session.local_date = local_date(data["started_at"], ctx.patient.time_zone)
    session.duration_minutes = data["duration_minutes"]
    session.measures = data.get("measures", {})
    session.exertion = data.get("exertion")
    session.pain = data.get("pain")
    session.symptoms = data.get("symptoms", [])
    session.note = data.get("note")
    session.alerts = content.alerts_for(session.symptoms, ctx.patient.neurological_level)
    session.needs_review = bool(session.alerts)
    session.body_hash = body_hash
    session.updated_by_id = ctx.actor.id
    session.updated_at = ctx.now


def _upsert(ctx: _Context, session_id: uuid.UUID, data: dict) -> tuple[ExerciseSession, str]:
    plan_id, exercise = _resolve(ctx, data)
    body_hash = _body_hash(data)
    fresh = ExerciseSession(id=session_id, patient_id=ctx.patient.id, logged_by_id=ctx.actor.id,
                            logged_by_role=ctx.actor.role, created_at=ctx.now, revision=1)
    _apply(fresh, ctx, data, plan_id, exercise, body_hash)
    values = {c.key: getattr(fresh, c.key) for c in ExerciseSession.__table__.columns
              if getattr(fresh, c.key) is not None}
    # Insert-if-absent cannot race: of two identical requests one inserts, the other reads.
    if insert_ignoring_conflict(ExerciseSession, values, ["id"]) == 1:
        ctx.written.append((fresh, "created"))
        return fresh, "created"
    session = db.session.get(ExerciseSession, session_id, populate_existing=True)
    if session.patient_id != ctx.patient.id:
        raise ApiError(409, "This session id is already used; make a new UUID.", title="Conflict")
    if session.deleted_at is not None:
        raise ApiError(409, "This session was deleted.", title="Conflict", type_slug="session-deleted")
    if session.body_hash == body_hash:
        return session, "unchanged"
    _check_edit_window(session, ctx.now)
    _apply(session, ctx, data, plan_id, exercise, body_hash)
    session.revision += 1
    ctx.written.append((session, "updated"))
    return session, "updated"


def _check_edit_window(session: ExerciseSession, now: datetime) -> None:
    hours = current_app.config["SESSION_EDIT_WINDOW_HOURS"]
    if now > session.started_at + timedelta(hours=hours):
        raise ApiError(409, f"Sessions can be changed for {hours} hours after they start; this one is "
                            "older. Log a new session instead.", title="Conflict",
                       type_slug="edit-window-closed")


def _announce(ctx: _Context) -> None:
    app = current_app._get_current_object()
    for session, change in ctx.written:
        session_written.send(app, session=session, change=change)


def view(session: ExerciseSession, language: str) -> dict:
    return {**{c.key: getattr(session, c.key) for c in ExerciseSession.__table__.columns},
            "deleted": session.deleted_at is not None,
            "safety_alerts": [content.alert_view(code, language) for code in session.alerts or []]}


# --- the routes' entry points -------------------------------------------------------------

def put_session(actor, patient_ref, session_id, data: dict, language: str | None = None) -> tuple[dict, int]:
    """language (of the safety answers): the one asked for, None for the patient's own."""
    patient = patient_for(actor, patient_ref, LOG_SESSION, resource=session_id)
    ctx = _context(actor, patient, language)
    session, status = _upsert(ctx, session_id, data)
    out = view(session, ctx.language)  # before the commit expires what was loaded
    db.session.commit()
    _announce(ctx)
    return out, 201 if status == "created" else 200


def batch(actor, patient_ref, raw_items: list, language: str | None = None) -> dict:
    patient = patient_for(actor, patient_ref, LOG_SESSION)
    ctx = _context(actor, patient, language).preload()
    schema = BatchItemSchema()
    results = []
    for index, raw in enumerate(raw_items):
        sid = raw.get("id") if isinstance(raw, dict) else None
        try:
            data = schema.load(raw)
        except ma.ValidationError as error:
            results.append(_failed(index, sid, 422, "Validation failed", error.messages))
            continue
        session_id = data.pop("id")
        try:
            with db.session.begin_nested():
                session, status = _upsert(ctx, session_id, data)
        except ApiError as error:
            results.append(_failed(index, str(session_id), error.code, error.title or error.name,
                                   error.errors, error.description))
            continue
        results.append({"index": index, "id": str(session_id), "status": status,
                        "session": view(session, ctx.language), "problem": None})
    db.session.commit()
    _announce(ctx)
    counts = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return {"results": results, "counts": counts}


def _failed(index, sid, status, title, errors=None, detail=None) -> dict:
    return {"index": index, "id": str(sid) if sid is not None else None, "status": "error", "session": None,
            "problem": {"status": status, "title": title, "detail": detail or "See errors for each field.",
                        "errors": errors}}


def _own_session(patient, session_id) -> ExerciseSession:
    session = db.session.get(ExerciseSession, session_id)
    if session is None or session.patient_id != patient.id:
        raise ApiError(404, "No such session for this patient.", title="Not Found")
    return session


def get_session(actor, patient_ref, session_id, language: str | None = None) -> dict:
    patient = patient_for(actor, patient_ref, READ, resource=session_id)
    return view(_own_session(patient, session_id), choose_language(language, patient.language))


def delete_session(actor, patient_ref, session_id) -> None:
    patient = patient_for(actor, patient_ref, LOG_SESSION, resource=session_id)
    session = _own_session(patient, session_id)
    if session.deleted_at is not None:
        return
    now = utcnow()
    _check_edit_window(session, now)
    session.deleted_at = session.updated_at = now
    session.updated_by_id = actor.id
    session.revision += 1
    audit.record("delete_session", actor, patient_id=patient.id, resource_id=session.id)
    db.session.commit()
    session_written.send(current_app._get_current_object(), session=session, change="deleted")


def list_sessions(actor, patient_ref, args: dict | None = None, language: str | None = None):
    """(a SELECT of the sessions, the language to show them in)."""
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
    return stmt.order_by(ExerciseSession.started_at.desc(), ExerciseSession.id), \
        choose_language(language, patient.language)


# --- the sync feed ------------------------------------------------------------------------

def _encode_cursor(at: datetime, session_id) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{session_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, sid = raw.split("|")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError
        return moment, uuid.UUID(sid)
    except ValueError:
        raise _invalid({"since": ["Not a cursor from this API."]}) from None


def changes(actor, patient_ref, since: str | None = None, limit: int = 200,
            language: str | None = None) -> dict:
    """Created, updated and deleted sessions after the cursor, oldest change first.

    Only changes older than SYNC_SETTLE_SECONDS are handed out, so a write still committing
    when the feed is read cannot be skipped by a cursor that has moved past it.
    """
    patient = patient_for(actor, patient_ref, READ)
    settled = utcnow() - timedelta(seconds=current_app.config["SYNC_SETTLE_SECONDS"])
    stmt = select(ExerciseSession).where(ExerciseSession.patient_id == patient.id,
                                         ExerciseSession.updated_at <= settled)
    if since:
        at, sid = _decode_cursor(since)
        stmt = stmt.where(or_(ExerciseSession.updated_at > at,
                              and_(ExerciseSession.updated_at == at, ExerciseSession.id > sid)))
    rows = list(db.session.scalars(
        stmt.order_by(ExerciseSession.updated_at, ExerciseSession.id).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    language = choose_language(language, patient.language)
    cursor = _encode_cursor(rows[-1].updated_at, rows[-1].id) if rows else (since or "")
    return {"items": [view(s, language) for s in rows], "next_cursor": cursor, "has_more": has_more}


def symptom_checklist(language: str, args: dict | None = None) -> Page:
    """In the seed's order; args: page, per_page."""
    return paginate([{"code": s["code"], "label": s["label"].get(language, s["label"]["en"]),
                      "triggers_alert": s["alert"]} for s in content.symptoms()], args or {})

