"""Assigned plans: assign, change from a date (versions), pause, resume, end; read one or a list.

Changes are optimistic: each names, with If-Match, the version of the plan it was made on
(app/common/conditional.py), so two coordinators editing at once cannot overwrite each other.
"""
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import selectinload

from app.access.policy import MANAGE, READ, patient_for
from app.common.clock import local_today
from app.common.conditional import advance_revision, etag_of, require_match
from app.common.pagination import Page, paginate
from app.common.types import utcnow
from app.common.views import Extends
from app.errors import ApiError
from app.exercises.models import Exercise
from app.exercises.service import exercise_key
from app.extensions import db
from app.plans.models import DAY_NAMES, Plan, PlanItem, PlanPause, PlanVersion
from app.plans.safety import check_safety, safety_warnings
from app.plans.signals import plan_changed
from app.plans.templates import template


@dataclass
class PlanOn(Extends):
    """A plan as seen on a patient-local day: its status today, the version in force on `on`."""

    plan: Plan
    today: date
    on: date | None = None
    _extends = ("plan",)

    @property
    def status(self) -> str:
        return plan_status(self.plan, self.today)

    @property
    def version_in_force(self) -> PlanVersion | None:
        return self._in_force_on(self.on or self.today)

    def _in_force_on(self, day: date) -> PlanVersion | None:
        in_force = None
        for version in self.plan.versions:
            if version.effective_from <= day:
                in_force = version
        return in_force

    @property
    def etag(self) -> str:
        """The plan's revision and what today changes in it (status, version in force): the same
        whatever ?on= asked, so a change may send the ETag of any read of the plan."""
        in_force = self._in_force_on(self.today)
        return etag_of(self.plan.id, self.plan.revision, self.status, in_force.number if in_force else None)


def has_ended(plan: Plan, today: date) -> bool:
    """Its last day is before the patient's today (a plan ending today still runs today; an
    end date ahead is scheduled, and the plan runs until then)."""
    return plan.ended_on is not None and plan.ended_on < today


def plan_status(plan: Plan, today: date) -> str:
    if has_ended(plan, today):
        return "ended"
    if plan.start_date > today:
        return "scheduled"
    if any(p.start_date <= today and (p.end_date is None or today <= p.end_date) for p in plan.pauses):
        return "paused"
    return "active"


# --- building items -----------------------------------------------------------------------

def _days_mask(days: list[str] | None) -> int | None:
    if days is None:
        return None
    return sum(1 << DAY_NAMES.index(day) for day in days)


def _resolve_exercises(refs: list[str]) -> dict[uuid.UUID | str, Exercise]:
    """Exercise by exercise_key (id or slug) of each reference."""
    keys = {exercise_key(ref) for ref in refs}
    ids = [key for key in keys if isinstance(key, uuid.UUID)]
    slugs = [key for key in keys if not isinstance(key, uuid.UUID)]
    found = db.session.scalars(select(Exercise).where(or_(Exercise.id.in_(ids), Exercise.slug.in_(slugs))))
    by_key = {}
    for exercise in found:
        by_key[exercise.slug] = by_key[exercise.id] = exercise
    return by_key


def _build_items(items_in: list[dict], default_start: date, previous_keys: set | None) -> list[PlanItem]:
    exercises = _resolve_exercises([i["exercise"] for i in items_in])
    errors, items, keys = {}, [], set()
    for position, data in enumerate(items_in):
        exercise = exercises.get(exercise_key(data["exercise"]))
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
            item_key=key, position=position, exercise=exercise, minutes=data["minutes"],
            sessions_per_week=data.get("sessions_per_week"), days_mask=_days_mask(data.get("days_of_week")),
            time_of_day=data.get("time_of_day"), start_date=start, end_date=data.get("end_date"),
            notes=data.get("notes"),
        ))
    if errors:
        raise ApiError(422, "Some plan items are not valid; see errors by item index.",
                       title="Validation failed", errors={"items": errors})
    return items


# --- plans --------------------------------------------------------------------------------

def _plan_loads():
    return (selectinload(Plan.versions).selectinload(PlanVersion.items).selectinload(PlanItem.exercise),
            selectinload(Plan.pauses))


def _changed(plan: Plan, change: str, today: date) -> PlanOn:
    """Commit the change, then tell subscribers (reminders) what changed; the plan as of today."""
    db.session.commit()
    plan_changed.send(current_app._get_current_object(), plan=plan, change=change)
    return PlanOn(plan, today)


def _plan(patient, plan_id) -> Plan:
    plan = db.session.scalar(select(Plan).where(Plan.id == plan_id, Plan.patient_id == patient.id)
                             .options(*_plan_loads()))
    if plan is None:
        raise ApiError(404, "No such plan for this patient.", title="Not Found")
    return plan


def _change(actor, patient_ref, plan_id, if_match) -> tuple:
    """(patient, the patient's today, plan) for a coordinator changing the plan version if_match names."""
    patient = patient_for(actor, patient_ref, MANAGE, resource=plan_id)
    today = local_today(patient.time_zone)
    plan = _plan(patient, plan_id)
    require_match(if_match, PlanOn(plan, today).etag)
    advance_revision(plan)
    return patient, today, plan


def _not_before_today(value: date, today: date, field: str) -> None:
    if value < today:
        raise ApiError(422, "History is kept as it was: changes take effect today or later.",
                       errors={field: [f"Must be {today.isoformat()} (the patient's today) or later."]})


def _running(plan: Plan, today: date, detail: str = "This plan has ended.") -> None:
    if has_ended(plan, today):
        raise ApiError(409, detail, title="Conflict")


def _not_after_the_end(plan: Plan, value: date, field: str) -> None:
    """A change the plan's scheduled end would never let start."""
    if plan.ended_on is not None and value > plan.ended_on:
        raise ApiError(422, "This plan ends before the change would start.",
                       errors={field: [f"Must be {plan.ended_on.isoformat()} (the plan's last day) or earlier."]})


def _items_in(data: dict) -> tuple[list[dict], object]:
    """The items asked for: a template's (and the template), or the items given."""
    if "template" in data:
        chosen = template(data["template"])
        return [dict(i) for i in chosen.items], chosen
    return data["items"], None


def template_warnings(actor, patient_ref, slug: str, language: str | None = None) -> list[dict]:
    """The safety warnings assigning the template today would raise for this patient (language:
    the reader's), so a form can ask for them before the change is sent."""
    patient = patient_for(actor, patient_ref, READ)
    today = local_today(patient.time_zone)
    items = _build_items([dict(i) for i in template(slug).items], today, None)
    return safety_warnings(patient, [i.exercise for i in items], today, language)


def assign_plan(actor, patient_ref, data: dict, language: str | None = None) -> PlanOn:
    """language: of the safety warnings (the coordinator's; None: en)."""
    patient = patient_for(actor, patient_ref, MANAGE)
    today = local_today(patient.time_zone)
    start = data.get("start_date") or today
    _not_before_today(start, today, "start_date")
    name = data.get("name")
    items_in, chosen = _items_in(data)
    if chosen is not None:
        name = name or chosen.name.get(patient.language) or chosen.slug
    items = _build_items(items_in, start, None)
    codes = check_safety(actor, patient, items, data, today, language)
    plan = new_plan(patient.id, name or "Home programme", start, items, actor.id, codes,
                    template_slug=data.get("template"), change_note=data.get("change_note"),
                    override_reason=data.get("override_reason"))
    return _changed(plan, "assigned", today)


def new_plan(patient_id, name: str, start: date, items: list[PlanItem], created_by_id, acknowledged: list,
             template_slug=None, change_note=None, override_reason=None) -> Plan:
    plan = Plan(patient_id=patient_id, name=name, template_slug=template_slug, start_date=start,
                created_by_id=created_by_id, revision=1)
    plan.versions.append(PlanVersion(number=1, effective_from=start, change_note=change_note,
                                     warnings_acknowledged=acknowledged, override_reason=override_reason,
                                     created_by_id=created_by_id, items=items))
    db.session.add(plan)
    return plan


def demo_plan(patient, template_slug: str, created_by_id, start: date | None = None) -> Plan:
    """For `flask demo`: a template plan from start (default today), its warnings taken as
    acknowledged."""
    today = local_today(patient.time_zone)
    start = start or today
    chosen = template(template_slug)
    items = _build_items([dict(i) for i in chosen.items], start, None)
    codes = [w["code"] for w in safety_warnings(patient, [i.exercise for i in items], today)]
    return new_plan(patient.id, chosen.name.get(patient.language, chosen.slug), start, items,
                    created_by_id, codes, template_slug=template_slug)


def add_version(actor, patient_ref, plan_id, data: dict, if_match=None, language: str | None = None) -> PlanOn:
    """data: the new version's items, or a template whose items it takes."""
    patient, today, plan = _change(actor, patient_ref, plan_id, if_match)
    latest = plan.versions[-1]
    effective = data.get("effective_from") or max(today, latest.effective_from)
    _not_before_today(effective, today, "effective_from")
    if effective < latest.effective_from:
        raise ApiError(422, "A new version starts on or after the latest one.",
                       errors={"effective_from": [f"Must be {latest.effective_from.isoformat()} or later."]})
    _running(plan, today, "This plan has ended; assign a new plan instead.")
    _not_after_the_end(plan, effective, "effective_from")
    items = _build_items(_items_in(data)[0], effective, {i.item_key for i in latest.items})
    codes = check_safety(actor, patient, items, data, today, language)
    plan.versions.append(PlanVersion(number=latest.number + 1, effective_from=effective,
                                     change_note=data.get("change_note"), warnings_acknowledged=codes,
                                     override_reason=data.get("override_reason"), created_by_id=actor.id,
                                     items=items))
    return _changed(plan, "version", today)


def pause(actor, patient_ref, plan_id, data: dict, if_match=None) -> PlanOn:
    patient, today, plan = _change(actor, patient_ref, plan_id, if_match)
    start = data.get("start_date") or today
    _not_before_today(start, today, "start_date")
    _running(plan, today)
    _not_after_the_end(plan, start, "start_date")
    if any(p.end_date is None for p in plan.pauses):
        raise ApiError(409, "This plan is already paused; resume it first.", title="Conflict")
    plan.pauses.append(PlanPause(start_date=start, reason=data["reason"], created_by_id=actor.id))
    return _changed(plan, "paused", today)


def resume(actor, patient_ref, plan_id, data: dict, if_match=None) -> PlanOn:
    patient, today, plan = _change(actor, patient_ref, plan_id, if_match)
    on = data.get("on") or today
    _not_before_today(on, today, "on")
    _running(plan, today)
    open_pause = next((p for p in plan.pauses if p.end_date is None), None)
    if open_pause is None:
        raise ApiError(409, "This plan is not paused.", title="Conflict")
    if on <= open_pause.start_date:
        plan.pauses.remove(open_pause)  # resumed before any paused day: no pause at all
    else:
        open_pause.end_date = on - timedelta(days=1)
        open_pause.resumed_at = utcnow()
    return _changed(plan, "resumed", today)


def end(actor, patient_ref, plan_id, data: dict, if_match=None) -> PlanOn:
    patient, today, plan = _change(actor, patient_ref, plan_id, if_match)
    on = data.get("on") or today
    _not_before_today(on, today, "on")
    _running(plan, today, "This plan has already ended.")
    if plan.ended_on is not None:
        raise ApiError(409, f"This plan already ends: {plan.ended_on.isoformat()} is its last day.", title="Conflict")
    plan.ended_on = on - timedelta(days=1)
    plan.end_reason = data["reason"]
    if has_ended(plan, today):
        # An end ahead leaves an open pause open, so the plan can still be resumed until then.
        for p in plan.pauses:
            if p.end_date is None:
                p.end_date = max(p.start_date, plan.ended_on)
    return _changed(plan, "ended", today)


def get_plan(actor, patient_ref, plan_id, on: date | None = None) -> PlanOn:
    patient = patient_for(actor, patient_ref, READ, resource=plan_id)
    return PlanOn(_plan(patient, plan_id), local_today(patient.time_zone), on)


def list_plans(actor, patient_ref, args: dict | None = None) -> Page:
    """Newest first; args: status (scheduled, active, paused, ended on the patient's today), page, per_page."""
    args = args or {}
    patient = patient_for(actor, patient_ref, READ)
    today = local_today(patient.time_zone)
    stmt = select(Plan).where(Plan.patient_id == patient.id).options(*_plan_loads()) \
        .order_by(Plan.start_date.desc(), Plan.created_at.desc(), Plan.id)
    paused_today = exists().where(PlanPause.plan_id == Plan.id, PlanPause.start_date <= today,
                                  or_(PlanPause.end_date.is_(None), PlanPause.end_date >= today))
    not_ended = or_(Plan.ended_on.is_(None), Plan.ended_on >= today)
    filters = {
        "ended": Plan.ended_on < today,
        "scheduled": and_(Plan.start_date > today, not_ended),
        "paused": and_(Plan.start_date <= today, not_ended, paused_today),
        "active": and_(Plan.start_date <= today, not_ended, ~paused_today),
    }
    if args.get("status"):
        stmt = stmt.where(filters[args["status"]])
    return paginate(stmt, args).map(lambda plan: PlanOn(plan, today))
