from flask import make_response, request

from app.auth.authenticate import authenticate, current_actor, optional_actor
from app.common.i18n import LanguageArgs
from app.common.pagination import page_from_list, page_of, paginate
from app.common.web import requested_language
from app.education import service
from app.education.schemas import (
    ModuleListArgs,
    ModuleSchema,
    ModuleSummarySchema,
    PatientEducationSchema,
    ProgressInSchema,
    ProgressSchema,
    QuizAnswersSchema,
    QuizAttemptSchema,
    QuizResultSchema,
    RecommendationInSchema,
    RecommendationSchema,
)
from app.extensions import Blueprint
from app.patients.service import language_for

blp = Blueprint("education", __name__, url_prefix="/api/v1/education",
                description="Patient education on bone loss after SCI, in zh-CN and en. Language: "
                            "?lang=, else Accept-Language, else the patient's preferred language; "
                            "Content-Language says which was served. Public; a token is optional.")
patient_blp = Blueprint("patient-education", __name__, url_prefix="/api/v1/patients/<patient_id>/education",
                        description="A patient's reading progress, recommendations and quiz answers.")

OPTIONAL_AUTH = {"security": [{}, {"bearerAuth": []}]}


def _conditional(etag: str, headers: dict, build):
    """304 when the app's cached copy (If-None-Match) is current; else build() with the ETag."""
    if request.if_none_match.contains(etag):
        response = make_response("", 304)
        response.headers.update(headers)
        response.set_etag(etag)
        return response
    return build(), 200, headers | {"ETag": f'"{etag}"'}


@blp.route("/modules", methods=["GET"])
@blp.doc(**OPTIONAL_AUTH)
@blp.arguments(ModuleListArgs, location="query")
@blp.response(200, page_of(ModuleSummarySchema))
@blp.alt_response(304, description="Not modified: the cached copy (If-None-Match) is current")
def list_modules(args):
    """The catalogue: filter by tag, search titles and bodies, paginated. Strong ETag: changes
    when any listed module's content version (or the page) changes."""
    language = language_for(optional_actor(), requested_language(args.get("lang")))
    number, per_page = args["page"], args["per_page"]
    if args.get("tag") or args.get("q"):
        page = paginate(service.catalogue(args.get("tag"), args.get("q"), language), number, per_page,
                        scalars=False)
        page["items"] = [service.summary_row(m, c) for m, c in page["items"]]
    else:
        rows = service.catalogue_summaries(language)
        page = page_from_list(rows[(number - 1) * per_page:number * per_page], number, per_page, len(rows))
    headers = {"Content-Language": language, "Vary": "Accept-Language, Authorization",
               "Cache-Control": "private, no-cache"}
    return _conditional(service.catalogue_etag(page, language), headers, lambda: page)


@blp.route("/modules/<slug>", methods=["GET"])
@blp.doc(**OPTIONAL_AUTH)
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, ModuleSchema)
@blp.alt_response(304, description="Not modified: the cached copy (If-None-Match) is current")
def get_module(args, slug):
    """One module: sections, references, the not-medical-advice notice, quiz questions.

    Strong ETag (changes with the content version) and Last-Modified; If-None-Match gives 304.
    """
    module = service.module_by_slug(slug)
    language = service.served_language_of(module, language_for(optional_actor(), requested_language(args.get("lang"))))
    headers = {"Content-Language": language, "Vary": "Accept-Language, Authorization",
               "Cache-Control": "private, no-cache",
               "Last-Modified": module.updated_at.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    return _conditional(service.etag_for(module, language), headers,
                        lambda: service.module_view(module, language))


@patient_blp.route("", methods=["GET"])
@authenticate
@patient_blp.arguments(LanguageArgs, location="query")
@patient_blp.response(200, PatientEducationSchema)
def overview(args, patient_id):
    """Every module with the patient's status; recommended, not yet completed modules first."""
    return service.patient_overview(current_actor(), patient_id, requested_language(args.get("lang")))


@patient_blp.route("/modules/<slug>/progress", methods=["PUT"])
@authenticate
@patient_blp.arguments(ProgressInSchema)
@patient_blp.response(200, ProgressSchema)
def record_progress(data, patient_id, slug):
    """Mark a module opened or completed (the patient or a caregiver)."""
    return service.record_progress(current_actor(), patient_id, slug, data["status"])


@patient_blp.route("/recommendations", methods=["POST"])
@authenticate
@patient_blp.arguments(RecommendationInSchema)
@patient_blp.response(201, RecommendationSchema)
def recommend(data, patient_id):
    """A coordinator recommends a module (for example safety before standing starts)."""
    return service.recommend(current_actor(), patient_id, data["slug"], data.get("note"))


@patient_blp.route("/recommendations/<slug>", methods=["DELETE"])
@authenticate
@patient_blp.response(204)
def withdraw(patient_id, slug):
    service.withdraw_recommendation(current_actor(), patient_id, slug)


@patient_blp.route("/modules/<slug>/quiz-attempts", methods=["POST"])
@authenticate
@patient_blp.arguments(LanguageArgs, location="query")
@patient_blp.arguments(QuizAnswersSchema)
@patient_blp.response(201, QuizResultSchema)
def submit_quiz(args, data, patient_id, slug):
    """Answer a module's check of understanding; scored at once, with explanations."""
    return service.submit_quiz(current_actor(), patient_id, slug, data["answers"],
                              requested_language(args.get("lang")))


@patient_blp.route("/modules/<slug>/quiz-attempts", methods=["GET"])
@authenticate
@patient_blp.response(200, QuizAttemptSchema(many=True))
def quiz_attempts(patient_id, slug):
    return service.quiz_attempts(current_actor(), patient_id, slug)
