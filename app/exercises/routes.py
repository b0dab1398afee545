from app.auth.service import auth_required, current_actor
from app.common.pagination import page_of, paginate
from app.common.i18n import LanguageArgs
from app.exercises import service
from app.exercises.schemas import ExerciseListArgs, ExerciseSchema
from app.extensions import Blueprint
from app.patients.service import language_for

blp = Blueprint("exercises", __name__, url_prefix="/api/v1/exercises",
                description="The exercise library (language as in education).")


@blp.route("", methods=["GET"])
@auth_required()
@blp.arguments(ExerciseListArgs, location="query")
@blp.response(200, page_of(ExerciseSchema))
def list_exercises(args):
    language = language_for(current_actor(), args.get("lang"))
    page = paginate(service.catalogue(args.get("kind")), args["page"], args["per_page"])
    page["items"] = [service.exercise_view(e, language) for e in page["items"]]
    return page, 200, {"Content-Language": language}


@blp.route("/<exercise_id>", methods=["GET"])
@auth_required()
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, ExerciseSchema)
def get_exercise(args, exercise_id):
    """By id, or by slug."""
    view = service.exercise_view(service.get_exercise(exercise_id), language_for(current_actor(), args.get("lang")))
    return view, 200, {"Content-Language": view["language"]}
