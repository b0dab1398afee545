from app.auth import service as auth
from app.auth.authenticate import authenticate, current_actor
from app.auth.routes import address_limit
from app.auth.schemas import ActivateSchema, TokenSchema
from app.common.pagination import page_of, paginate
from app.extensions import Blueprint
from app.patients import service
from app.patients.schemas import (
    CaregiverInviteSchema,
    CaregiverSchema,
    CareTeamMemberSchema,
    InvitationSchema,
    MeSchema,
    PatientCreatedSchema,
    PatientCreateSchema,
    PatientListArgs,
    PatientSchema,
    PatientSummarySchema,
    PatientUpdateSchema,
)

blp = Blueprint("patients", __name__, url_prefix="/api/v1/patients",
                description="Patient profiles, care teams and caregivers. "
                            "A patient, or a caregiver of one patient, may write `me` for patient_id.")
me_blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The logged-in account.")
activation_blp = Blueprint("activation", __name__, url_prefix="/api/v1/auth",
                           description="Activation of invited patients' and caregivers' logins.")


@activation_blp.route("/activate", methods=["POST"])
@address_limit()
@activation_blp.arguments(ActivateSchema)
@activation_blp.response(201, TokenSchema)
def activate(data):
    """Create a patient's or caregiver's login from a one-time invitation code; logs in."""
    service.activate(data["code"], data["email"], data["password"], data.get("display_name"))
    return auth.login(data["email"], data["password"])


@me_blp.route("", methods=["GET"])
@authenticate
@me_blp.response(200, MeSchema)
def me():
    """The account, its role, and for a patient the profile (for a caregiver, who they care for)."""
    return service.me(current_actor())


@blp.route("", methods=["POST"])
@authenticate
@blp.arguments(PatientCreateSchema)
@blp.response(201, PatientCreatedSchema)
def create_patient(data):
    """Create a patient on your caseload; the answer carries the one-time activation code."""
    return service.create_patient(current_actor(), data)


@blp.route("", methods=["GET"])
@authenticate
@blp.arguments(PatientListArgs, location="query")
@blp.response(200, page_of(PatientSummarySchema))
def list_patients(args):
    """Your caseload (coordinator), everyone (admin), or the patients you may act for."""
    page = paginate(service.list_patients(current_actor(), args.get("q")), args["page"], args["per_page"])
    service.audit_listed(current_actor(), page["items"])
    return page | {"items": service.listed(current_actor(), page["items"])}


@blp.route("/<patient_id>", methods=["GET"])
@authenticate
@blp.response(200, PatientSchema)
def get_patient(patient_id):
    return service.get_patient(current_actor(), patient_id)


@blp.route("/<patient_id>", methods=["PATCH"])
@authenticate
@blp.arguments(PatientUpdateSchema)
@blp.response(200, PatientSchema)
def update_patient(data, patient_id):
    """Coordinators change any field; the patient or caregiver only language, time zone, e-mail."""
    return service.update_patient(current_actor(), patient_id, data)


@blp.route("/<patient_id>/invitation", methods=["POST"])
@authenticate
@blp.response(201, InvitationSchema)
def reissue_invitation(patient_id):
    """A new activation code for a patient who has not activated yet (old codes stop working)."""
    return service.reissue_patient_invitation(current_actor(), patient_id)


@blp.route("/<patient_id>/care-team", methods=["GET"])
@authenticate
@blp.response(200, CareTeamMemberSchema(many=True))
def care_team(patient_id):
    return service.care_team(current_actor(), patient_id)


@blp.route("/<patient_id>/care-team", methods=["POST"])
@authenticate
@blp.arguments(CareTeamMemberSchema)
@blp.response(201, CareTeamMemberSchema(many=True))
def add_to_care_team(data, patient_id):
    """Add a coordinator to the patient's care team (a coordinator of the patient, or an admin)."""
    return service.add_to_care_team(current_actor(), patient_id, data["coordinator_id"])


@blp.route("/<patient_id>/care-team/<uuid:coordinator_id>", methods=["DELETE"])
@authenticate
@blp.response(204)
def remove_from_care_team(patient_id, coordinator_id):
    service.remove_from_care_team(current_actor(), patient_id, coordinator_id)


@blp.route("/<patient_id>/caregivers", methods=["GET"])
@authenticate
@blp.response(200, CaregiverSchema(many=True))
def caregivers(patient_id):
    return service.caregivers(current_actor(), patient_id)


@blp.route("/<patient_id>/caregivers/invitations", methods=["POST"])
@authenticate
@blp.arguments(CaregiverInviteSchema)
@blp.response(201, InvitationSchema)
def invite_caregiver(data, patient_id):
    """The patient invites a caregiver to act for them; the code activates the caregiver's login."""
    return service.invite_caregiver(current_actor(), patient_id, data.get("relationship_note"))


@blp.route("/<patient_id>/caregivers/<uuid:link_id>", methods=["DELETE"])
@authenticate
@blp.response(204)
def revoke_caregiver(patient_id, link_id):
    """The patient withdraws a caregiver's right to act for them."""
    service.revoke_caregiver(current_actor(), patient_id, link_id)
