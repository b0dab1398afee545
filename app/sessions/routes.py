from app.auth.authenticate import authenticate, current_actor
from app.common.db import reads_first
from app.common.web import requested_language
from app.common.conditional import if_match_revision
from app.common.pagination import page_of
from app.extensions import Blueprint
from app.patients.service import language_for
from app.sessions import service
from app.sessions.schemas import (
    BatchInSchema,
    BatchOutSchema,
    ChangesArgs,
    ChangesSchema,
    ConflictSchema,
    SessionInSchema,
    SessionListArgs,
    SessionSchema,
    SymptomArgs,
    SymptomSchema,
)

blp = Blueprint("sessions", __name__, url_prefix="/api/v1/patients/<patient_id>/sessions",
                description="Sessions logged by the patient or a caregiver. Offline sync: the app makes "
                            "each session's UUID; sending the same body again is safe (200 unchanged). "
                            "An edit or delete names the revision it was made on (`base_revision` or "
                            "`If-Match`); if the session changed since, nothing is stored and the 409 "
                            "(`stale-revision`) carries the stored version in `current`; without a base "
                            "revision a changed body answers 428 with `current`. Then show the person "
                            "`current` (its safety alerts above all) and resend with base_revision = "
                            "current.revision only if the change still applies. The changes feed is in "
                            "commit order: apply its items by id and revision, keep `next_cursor` and send "
                            "it as `since` (again at once while `has_more`). A cursor is opaque and bound "
                            "to its patient; one that is altered or another patient's answers 422: drop it "
                            "and start again without `since`.")
SESSION_EXAMPLE = {"exercise": "pressure-relief", "started_at": "2026-01-01T10:00:00+08:00", "duration_minutes": 5}
symptoms_blp = Blueprint("symptoms", __name__, url_prefix="/api/v1/symptoms",
                         description="The checklist asked after each session.")


@symptoms_blp.route("", methods=["GET"])
@authenticate
@symptoms_blp.arguments(SymptomArgs, location="query")
@symptoms_blp.response(200, page_of(SymptomSchema))
def symptoms(args):
    return service.symptom_checklist(language_for(current_actor(), requested_language(args.get("lang"))), args)


_ETAG_HEADER = {"ETag": {"description": "The revision, quoted: send it back as If-Match to edit or delete",
                         "schema": {"type": "string"}}}
_REVISION_HEADER = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                    "description": "The revision the change was made on (the ETag or `revision`), "
                                   "instead of base_revision"}


def _if_match() -> int | None:
    return if_match_revision("If-Match must be the session's revision as its ETag gives it, e.g. \"3\".")


def _with_etag(out: dict, status: int = 200):
    return out, status, {"ETag": f'"{out["revision"]}"'}


_CONFLICT = "The stored version is in `current`; see the sync protocol in the API description"


@blp.route("/<uuid:session_id>", methods=["PUT"])
@reads_first  # the service takes SQLite's write lock where its writes start
@authenticate
@blp.arguments(SessionInSchema, example=SESSION_EXAMPLE)
@blp.response(200, SessionSchema, description="Already stored (unchanged) or edited", headers=_ETAG_HEADER)
@blp.alt_response(201, schema=SessionSchema, description="Created", headers=_ETAG_HEADER)
@blp.alt_response(409, schema=ConflictSchema, content_type="application/problem+json",
                  description="Edited meanwhile (stale-revision), deleted (session-deleted), outside the edit "
                              "window (edit-window-closed), or the id is taken. " + _CONFLICT)
@blp.alt_response(428, schema=ConflictSchema, content_type="application/problem+json",
                  description="A changed body without base_revision (or If-Match). " + _CONFLICT)
@blp.doc(parameters=[_REVISION_HEADER])
def put_session(data, patient_id, session_id):
    """Log a session (201), or send it again (200, unchanged), or edit it within the window (200).

    An edit names the revision it was made on (`base_revision` or `If-Match`); if the session
    changed since, nothing is stored and the 409 carries the current version. Who logged it
    comes from the token. Reported signs of autonomic dysreflexia or a possible fracture add
    urgent `safety_alerts` and mark the session for review.
    """
    return _with_etag(*service.put_session(current_actor(), patient_id, session_id, data, requested_language(),
                                           if_match=_if_match()))


@blp.route("/<uuid:session_id>", methods=["DELETE"])
@authenticate
@blp.response(204)
@blp.alt_response(409, schema=ConflictSchema, content_type="application/problem+json",
                  description="Changed since the If-Match revision, or outside the edit window. " + _CONFLICT)
@blp.alt_response(428, schema=ConflictSchema, content_type="application/problem+json",
                  description="No If-Match. " + _CONFLICT)
@blp.doc(parameters=[dict(_REVISION_HEADER, description="The revision being deleted (required)")])
def delete_session(patient_id, session_id):
    """Soft delete within the edit window (audited), with If-Match: the revision the app had.
    The sync feed reports it; deleting again answers 204."""
    service.delete_session(current_actor(), patient_id, session_id, requested_language(), if_match=_if_match())


@blp.route("/<uuid:session_id>", methods=["GET"])
@authenticate
@blp.response(200, SessionSchema, headers=_ETAG_HEADER)
def get_session(patient_id, session_id):
    return _with_etag(service.get_session(current_actor(), patient_id, session_id, requested_language()))


@blp.route("/batch", methods=["POST"])
@authenticate
@blp.arguments(BatchInSchema, example={"sessions": [{"id": "0b9f7c1e-5d2a-4c3b-8e6f-1a2b3c4d5e6f", **SESSION_EXAMPLE}]})
@blp.response(200, BatchOutSchema)
def batch(data, patient_id):
    """Offline sync: up to 500 sessions, each answered on its own (created, unchanged, updated,
    or error with its problem); one bad item never loses the others. An edited item carries its
    base_revision; a stale one is an error item whose problem is a 409 with `current`."""
    return service.batch(current_actor(), patient_id, data["sessions"], requested_language())


@blp.route("", methods=["GET"])
@authenticate
@blp.arguments(SessionListArgs, location="query")
@blp.response(200, page_of(SessionSchema))
def list_sessions(args, patient_id):
    """Newest first; filter by patient-local dates (from, to) and needs_review."""
    return service.list_sessions(current_actor(), patient_id, args, requested_language())


@blp.route("/changes", methods=["GET"])
@authenticate
@blp.arguments(ChangesArgs, location="query")
@blp.response(200, ChangesSchema)
def changes(args, patient_id):
    """The sync feed: sessions created, updated or deleted since the cursor, in commit order.

    Page with `since` = the last `next_cursor` while `has_more`. No settle delay: a write is in
    the feed once it commits, and one that commits after this call always comes after its cursor.
    A cursor from another patient's feed, or altered, answers 422 (drop it and start again
    without `since`)."""
    return service.changes(current_actor(), patient_id, args.get("since"), args["limit"], requested_language())
