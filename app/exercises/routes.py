from app.auth.authenticate import authenticate, current_actor
from app.common.web import requested_language
from app.common.pagination import page_of
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
    return service.catalogue(language, args), 200, {"Content-Language": language}


@blp.route("/<exercise_id>", methods=["GET"])
@authenticate
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, ExerciseSchema)
def get_exercise(args, exercise_id):
    """By id, or by slug."""
    language = language_for(current_actor(), requested_language(args.get("lang")))
    exercise = service.get_exercise(exercise_id, language)
    return exercise, 200, {"Content-Language": exercise.language}
