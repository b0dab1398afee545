from flask import jsonify
from werkzeug.http import http_date

from app.auth.authenticate import authenticate, current_actor, optional_actor
from app.common.conditional import ETAG_HEADER, IF_MODIFIED_SINCE, IF_NONE_MATCH, conditional, not_modified
from app.common.i18n import LanguageArgs
from app.common.pagination import PageArgs, PageMeta, page_of
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


CACHING = {"Vary": "Accept-Language, Authorization", "Cache-Control": "private, no-cache"}


@blp.route("/modules", methods=["GET"])
@blp.doc(**OPTIONAL_AUTH)
@conditional
@blp.arguments(ModuleListArgs, location="query")
@blp.response(200, page_of(ModuleSummarySchema), headers=ETAG_HEADER)
@blp.alt_response(304, description="Not modified: the cached copy (If-None-Match, If-Modified-Since) is current")
@blp.doc(parameters=[IF_NONE_MATCH, IF_MODIFIED_SINCE])
def list_modules(args):
    """The catalogue: filter by tag, search titles and bodies, paginated. Strong ETag: changes
    when any listed module's content version (or the page) changes; Last-Modified: the
    newest listed module's."""
    language = language_for(optional_actor(), requested_language(args.get("lang")))
    page = service.catalogue_page(args, language)
    headers = CACHING | {"Content-Language": language, "ETag": f'"{service.catalogue_etag(page, language)}"'}
    if page.items:
        headers["Last-Modified"] = http_date(max(m.updated_at for m in page.items))
    cached_copy = not_modified(headers)
    if cached_copy is not None:
        return cached_copy
    if not args.get("tag") and not args.get("q"):
        return jsonify({"items": _dumped_items(page, language), "meta": PageMeta().dump(page.meta)}), 200, headers
    return page, 200, headers


_DUMPED: dict = {}  # (language, page, per_page) -> (the summaries dumped, their dump)
_DUMPED_PAGES = 256


def _dumped_items(page, language: str) -> list:
    """The unfiltered catalogue's items are the per-process seed copy's objects, the same ones
    until a seed run replaces them (app/common/seed_cache.py): each page is serialised once."""
    key = (language, page.page, page.per_page)
    cached = _DUMPED.get(key)
    if cached is None or len(cached[0]) != len(page.items) or any(a is not b for a, b in zip(cached[0], page.items)):
        if len(_DUMPED) >= _DUMPED_PAGES:
            _DUMPED.clear()
        cached = _DUMPED[key] = (page.items, ModuleSummarySchema(many=True).dump(page.items))
    return cached[1]


@blp.route("/modules/<slug>", methods=["GET"])
@blp.doc(**OPTIONAL_AUTH)
@conditional
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, ModuleSchema, headers=ETAG_HEADER)
@blp.alt_response(304, description="Not modified: the cached copy (If-None-Match, If-Modified-Since) is current")
@blp.doc(parameters=[IF_NONE_MATCH, IF_MODIFIED_SINCE])
def get_module(args, slug):
    """One module: sections, references, the not-medical-advice notice, quiz questions.

    Strong ETag (changes with the content version) and Last-Modified; If-None-Match (weak
    comparison) or If-Modified-Since give 304.
    """
    module = service.module_by_slug(slug)
    language = service.served_language_of(module, language_for(optional_actor(), requested_language(args.get("lang"))))
    headers = CACHING | {"Content-Language": language, "ETag": f'"{service.etag_for(module, language)}"',
                         "Last-Modified": http_date(module.updated_at)}
    return service.module_in(module, language), 200, headers


@patient_blp.route("", methods=["GET"])
@authenticate
@patient_blp.arguments(LanguageArgs, location="query")
@patient_blp.response(200, PatientEducationSchema)
def overview(args, patient_id):
    """Every module with the patient's status; recommended, not yet completed modules first."""
    return service.patient_overview(current_actor(), patient_id, requested_language(args.get("lang")))


@patient_blp.route("/modules/<slug>/progress", methods=["PUT"])
@authenticate
@patient_blp.arguments(ProgressInSchema, example={"status": "completed"})
@patient_blp.response(200, ProgressSchema)
def record_progress(data, patient_id, slug):
    """Mark a module opened or completed (the patient or a caregiver)."""
    return service.record_progress(current_actor(), patient_id, slug, data["status"])


@patient_blp.route("/recommendations", methods=["POST"])
@authenticate
@patient_blp.arguments(RecommendationInSchema, example={"slug": "keep-going", "note": "Before your standing programme"})
@patient_blp.response(201, RecommendationSchema)
def recommend(data, patient_id):
    """A coordinator recommends a module (for example safety before standing starts).
    Recommending it again answers 201 too: a note replaces the stored one, a null note clears
    it, no note keeps it. The answer is the recommendation as stored (the note the patient sees)."""
    return service.recommend(current_actor(), patient_id, data)


@patient_blp.route("/recommendations/<slug>", methods=["DELETE"])
@authenticate
@patient_blp.response(204)
def withdraw(patient_id, slug):
    service.withdraw_recommendation(current_actor(), patient_id, slug)


@patient_blp.route("/modules/<slug>/quiz-attempts", methods=["POST"])
@authenticate
@patient_blp.arguments(LanguageArgs, location="query")
@patient_blp.arguments(QuizAnswersSchema, example={"answers": {"q1": 1, "q2": 1}})
@patient_blp.response(201, QuizResultSchema)
def submit_quiz(args, data, patient_id, slug):
    """Answer a module's check of understanding; scored at once, with explanations."""
    return service.submit_quiz(current_actor(), patient_id, slug, data["answers"],
                              requested_language(args.get("lang")))


@patient_blp.route("/modules/<slug>/quiz-attempts", methods=["GET"])
@authenticate
@patient_blp.arguments(PageArgs, location="query")
@patient_blp.response(200, page_of(QuizAttemptSchema))
def quiz_attempts(args, patient_id, slug):
    """Newest first."""
    return service.quiz_attempts(current_actor(), patient_id, slug, args)
