from flask import request

from app.auth.authenticate import authenticate, current_actor
from app.common.conditional import ETAG_HEADER, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, conditional
from app.common.pagination import page_of
from app.common.web import requested_language
from app.extensions import Blueprint
from app.patients.service import language_for
from app.plans import service
from app.plans.schemas import (
    PlanConflictSchema,
    EndSchema,
    PauseSchema,
    PlanCreateSchema,
    PlanDetailArgs,
    PlanListArgs,
    PlanSchema,
    PlanTemplateSchema,
    ResumeSchema,
    TemplateArgs,
    VersionCreateSchema,
)

templates_blp = Blueprint("plan-templates", __name__, url_prefix="/api/v1/plan-templates",
                          description="Ready-made home programmes with their sources.")
blp = Blueprint("plans", __name__, url_prefix="/api/v1/patients/<patient_id>/plans",
                description="Plans assigned to a patient: versioned, pausable. Coordinators of the "
                            "patient write; the patient and caregivers read. Dates are patient-local.")


def changes_the_plan(view):
    """Documents what every change of a plan needs: If-Match with the plan's ETag."""
    view = blp.alt_response(412, description="The plan changed since the ETag sent as If-Match: read it again")(view)
    view = blp.alt_response(428, description="No If-Match: send the plan's ETag")(view)
    return blp.doc(parameters=[IF_MATCH])(view)


def _with_etag(plan, status: int = 201):
    return plan, status, {"ETag": f'"{plan.etag}"'}


@templates_blp.route("", methods=["GET"])
@authenticate
@templates_blp.arguments(TemplateArgs, location="query")
@templates_blp.response(200, page_of(PlanTemplateSchema))
def list_templates(args):
    return service.templates(language_for(current_actor(), requested_language(args.get("lang"))), args)


@blp.route("", methods=["POST"])
@authenticate
@blp.arguments(PlanCreateSchema, example={"template": "gentle-start", "acknowledge_warnings": ["autonomic_dysreflexia"]})
@blp.response(201, PlanSchema, headers=ETAG_HEADER)
@blp.alt_response(409, schema=PlanConflictSchema, content_type="application/problem+json",
                  description="Safety warnings to acknowledge or override (listed in `warnings`)")
def assign(data, patient_id):
    """Assign a plan from a template or item by item (each item: sessions_per_week or days_of_week)."""
    return _with_etag(service.assign_plan(current_actor(), patient_id, data, requested_language()))


@blp.route("", methods=["GET"])
@authenticate
@blp.arguments(PlanListArgs, location="query")
@blp.response(200, page_of(PlanSchema))
def list_plans(args, patient_id):
    return service.list_plans(current_actor(), patient_id, args)


@blp.route("/<uuid:plan_id>", methods=["GET"])
@authenticate
@conditional
@blp.arguments(PlanDetailArgs, location="query")
@blp.response(200, PlanSchema, headers=ETAG_HEADER)
@blp.alt_response(304, description="Not modified: the cached copy (If-None-Match) is current")
@blp.doc(parameters=[IF_NONE_MATCH, IF_MODIFIED_SINCE])
def get_plan(args, patient_id, plan_id):
    """The plan with its history; version_in_force answers for ?on= (default today).
    The ETag names this version of the plan: changes send it back as If-Match."""
    return _with_etag(service.get_plan(current_actor(), patient_id, plan_id, args.get("on")), 200)


@blp.route("/<uuid:plan_id>/versions", methods=["POST"])
@authenticate
@blp.arguments(VersionCreateSchema, example={
    "items": [{"exercise": "pressure-relief", "minutes": 2, "days_of_week": ["mon"]}], "change_note": "lighter week"})
@blp.response(201, PlanSchema, headers=ETAG_HEADER)
@blp.alt_response(409, schema=PlanConflictSchema, content_type="application/problem+json",
                  description="Safety warnings to acknowledge or override (listed in `warnings`), or the plan "
                              "has ended")
@changes_the_plan
def add_version(data, patient_id, plan_id):
    """Change the plan from a date: the new version holds the whole item list. A plan with an
    end ahead changes until its last day: a version starting after it is refused (422)."""
    return _with_etag(service.add_version(current_actor(), patient_id, plan_id, data, request.if_match,
                                          requested_language()))


@blp.route("/<uuid:plan_id>/pause", methods=["POST"])
@authenticate
@blp.arguments(PauseSchema, example={"reason": "hospital stay"})
@blp.response(200, PlanSchema, headers=ETAG_HEADER)
@changes_the_plan
def pause(data, patient_id, plan_id):
    """Pause (hospital stay, pressure injury, illness): paused days expect nothing. A plan with
    an end ahead pauses until its last day: a pause starting after it is refused (422)."""
    return _with_etag(service.pause(current_actor(), patient_id, plan_id, data, request.if_match), 200)


@blp.route("/<uuid:plan_id>/resume", methods=["POST"])
@authenticate
@blp.arguments(ResumeSchema, example={})
@blp.response(200, PlanSchema, headers=ETAG_HEADER)
@changes_the_plan
def resume(data, patient_id, plan_id):
    return _with_etag(service.resume(current_actor(), patient_id, plan_id, data, request.if_match), 200)


@blp.route("/<uuid:plan_id>/end", methods=["POST"])
@authenticate
@blp.arguments(EndSchema, example={"reason": "programme finished"})
@blp.response(200, PlanSchema, headers=ETAG_HEADER)
@changes_the_plan
def end(data, patient_id, plan_id):
    """End the plan: on (default today) is the first day without it. A plan ends once (409 when
    it has an end already)."""
    return _with_etag(service.end(current_actor(), patient_id, plan_id, data, request.if_match), 200)
