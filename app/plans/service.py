"""Assigned plans: versions, pauses, ends, safety warnings; and the plan data adherence reads."""
import uuid
from datetime import date, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.orm import selectinload

from app.audit import service as audit
from app.access.policy import MANAGE, READ, patient_for
from app.common.clinical import months_before, threshold
from app.common.clock import local_today
from app.common.i18n import served_language
from app.common.types import utcnow
from app.education import service as education
from app.errors import ApiError
from app.exercises.models import Exercise
from app.extensions import db
from app.patients.models import level_at_or_above
from app.plans.models import DAY_NAMES, Plan, PlanItem, PlanPause, PlanTemplate, PlanVersion
from app.plans.schedule import ItemSpec, PlanSpec
from app.plans.signals import plan_changed

SAFETY_MODULE = "safety-standing-and-fes"


# --- templates ----------------------------------------------------------------------------

def templates(language: str) -> list[dict]:
    rows = db.session.scalars(select(PlanTemplate).order_by(PlanTemplate.slug))
    out = []
    for t in rows:
        lang = served_language(language, t.name)
        out.append({"id": t.id, "slug": t.slug, "language": lang, "name": t.name[lang],
                    "description": t.description[lang], "duration_weeks": t.duration_weeks,
                    "source": t.source, "items": t.items})
    return out


def _template(slug: str) -> PlanTemplate:
    template = db.session.scalar(select(PlanTemplate).where(PlanTemplate.slug == slug))
    if template is None:
        raise ApiError(422, f"No plan template '{slug}'.", errors={"template": ["Unknown template."]})
    return template


# --- building items -----------------------------------------------------------------------

def _days_mask(days: list[str] | None) -> int | None:
    if days is None:
        return None
    return sum(1 << DAY_NAMES.index(day) for day in days)


def _resolve_exercises(refs: list[str]) -> dict[str, Exercise]:
    ids, slugs = [], []
    for ref in refs:
        try:
            ids.append(uuid.UUID(ref))
        except ValueError:
            slugs.append(ref)
    found = db.session.scalars(select(Exercise).where(or_(Exercise.id.in_(ids), Exercise.slug.in_(slugs))))
    by_ref = {}
    for exercise in found:
        by_ref[exercise.slug] = exercise
        by_ref[str(exercise.id)] = exercise
    return by_ref


def _build_items(items_in: list[dict], default_start: date, previous_keys: set | None) -> list[PlanItem]:
    exercises = _resolve_exercises([i["exercise"] for i in items_in])
    errors, items, keys = {}, [], set()
    for position, data in enumerate(items_in):
        exercise = exercises.get(str(data["exercise"]))
        key = data.get("item_key")
        if exercise is None:
            errors[position] = {"exercise": ["No exercise with this id or slug."]}
            continue
        if key is not None and (previous_keys is None or key not in previous_keys):
            errors[position] = {"item_key": ["Not an item of the plan's previous version."]}
            continue
        if key in keys:
            errors[position] = {"item_key": ["Used twice."]}
            continue
        key = key or uuid.uuid4()
        keys.add(key)
        start = data.get("start_date") or default_start
        if data.get("end_date") and data["end_date"] < start:
            errors[position] = {"end_date": ["Ends before it starts."]}
            continue
        items.append(PlanItem(
            item_key=key, position=position, exercise_id=exercise.id, minutes=data["minutes"],
            sessions_per_week=data.get("sessions_per_week"), days_mask=_days_mask(data.get("days_of_week")),
            time_of_day=data.get("time_of_day"), start_date=start, end_date=data.get("end_date"),
            notes=data.get("notes"),
        ))
        items[-1].exercise = exercise  # transient, for the safety check
    if errors:
        raise ApiError(422, "Some plan items are not valid; see errors by item index.",
                       title="Validation failed", errors={"items": errors})
    return items


# --- safety -------------------------------------------------------------------------------

def safety_warnings(patient, exercises: list[Exercise], today: date) -> list[dict]:
    warnings = []
    ad_level = threshold("autonomic_dysreflexia_min_level")
    upright = sorted({e.slug for e in exercises if "autonomic_dysreflexia" in e.safety})
    if upright and level_at_or_above(patient.neurological_level, ad_level):
        warnings.append({
            "code": "autonomic_dysreflexia", "requires": "acknowledge", "exercises": upright,
            "message": f"Injury at {patient.neurological_level} ({ad_level} or above): standing and FES can "
                       "trigger autonomic dysreflexia. Teach the warning signs; the safety module is "
                       "recommended to the patient.",
        })
    for code, records, what in (("recent_fracture", patient.known_fractures, "Fracture"),
                                ("recent_clot", patient.known_clots, "Blood clot")):
        months = threshold(f"{code}_months")
        since = months_before(today, months)
        recent = [f for f in (records or []) if date.fromisoformat(f["date"]) >= since]
        loading = sorted({e.slug for e in exercises if code in e.safety})
        if loading and recent:
            sites = ", ".join(f"{f['site']} ({f['date']})" for f in recent)
            warnings.append({
                "code": code, "requires": "override", "exercises": loading,
                "message": f"{what} in the last {months} months: {sites}. Contraindicated unless overridden "
                           f"with a reason (the treating team's clearance): {', '.join(loading)}.",
            })
    return warnings


def _check_safety(actor, patient, items: list[PlanItem], data: dict, today: date) -> list[str]:
    warnings = safety_warnings(patient, [i.exercise for i in items], today)
    acknowledged = set(data.get("acknowledge_warnings", []))
    missing = [w for w in warnings if w["code"] not in acknowledged
               or (w["requires"] == "override" and not data.get("override_reason"))]
    if missing:
        raise ApiError(409, "This plan needs safety warnings acknowledged (and contraindications "
                            "overridden with override_reason) before it is saved.",
                       title="Safety warnings", type_slug="plan-safety-warnings", warnings=warnings)
    codes = [w["code"] for w in warnings]
    if "autonomic_dysreflexia" in codes:
        education.ensure_recommended(patient.id, SAFETY_MODULE, actor.id,
                                     "Read before your standing or FES programme starts.")
    for code in ("recent_fracture", "recent_clot"):
        if code in codes:
            audit.record("override", actor, patient_id=patient.id, detail=f"{code}: {data['override_reason']}"[:200])
    return codes


# --- plans --------------------------------------------------------------------------------

def _changed(plan: Plan, change: str) -> None:
    """After the commit: tell subscribers (reminders) what changed."""
    plan_changed.send(current_app._get_current_object(), plan=plan, change=change)


def _plan(patient, plan_id) -> Plan:
    plan = db.session.scalar(select(Plan).where(Plan.id == plan_id, Plan.patient_id == patient.id)
                             .options(*_plan_loads()))
    if plan is None:
        raise ApiError(404, "No such plan for this patient.", title="Not Found")
    return plan


def _managed_plan(actor, patient_ref, plan_id) -> tuple:
    """(patient, the patient's today, plan) for a coordinator changing a plan."""
    patient = patient_for(actor, patient_ref, MANAGE, resource=plan_id)
    return patient, local_today(patient.time_zone), _plan(patient, plan_id)


def _plan_loads():
    return (selectinload(Plan.versions).selectinload(PlanVersion.items), selectinload(Plan.pauses))


def _not_before_today(value: date, today: date, field: str) -> None:
    if value < today:
        raise ApiError(422, "History is kept as it was: changes take effect today or later.",
                       errors={field: [f"Must be {today.isoformat()} (the patient's today) or later."]})


def assign_plan(actor, patient_ref, data: dict) -> dict:
    patient = patient_for(actor, patient_ref, MANAGE)
    today = local_today(patient.time_zone)
    start = data.get("start_date") or today
    _not_before_today(start, today, "start_date")
    name = data.get("name")
    if "template" in data:
        template = _template(data["template"])
        items_in = [dict(i) for i in template.items]
        name = name or template.name.get(patient.language) or template.slug
    else:
        items_in = data["items"]
    items = _build_items(items_in, start, None)
    codes = _check_safety(actor, patient, items, data, today)
    plan = new_plan(patient.id, name or "Home programme", start, items, actor.id, codes,
                    template_slug=data.get("template"), change_note=data.get("change_note"),
                    override_reason=data.get("override_reason"))
    db.session.commit()
    _changed(plan, "assigned")
    return plan_view(plan, today)


def new_plan(patient_id, name: str, start: date, items: list[PlanItem], created_by_id, acknowledged: list,
             template_slug=None, change_note=None, override_reason=None) -> Plan:
    plan = Plan(patient_id=patient_id, name=name, template_slug=template_slug, start_date=start,
                created_by_id=created_by_id)
    plan.versions.append(PlanVersion(number=1, effective_from=start, change_note=change_note,
                                     warnings_acknowledged=acknowledged, override_reason=override_reason,
                                     created_by_id=created_by_id, items=items))
    db.session.add(plan)
    return plan


def demo_plan(patient, template_slug: str, created_by_id) -> Plan:
    """For `flask demo`: a template plan from today, its warnings taken as acknowledged."""
    today = local_today(patient.time_zone)
    template = _template(template_slug)
    items = _build_items([dict(i) for i in template.items], today, None)
    codes = [w["code"] for w in safety_warnings(patient, [i.exercise for i in items], today)]
    return new_plan(patient.id, template.name.get(patient.language, template.slug), today, items,
                    created_by_id, codes, template_slug=template_slug)


def add_version(actor, patient_ref, plan_id, data: dict) -> dict:
    patient, today, plan = _managed_plan(actor, patient_ref, plan_id)
    latest = plan.versions[-1]
    effective = data.get("effective_from") or max(today, latest.effective_from)
    _not_before_today(effective, today, "effective_from")
    if effective < latest.effective_from:
        raise ApiError(422, "A new version starts on or after the latest one.",
                       errors={"effective_from": [f"Must be {latest.effective_from.isoformat()} or later."]})
    if plan.ended_on is not None:
        raise ApiError(409, "This plan has ended; assign a new plan instead.", title="Conflict")
    items = _build_items(data["items"], effective, {i.item_key for i in latest.items})
    codes = _check_safety(actor, patient, items, data, today)
    plan.versions.append(PlanVersion(number=latest.number + 1, effective_from=effective,
                                     change_note=data.get("change_note"), warnings_acknowledged=codes,
                                     override_reason=data.get("override_reason"), created_by_id=actor.id,
                                     items=items))
    db.session.commit()
    _changed(plan, "version")
    return plan_view(plan, today)


def pause(actor, patient_ref, plan_id, data: dict) -> dict:
    patient, today, plan = _managed_plan(actor, patient_ref, plan_id)
    start = data.get("start_date") or today
    _not_before_today(start, today, "start_date")
    if plan.ended_on is not None:
        raise ApiError(409, "This plan has ended.", title="Conflict")
    if any(p.end_date is None for p in plan.pauses):
        raise ApiError(409, "This plan is already paused; resume it first.", title="Conflict")
    plan.pauses.append(PlanPause(start_date=start, reason=data["reason"], created_by_id=actor.id))
    db.session.commit()
    _changed(plan, "paused")
    return plan_view(plan, today)


def resume(actor, patient_ref, plan_id, data: dict) -> dict:
    patient, today, plan = _managed_plan(actor, patient_ref, plan_id)
    on = data.get("on") or today
    _not_before_today(on, today, "on")
    open_pause = next((p for p in plan.pauses if p.end_date is None), None)
    if open_pause is None:
        raise ApiError(409, "This plan is not paused.", title="Conflict")
    if on <= open_pause.start_date:
        plan.pauses.remove(open_pause)  # resumed before any paused day: no pause at all
    else:
        open_pause.end_date = on - timedelta(days=1)
        open_pause.resumed_at = utcnow()
    db.session.commit()
    _changed(plan, "resumed")
    return plan_view(plan, today)


def end(actor, patient_ref, plan_id, data: dict) -> dict:
    patient, today, plan = _managed_plan(actor, patient_ref, plan_id)
    on = data.get("on") or today
    _not_before_today(on, today, "on")
    if plan.ended_on is not None:
        raise ApiError(409, "This plan has already ended.", title="Conflict")
    plan.ended_on = on - timedelta(days=1)
    plan.end_reason = data["reason"]
    for p in plan.pauses:
        if p.end_date is None:
            p.end_date = max(p.start_date, plan.ended_on)
    db.session.commit()
    _changed(plan, "ended")
    return plan_view(plan, today)


def get_plan(actor, patient_ref, plan_id, on: date | None = None) -> dict:
    patient = patient_for(actor, patient_ref, READ, resource=plan_id)
    today = local_today(patient.time_zone)
    return plan_view(_plan(patient, plan_id), today, on or today)


def list_plans(actor, patient_ref, status: str | None = None):
    patient = patient_for(actor, patient_ref, READ)
    today = local_today(patient.time_zone)
    stmt = select(Plan).where(Plan.patient_id == patient.id).options(*_plan_loads()) \
        .order_by(Plan.start_date.desc(), Plan.created_at.desc())
    paused_today = exists().where(PlanPause.plan_id == Plan.id, PlanPause.start_date <= today,
                                  or_(PlanPause.end_date.is_(None), PlanPause.end_date >= today))
    not_ended = or_(Plan.ended_on.is_(None), Plan.ended_on >= today)
    filters = {
        "ended": Plan.ended_on < today,
        "scheduled": and_(Plan.start_date > today, not_ended),
        "paused": and_(Plan.start_date <= today, not_ended, paused_today),
        "active": and_(Plan.start_date <= today, not_ended, ~paused_today),
    }
    if status:
        stmt = stmt.where(filters[status])
    return stmt, today


# --- views --------------------------------------------------------------------------------

def plan_status(plan: Plan, today: date) -> str:
    if plan.ended_on is not None and plan.ended_on < today:
        return "ended"
    if plan.start_date > today:
        return "scheduled"
    if any(p.start_date <= today and (p.end_date is None or today <= p.end_date) for p in plan.pauses):
        return "paused"
    return "active"


def plan_views(plans: list[Plan], today: date) -> list[dict]:
    slugs = dict(db.session.execute(select(Exercise.id, Exercise.slug)).all())
    return [plan_view(p, today, slugs=slugs) for p in plans]


def plan_view(plan: Plan, today: date, on: date | None = None, slugs: dict | None = None) -> dict:
    slugs = slugs or dict(db.session.execute(select(Exercise.id, Exercise.slug)).all())
    on = on or today
    in_force = None
    for version in plan.versions:
        if version.effective_from <= on:
            in_force = version

    def version_view(v: PlanVersion) -> dict:
        return {"number": v.number, "effective_from": v.effective_from, "change_note": v.change_note,
                "warnings_acknowledged": v.warnings_acknowledged, "override_reason": v.override_reason,
                "created_at": v.created_at, "created_by_id": v.created_by_id,
                "items": [{"id": i.id, "item_key": i.item_key, "exercise_id": i.exercise_id,
                           "exercise_slug": slugs.get(i.exercise_id), "minutes": i.minutes,
                           "sessions_per_week": i.sessions_per_week, "days_of_week": i.days_of_week,
                           "time_of_day": i.time_of_day, "start_date": i.start_date, "end_date": i.end_date,
                           "notes": i.notes} for i in v.items]}

    return {
        "id": plan.id, "patient_id": plan.patient_id, "name": plan.name, "template_slug": plan.template_slug,
        "status": plan_status(plan, today), "start_date": plan.start_date, "ended_on": plan.ended_on,
        "end_reason": plan.end_reason,
        "version_in_force": version_view(in_force) if in_force else None,
        "versions": [version_view(v) for v in plan.versions],
        "pauses": [{"id": p.id, "start_date": p.start_date, "end_date": p.end_date, "reason": p.reason}
                   for p in plan.pauses],
    }


# --- for adherence and the agenda: plans as plain data, a fixed number of queries ---------

def _specs_statements(ids):
    """The two statements of load_specs, for ids given as a list parameter or a SELECT."""
    plans = (
        select(Plan.id, Plan.patient_id, Plan.start_date, Plan.ended_on, PlanVersion.id.label("version_id"),
               PlanVersion.number, PlanVersion.effective_from, PlanItem.id.label("item_id"), PlanItem.item_key,
               PlanItem.exercise_id, PlanItem.minutes, PlanItem.sessions_per_week, PlanItem.days_mask,
               PlanItem.start_date.label("item_start"), PlanItem.end_date, PlanItem.time_of_day)
        .join(PlanVersion, PlanVersion.plan_id == Plan.id)
        .join(PlanItem, PlanItem.version_id == PlanVersion.id)
        .where(Plan.patient_id.in_(ids))
        .order_by(Plan.id, PlanVersion.number, PlanItem.position))
    pauses = (select(PlanPause.plan_id, PlanPause.start_date, PlanPause.end_date)
              .join(Plan, Plan.id == PlanPause.plan_id).where(Plan.patient_id.in_(ids)))
    return plans, pauses


@cache
def _specs_for_listed_ids():
    # Built once: on the agenda's hot path, building a statement costs more than running it.
    return _specs_statements(bindparam("ids", expanding=True))


def load_specs(patient_ids) -> dict:
    """{patient_id: [PlanSpec]} for the given patient ids (a list, or a SELECT of ids).

    Two queries whatever the number of patients, plans, versions or items.
    """
    if isinstance(patient_ids, (list, tuple, set)):
        plans_stmt, pauses_stmt = _specs_for_listed_ids()
        params = {"ids": list(patient_ids)}
    else:
        plans_stmt, pauses_stmt = _specs_statements(patient_ids)
        params = {}
    plans: dict = {}
    versions: dict = {}
    result: dict = {}
    for row in db.session.execute(plans_stmt, params):
        spec = plans.get(row.id)
        if spec is None:
            spec = plans[row.id] = PlanSpec(row.id, row.start_date, row.ended_on)
            result.setdefault(row.patient_id, []).append(spec)
        version = versions.get(row.version_id)
        if version is None:
            version = versions[row.version_id] = (row.number, row.effective_from, [])
            spec.versions.append(version)
        version[2].append(ItemSpec(row.item_key, row.exercise_id, row.minutes, row.sessions_per_week,
                                   row.days_mask, row.item_start, row.end_date, row.time_of_day,
                                   row.id, row.item_id, row.number))
    if plans:
        for row in db.session.execute(pauses_stmt, params):
            plans[row.plan_id].pauses.append((row.start_date, row.end_date))
    return result
