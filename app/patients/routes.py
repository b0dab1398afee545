from flask import request
from werkzeug.http import http_date

from app.auth import service as auth
from app.auth.authenticate import authenticate, current_actor
from app.auth.routes import address_limit
from app.auth.schemas import ActivateSchema, TokenSchema
from app.common.conditional import ETAG_HEADER, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, conditional
from app.common.pagination import PageArgs, page_of
from app.common.types import utcnow
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
@activation_blp.arguments(ActivateSchema, example={
    "code": "K7Q2-9XPM-4RTA", "email": "li.wei@example.org", "password": "a long passphrase 2026"})
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
@blp.arguments(PatientCreateSchema, example={
    "display_name": "Li Wei", "date_of_birth": "1980-05-01", "sex": "male", "injury_date": "2020-02-01",
    "neurological_level": "T4", "ais_grade": "A", "time_zone": "Asia/Shanghai", "language": "zh-CN"})
@blp.response(201, PatientCreatedSchema)
def create_patient(data):
    """Create a patient on your caseload; the answer carries the one-time activation code."""
    return service.create_patient(current_actor(), data, utcnow())


@blp.route("", methods=["GET"])
@authenticate
@blp.arguments(PatientListArgs, location="query")
@blp.response(200, page_of(PatientSummarySchema))
def list_patients(args):
    """Your caseload (coordinator), everyone (admin), or the patients you may act for."""
    return service.list_patients(current_actor(), args)


@blp.route("/<patient_id>", methods=["GET"])
@authenticate
@conditional
@blp.response(200, PatientSchema, headers=ETAG_HEADER)
@blp.alt_response(304, description="Not modified: the cached copy (If-None-Match) is current")
@blp.doc(parameters=[IF_NONE_MATCH, IF_MODIFIED_SINCE])
def get_patient(patient_id):
    """The profile; its ETag names this version, to send back as If-Match when changing it."""
    return _with_etag(service.get_patient(current_actor(), patient_id))


@blp.route("/<patient_id>", methods=["PATCH"])
@authenticate
@blp.arguments(PatientUpdateSchema, example={"language": "en", "time_zone": "Europe/London"})
@blp.response(200, PatientSchema, headers=ETAG_HEADER)
@blp.alt_response(412, description="The profile changed since the ETag sent as If-Match: read it again")
@blp.alt_response(428, description="No If-Match: send the profile's ETag")
@blp.doc(parameters=[IF_MATCH])
def update_patient(data, patient_id):
    """Coordinators change any field; the patient or caregiver only language, time zone, e-mail.
    If-Match: the ETag of the profile as read (two coordinators may edit at once)."""
    return _with_etag(service.update_patient(current_actor(), patient_id, data, utcnow(), request.if_match))


def _with_etag(patient):
    return patient, 200, {"ETag": f'"{patient.etag}"',
                          "Last-Modified": http_date(patient.updated_at)}


@blp.route("/<patient_id>/invitation", methods=["POST"])
@authenticate
@blp.response(201, InvitationSchema)
def reissue_invitation(patient_id):
    """A new activation code for a patient who has not activated yet (old codes stop working)."""
    return service.reissue_patient_invitation(current_actor(), patient_id)


@blp.route("/<patient_id>/care-team", methods=["GET"])
@authenticate
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(CareTeamMemberSchema))
def care_team(args, patient_id):
    return service.care_team(current_actor(), patient_id, args)


@blp.route("/<patient_id>/care-team", methods=["POST"])
@authenticate
@blp.arguments(CareTeamMemberSchema, example={"coordinator_id": "3f1c2b9e-8d4a-4e7b-9c1d-2a5b6c7d8e9f"})
@blp.response(201, page_of(CareTeamMemberSchema), description="The care team now")
def add_to_care_team(data, patient_id):
    """Add a coordinator to the patient's care team (a coordinator of the patient, or an admin)."""
    return service.add_to_care_team(current_actor(), patient_id, data["coordinator_id"])


@blp.route("/<patient_id>/care-team/<uuid:coordinator_id>", methods=["DELETE"])
@authenticate
@blp.response(204)
def remove_from_care_team(patient_id, coordinator_id):
    """Remove a coordinator from the care team.

    Refused (409) when no other active coordinator would remain: a deactivated one does not count."""
    service.remove_from_care_team(current_actor(), patient_id, coordinator_id)


@blp.route("/<patient_id>/caregivers", methods=["GET"])
@authenticate
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(CaregiverSchema))
def caregivers(args, patient_id):
    return service.caregivers(current_actor(), patient_id, args)


@blp.route("/<patient_id>/caregivers/invitations", methods=["POST"])
@authenticate
@blp.arguments(CaregiverInviteSchema, example={"relationship_note": "spouse"})
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
