from app.auth.authenticate import authenticate, current_actor
from app.common.web import requested_language
from app.common.pagination import page_of, paginate
from app.extensions import Blueprint
from app.patients.service import language_for
from app.plans import service
from app.plans.schemas import (
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


@templates_blp.route("", methods=["GET"])
@authenticate
@templates_blp.arguments(TemplateArgs, location="query")
@templates_blp.response(200, PlanTemplateSchema(many=True))
def list_templates(args):
    return service.templates(language_for(current_actor(), requested_language(args.get("lang"))))


@blp.route("", methods=["POST"])
@authenticate
@blp.arguments(PlanCreateSchema)
@blp.response(201, PlanSchema)
@blp.alt_response(409, description="Safety warnings to acknowledge or override (listed in `warnings`)")
def assign(data, patient_id):
    """Assign a plan from a template or item by item (each item: sessions_per_week or days_of_week)."""
    return service.assign_plan(current_actor(), patient_id, data)


@blp.route("", methods=["GET"])
@authenticate
@blp.arguments(PlanListArgs, location="query")
@blp.response(200, page_of(PlanSchema))
def list_plans(args, patient_id):
    stmt, today = service.list_plans(current_actor(), patient_id, args.get("status"))
    page = paginate(stmt, args["page"], args["per_page"])
    page["items"] = service.plan_views(page["items"], today)
    return page


@blp.route("/<uuid:plan_id>", methods=["GET"])
@authenticate
@blp.arguments(PlanDetailArgs, location="query")
@blp.response(200, PlanSchema)
def get_plan(args, patient_id, plan_id):
    """The plan with its history; version_in_force answers for ?on= (default today)."""
    return service.get_plan(current_actor(), patient_id, plan_id, args.get("on"))


@blp.route("/<uuid:plan_id>/versions", methods=["POST"])
@authenticate
@blp.arguments(VersionCreateSchema)
@blp.response(201, PlanSchema)
@blp.alt_response(409, description="Safety warnings to acknowledge or override")
def add_version(data, patient_id, plan_id):
    """Change the plan from a date: the new version holds the whole item list."""
    return service.add_version(current_actor(), patient_id, plan_id, data)


@blp.route("/<uuid:plan_id>/pause", methods=["POST"])
@authenticate
@blp.arguments(PauseSchema)
@blp.response(200, PlanSchema)
def pause(data, patient_id, plan_id):
    """Pause (hospital stay, pressure injury, illness): paused days expect nothing."""
    return service.pause(current_actor(), patient_id, plan_id, data)


@blp.route("/<uuid:plan_id>/resume", methods=["POST"])
@authenticate
@blp.arguments(ResumeSchema)
@blp.response(200, PlanSchema)
def resume(data, patient_id, plan_id):
    return service.resume(current_actor(), patient_id, plan_id, data)


@blp.route("/<uuid:plan_id>/end", methods=["POST"])
@authenticate
@blp.arguments(EndSchema)
@blp.response(200, PlanSchema)
def end(data, patient_id, plan_id):
    return service.end(current_actor(), patient_id, plan_id, data)
