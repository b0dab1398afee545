from app.auth.authenticate import authenticate, current_actor
from app.common.web import requested_language
from app.common.pagination import page_of, paginate
from app.extensions import Blueprint
from app.patients.service import language_for
from app.sessions import service
from app.sessions.schemas import (
    BatchInSchema,
    BatchOutSchema,
    ChangesArgs,
    ChangesSchema,
    SessionInSchema,
    SessionListArgs,
    SessionSchema,
    SymptomArgs,
    SymptomSchema,
)

blp = Blueprint("sessions", __name__, url_prefix="/api/v1/patients/<patient_id>/sessions",
                description="Sessions logged by the patient or a caregiver. The app makes each "
                            "session's UUID; sending it again is safe.")
SESSION_EXAMPLE = {"exercise": "pressure-relief", "started_at": "2026-01-01T10:00:00+08:00", "duration_minutes": 5}
symptoms_blp = Blueprint("symptoms", __name__, url_prefix="/api/v1/symptoms",
                         description="The checklist asked after each session.")


@symptoms_blp.route("", methods=["GET"])
@authenticate
@symptoms_blp.arguments(SymptomArgs, location="query")
@symptoms_blp.response(200, page_of(SymptomSchema))
def symptoms(args):
    return service.symptom_checklist(language_for(current_actor(), requested_language(args.get("lang"))), args)


@blp.route("/<uuid:session_id>", methods=["PUT"])
@authenticate
@blp.arguments(SessionInSchema, example=SESSION_EXAMPLE)
@blp.response(200, SessionSchema, description="Already stored (unchanged) or edited")
@blp.alt_response(201, schema=SessionSchema, description="Created")
@blp.alt_response(409, description="Same id, different body, outside the edit window (or deleted)")
def put_session(data, patient_id, session_id):
    """Log a session (201), or send it again (200, unchanged), or edit it within the window (200).

    Who logged it comes from the token. Reported signs of autonomic dysreflexia or a possible
    fracture add urgent `safety_alerts` and mark the session for review.
    """
    return service.put_session(current_actor(), patient_id, session_id, data, requested_language())


@blp.route("/<uuid:session_id>", methods=["DELETE"])
@authenticate
@blp.response(204)
def delete_session(patient_id, session_id):
    """Soft delete within the edit window (audited); the sync feed reports it."""
    service.delete_session(current_actor(), patient_id, session_id)


@blp.route("/<uuid:session_id>", methods=["GET"])
@authenticate
@blp.response(200, SessionSchema)
def get_session(patient_id, session_id):
    return service.get_session(current_actor(), patient_id, session_id, requested_language())


@blp.route("/batch", methods=["POST"])
@authenticate
@blp.arguments(BatchInSchema, example={"sessions": [{"id": "0b9f7c1e-5d2a-4c3b-8e6f-1a2b3c4d5e6f", **SESSION_EXAMPLE}]})
@blp.response(200, BatchOutSchema)
def batch(data, patient_id):
    """Offline sync: up to 500 sessions, each answered on its own (created, unchanged, updated,
    or error with its problem); one bad item never loses the others."""
    return service.batch(current_actor(), patient_id, data["sessions"], requested_language())


@blp.route("", methods=["GET"])
@authenticate
@blp.arguments(SessionListArgs, location="query")
@blp.response(200, page_of(SessionSchema))
def list_sessions(args, patient_id):
    """Newest first; filter by patient-local dates (from, to) and needs_review."""
    stmt, language = service.list_sessions(current_actor(), patient_id, args, requested_language())
    return paginate(stmt, args).map(lambda s: service.view(s, language))


@blp.route("/changes", methods=["GET"])
@authenticate
@blp.arguments(ChangesArgs, location="query")
@blp.response(200, ChangesSchema)
def changes(args, patient_id):
    """The sync feed: sessions created, updated or deleted since the cursor, with a new cursor."""
    return service.changes(current_actor(), patient_id, args.get("since"), args["limit"], requested_language())
