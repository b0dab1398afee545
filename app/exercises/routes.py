from app.auth.authenticate import authenticate, current_actor
from app.common.web import requested_language
from app.common.pagination import page_of, paginate
from app.common.i18n import LanguageArgs
from app.exercises import service
from app.exercises.schemas import ExerciseListArgs, ExerciseSchema
from app.extensions import Blueprint
from app.patients.service import language_for

blp = Blueprint("exercises", __name__, url_prefix="/api/v1/exercises",
                description="The exercise library (language as in education).")


@blp.route("", methods=["GET"])
@authenticate
@blp.arguments(ExerciseListArgs, location="query")
@blp.response(200, page_of(ExerciseSchema))
def list_exercises(args):
    language = language_for(current_actor(), requested_language(args.get("lang")))
    page = paginate(service.catalogue(args.get("kind")), args["page"], args["per_page"])
    page["items"] = [service.exercise_view(e, language) for e in page["items"]]
    return page, 200, {"Content-Language": language}


@blp.route("/<exercise_id>", methods=["GET"])
@authenticate
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, ExerciseSchema)
def get_exercise(args, exercise_id):
    """By id, or by slug."""
    language = language_for(current_actor(), requested_language(args.get("lang")))
    view = service.exercise_view(service.get_exercise(exercise_id), language)
    return view, 200, {"Content-Language": view["language"]}
