from flask import Response

from app.auth.authenticate import authenticate, current_actor
from app.common.web import requested_language
from app.common.pagination import PageArgs, page_of, paginate
from app.common.types import utcnow
from app.coordinator import service
from app.coordinator.schemas import (
    CaseloadArgs,
    CaseloadFilterArgs,
    CaseloadPageSchema,
    ContactInSchema,
    ContactSchema,
    LangArgs,
    OwnDataSchema,
    TimelineArgs,
    TimelineEntrySchema,
)
from app.coordinator.timeline import contact_view
from app.extensions import Blueprint
from app.patients.service import language_for

caseload_blp = Blueprint("caseload", __name__, url_prefix="/api/v1/caseload",
                         description="Your patients with adherence, last session, open flags and "
                                     "follow-ups; riskiest first.")
patient_blp = Blueprint("coordinator", __name__, url_prefix="/api/v1/patients/<patient_id>",
                        description="A patient's timeline and contact log, the FHIR export, and the "
                                    "patient's own data export.")

CSV = "text/csv"
FHIR_JSON = "application/fhir+json"


@caseload_blp.route("", methods=["GET"])
@authenticate
@caseload_blp.arguments(CaseloadArgs, location="query")
@caseload_blp.response(200, CaseloadPageSchema)
def caseload(args):
    """Filter by flag severity or rule, adherence below a rate, no session since a date, an
    overdue follow-up or name; sort by risk (default), name, last session or adherence."""
    return service.caseload_page(current_actor(), args, utcnow())


@caseload_blp.route("/export.csv", methods=["GET"])
@authenticate
@caseload_blp.arguments(CaseloadFilterArgs, location="query")
@caseload_blp.response(200, content_type=CSV, description="The whole filtered caseload as CSV")
def caseload_csv(args):
    """Cells that a spreadsheet would run as a formula start with an apostrophe."""
    body = service.caseload_csv(current_actor(), args, utcnow())
    return Response(body, mimetype=CSV,
                    headers={"Content-Disposition": 'attachment; filename="caseload.csv"'})


@patient_blp.route("/timeline", methods=["GET"])
@authenticate
@patient_blp.arguments(TimelineArgs, location="query")
@patient_blp.response(200, page_of(TimelineEntrySchema))
def timeline(args, patient_id):
    """Sessions, plan versions, pauses and resumes, flags opened and resolved, and contacts, in order."""
    language = language_for(current_actor(), requested_language(args.get("lang")))
    stmt, render = service.timeline(current_actor(), patient_id, args, language)
    return paginate(stmt, args, scalars=False).map_all(render)


@patient_blp.route("/contacts", methods=["POST"])
@authenticate
@patient_blp.arguments(ContactInSchema, example={"channel": "phone", "outcome": "reached",
                                                 "note": "Sessions paused by a cold; restarting Monday.",
                                                 "follow_up_on": "2030-01-07"})
@patient_blp.response(201, ContactSchema)
def log_contact(data, patient_id):
    """A call or message to the patient and its outcome; a follow-up date reminds you that morning."""
    return contact_view(service.log_contact(current_actor(), patient_id, data, utcnow()))


@patient_blp.route("/contacts", methods=["GET"])
@authenticate
@patient_blp.arguments(PageArgs, location="query")
@patient_blp.response(200, page_of(ContactSchema))
def contacts(args, patient_id):
    return paginate(service.contacts(current_actor(), patient_id), args).map(contact_view)


@patient_blp.route("/fhir", methods=["GET"])
@authenticate
@patient_blp.arguments(LangArgs, location="query")
@patient_blp.response(200, content_type=FHIR_JSON,
                      description="A FHIR R4 collection Bundle: Patient, CarePlan, Observation, Flag")
def fhir(args, patient_id):
    import json

    bundle = service.fhir(current_actor(), patient_id, language_for(current_actor(), requested_language(args.get("lang"))), utcnow())
    return Response(json.dumps(bundle, ensure_ascii=False), mimetype=FHIR_JSON)


@patient_blp.route("/export", methods=["GET"])
@authenticate
@patient_blp.arguments(LangArgs, location="query")
@patient_blp.response(200, OwnDataSchema)
def own_data(args, patient_id):
    """Your own data: profile, plans and every session (the patient only)."""
    return service.own_data(current_actor(), patient_id, language_for(current_actor(), requested_language(args.get("lang"))), utcnow())


@patient_blp.route("/export/sessions.csv", methods=["GET"])
@authenticate
@patient_blp.arguments(LangArgs, location="query")
@patient_blp.response(200, content_type=CSV, description="Your sessions as CSV")
def own_sessions_csv(args, patient_id):
    body, day = service.own_sessions_csv(current_actor(), patient_id,
                                         language_for(current_actor(), requested_language(args.get("lang"))), utcnow())
    return Response(body, mimetype=CSV,
                    headers={"Content-Disposition": f'attachment; filename="standstrong-sessions-{day}.csv"'})
