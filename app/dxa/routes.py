from app.auth.authenticate import authenticate, current_actor
from app.common.i18n import LanguageArgs
from app.common.pagination import page_of
from app.common.types import utcnow
from app.dxa import service
from app.dxa.schemas import (
    DxaFollowUpCreateSchema,
    DxaFollowUpListArgs,
    DxaFollowUpSchema,
    DxaFollowUpUpdateSchema,
    DxaProtocolInSchema,
    DxaProtocolSchema,
    DxaResultInSchema,
    DxaResultListArgs,
    DxaResultSchema,
)
from app.extensions import Blueprint
from app.common.web import requested_language
from app.patients.service import language_for

def _language(args) -> str:
    return language_for(current_actor(), requested_language(args.get("lang")))


blp = Blueprint("dxa", __name__, url_prefix="/api/v1/patients/<patient_id>/dxa",
                description="DXA results, the monitoring protocol and follow-up scans. The care team "
                            "writes; the patient and caregivers read, with plain-language explanations.")


@blp.route("/results", methods=["POST"])
@authenticate
@blp.arguments(DxaResultInSchema, example={"scan_date": "2026-01-05", "site": "distal_femur", "side": "right",
                                           "bmd": 0.712, "t_score": -2.1, "centre": "Rehab Centre"})
@blp.arguments(LanguageArgs, location="query")
@blp.response(201, DxaResultSchema)
@blp.alt_response(409, description="A result for this site, side and scan date exists")
def create_result(data, args, patient_id):
    """Enter one site of a scan. A result from a new scan date completes the open follow-up and
    plans the next one per the protocol."""
    return service.create_result(current_actor(), patient_id, data, utcnow(),
                                 _language(args))


@blp.route("/results", methods=["GET"])
@authenticate
@blp.arguments(DxaResultListArgs, location="query")
@blp.response(200, page_of(DxaResultSchema))
def list_results(args, patient_id):
    """Newest first, each with its change from the previous scan at the same site and side."""
    return service.list_results(current_actor(), patient_id, args, _language(args))


@blp.route("/results/<uuid:result_id>", methods=["GET"])
@authenticate
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, DxaResultSchema)
def get_result(args, patient_id, result_id):
    return service.get_result(current_actor(), patient_id, result_id,
                              _language(args))


@blp.route("/results/<uuid:result_id>", methods=["DELETE"])
@authenticate
@blp.response(204)
def delete_result(patient_id, result_id):
    """Remove a result entered in error."""
    service.delete_result(current_actor(), patient_id, result_id, utcnow())


@blp.route("/protocol", methods=["GET"])
@authenticate
@blp.response(200, DxaProtocolSchema)
def get_protocol(patient_id):
    """The monitoring protocol for this patient and the next follow-up it calls for."""
    return service.get_protocol(current_actor(), patient_id, utcnow())


@blp.route("/protocol", methods=["PUT"])
@authenticate
@blp.arguments(DxaProtocolInSchema, example={"medically_stable_on": "2026-01-01", "interval_months": 12})
@blp.response(200, DxaProtocolSchema)
def put_protocol(data, patient_id):
    """Set when the patient was medically stable, when treatment started, and the interval
    (12-24 months); the next follow-up is planned (or an unbooked one moved) accordingly."""
    return service.put_protocol(current_actor(), patient_id, data, utcnow())


@blp.route("/followups", methods=["GET"])
@authenticate
@blp.arguments(DxaFollowUpListArgs, location="query")
@blp.response(200, page_of(DxaFollowUpSchema))
def list_followups(args, patient_id):
    return service.list_followups(current_actor(), patient_id, args, utcnow())


@blp.route("/followups", methods=["POST"])
@authenticate
@blp.arguments(DxaFollowUpCreateSchema, example={"kind": "interval", "due_date": "2027-01-01"})
@blp.response(201, DxaFollowUpSchema)
@blp.alt_response(409, description="An open follow-up exists")
def create_followup(data, patient_id):
    """A follow-up outside the protocol's plan (one open at a time)."""
    now = utcnow()
    followup, patient = service.create_followup(current_actor(), patient_id, data, now)
    return service.followup_view(followup, patient, now)


@blp.route("/followups/<uuid:followup_id>", methods=["GET"])
@authenticate
@blp.response(200, DxaFollowUpSchema)
def get_followup(patient_id, followup_id):
    followup, patient = service.get_followup(current_actor(), patient_id, followup_id)
    return service.followup_view(followup, patient, utcnow())


@blp.route("/followups/<uuid:followup_id>", methods=["PATCH"])
@authenticate
@blp.arguments(DxaFollowUpUpdateSchema, example={"appointment": {"date": "2027-01-12", "time": "09:30",
                                                                  "place": "Imaging, room 3"}})
@blp.response(200, DxaFollowUpSchema)
@blp.alt_response(409, description="The follow-up is closed (done, missed or cancelled)")
def update_followup(data, patient_id, followup_id):
    """Book or rebook (appointment), unbook (appointment null), move the due date, or close it
    (status done, missed, cancelled). Done or missed plans the next one."""
    now = utcnow()
    followup, patient = service.update_followup(current_actor(), patient_id, followup_id, data, now)
    return service.followup_view(followup, patient, now)
