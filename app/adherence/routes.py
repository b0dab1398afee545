from app.adherence import service
from app.adherence.schemas import (
    AdherenceArgs,
    AdherenceSchema,
    AgendaArgs,
    AgendaSchema,
    AgendaWeekArgs,
    AgendaWeekSchema,
    WeeklyArgs,
    WeeklySummarySchema,
)
from app.auth.authenticate import authenticate, current_actor
from app.common.web import requested_language
from app.extensions import Blueprint

blp = Blueprint("adherence", __name__, url_prefix="/api/v1/patients/<patient_id>",
                description="The agenda (what is due, what is done) and adherence, by the patient's local date.")


@blp.route("/agenda", methods=["GET"])
@authenticate
@blp.arguments(AgendaArgs, location="query")
@blp.response(200, AgendaSchema)
def agenda(args, patient_id):
    """Items due on the date (default: today in the patient's time zone) and what is done.
    N-a-week items show how many remain this week instead of fixed days."""
    return service.agenda(current_actor(), patient_id, args.get("date"), requested_language(args.get("lang")))


@blp.route("/agenda/week", methods=["GET"])
@authenticate
@blp.arguments(AgendaWeekArgs, location="query")
@blp.response(200, AgendaWeekSchema)
def agenda_week(args, patient_id):
    """Monday to Sunday of the week containing start (default this week)."""
    return service.agenda_week(current_actor(), patient_id, args.get("start"), requested_language(args.get("lang")))


@blp.route("/adherence", methods=["GET"])
@authenticate
@blp.arguments(AdherenceArgs, location="query")
@blp.response(200, AdherenceSchema)
def adherence(args, patient_id):
    """Per plan item and overall: expected and completed sessions, rate, minutes, streak,
    last session, days with data in the last 30 (window=7|30|90, or from/to)."""
    return service.adherence(current_actor(), patient_id, args)


@blp.route("/adherence/weekly", methods=["GET"])
@authenticate
@blp.arguments(WeeklyArgs, location="query")
@blp.response(200, WeeklySummarySchema)
def weekly(args, patient_id):
    """Sessions done against planned, minutes, streak and an encouraging line in the patient's language."""
    return service.weekly_summary(current_actor(), patient_id, args.get("week"), requested_language(args.get("lang")))
