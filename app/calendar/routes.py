from flask import Response

from app.auth.authenticate import authenticate, current_actor, current_login_id, optional_actor
from app.calendar import service
from app.calendar.schemas import FeedArgs, FeedStatusSchema, FeedTokenSchema
from app.common.types import utcnow
from app.errors import problem
from app.extensions import Blueprint

blp = Blueprint("calendar", __name__, url_prefix="/api/v1/patients/<patient_id>",
                description="The patient's calendar feed (iCalendar): booked DXA appointments and due bone "
                            "treatments. A phone calendar subscribes with the feed token.")


@blp.route("/calendar.ics", methods=["GET"])
@blp.doc(security=[{"bearerAuth": []}, {"feedToken": []}],
         responses={"200": {"description": "RFC 5545 calendar",
                            "content": {"text/calendar": {"schema": {"type": "string"}}}}})
@blp.arguments(FeedArgs, location="query")
def calendar_feed(args, patient_id):
    """The feed, authorised by `?token=` (the feed token) or a Bearer token of someone who may read
    the patient's data. A revoked or rotated token gets 404, as does one whose maker may no
    longer issue it (a revoked caregiver, an account switched off)."""
    if args.get("token"):
        patient = service.patient_by_token(patient_id, args["token"])
    else:
        actor = optional_actor()
        if actor is None:
            return problem(401, "Unauthorized", "Send the feed token (?token=) or a Bearer access token.",
                           headers={"WWW-Authenticate": "Bearer"})
        patient = service.patient_by_actor(actor, patient_id)
    body = service.ics(patient, args.get("lang"))
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "private, max-age=300"})


@blp.route("/calendar-feed", methods=["GET"])
@authenticate
@blp.response(200, FeedStatusSchema)
def feed_status(patient_id):
    return service.feed_status(current_actor(), patient_id)


@blp.route("/calendar-feed", methods=["POST"])
@authenticate
@blp.response(201, FeedTokenSchema)
def issue_token(patient_id):
    """Create or rotate the feed token (the previous one stops working). The patient or a caregiver."""
    return service.issue_token(current_actor(), patient_id, utcnow(), current_login_id())


@blp.route("/calendar-feed", methods=["DELETE"])
@authenticate
@blp.response(204)
def revoke_token(patient_id):
    """Revoke the feed token: subscribed calendars stop updating."""
    service.revoke_token(current_actor(), patient_id, utcnow())
