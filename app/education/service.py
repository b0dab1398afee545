"""Education: the catalogue, module reads, reading progress, recommendations, quizzes."""
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import String, cast, exists, func, select, update
from sqlalchemy.orm import aliased, defer

from app.access.policy import LOG, MANAGE, READ, patient_for
from app.common.db import delete_row, insert_ignoring_conflict
from app.common.i18n import choose_language, served_language
from app.common.pagination import Page, paginate
from app.common.seed_cache import SeedCache
from app.common.seeding import digest
from app.common.types import utcnow
from app.common.views import Extends
from app.education.models import EducationContent, EducationModule, QuizAttempt, ReadingProgress, Recommendation
from app.errors import ApiError
from app.extensions import db

NOTICE = {
    "en": "This is general education, not personal medical advice. Ask your own clinical team "
          "before you start, change or stop any treatment or exercise.",
    "zh-CN": "本内容为一般性健康教育，不是针对您个人的医疗建议。开始、更改或停止任何治疗或锻炼之前，请先咨询您的医疗团队。",
}


def catalogue(tag: str | None, q: str | None, language: str):
    """A statement over (module, content in language), filtered; content exists in every language."""
    stmt = (
        select(EducationModule, EducationContent)
        .join(EducationContent, EducationContent.module_id == EducationModule.id)
        .where(EducationContent.language == language)
        .options(defer(EducationContent.sections), defer(EducationContent.search_text))
        .order_by(EducationModule.position, EducationModule.slug)
    )
    if tag:
        stmt = stmt.where(EducationModule.tags_joined.contains(f",{tag.strip().lower()},", autoescape=True))
    if q:
        # Search every language, so a Chinese query finds modules served in English too.
        term = q.strip().lower()
        any_language = aliased(EducationContent)
        stmt = stmt.where(exists().where(any_language.module_id == EducationModule.id,
                                         any_language.search_text.contains(term, autoescape=True)))
    return stmt


@dataclass
class ModuleInLanguage(Extends):
    """A module with its content in one language (the schemas read the module, then the content)."""

    module: EducationModule
    content: EducationContent
    _extends = ("module", "content")

    @property
    def has_quiz(self) -> bool:
        return bool(self.content.quiz)

    @property
    def notice(self) -> str:
        return NOTICE[self.content.language]


@dataclass
class ModuleForPatient(ModuleInLanguage):
    """A module with one patient's reading progress and recommendation."""

    progress: ReadingProgress | None = None
    recommendation: Recommendation | None = None

    @property
    def status(self) -> str:
        done = self.progress
        return "completed" if done and done.completed_at else "opened" if done else "unread"

    @property
    def opened_at(self):
        return self.progress.opened_at if self.progress else None

    @property
    def completed_at(self):
        return self.progress.completed_at if self.progress else None

    @property
    def updated_since_read(self) -> bool:
        return bool(self.progress and self.progress.version_read < self.module.content_version)

    @property
    def recommended(self) -> bool:
        return self.recommendation is not None

    @property
    def recommendation_note(self):
        return self.recommendation.note if self.recommendation else None


@dataclass(frozen=True)
class ModuleSummary:
    """A catalogue row in one language, detached from the session (it is cached across requests)."""

    slug: str
    language: str
    title: str
    summary: str
    tags: list
    reading_minutes: int
    content_version: int
    last_reviewed: date | None
    has_quiz: bool
    updated_at: datetime


def _catalogue_fingerprint():
    # A seed run in another process raises a content_version and updated_at, or adds or removes a module.
    text_id = cast(EducationModule.id, String)
    return select(func.count(), func.coalesce(func.sum(EducationModule.content_version), 0),
                  func.max(EducationModule.updated_at), func.min(text_id), func.max(text_id))


def _summaries(language: str) -> list[ModuleSummary]:
    return [ModuleSummary(m.slug, c.language, c.title, c.summary, list(m.tags or []), c.reading_minutes,
                          m.content_version, m.last_reviewed, bool(c.quiz), m.updated_at)
            for m, c in db.session.execute(catalogue(None, None, language))]


# The unfiltered catalogue per language: seed data, read by every patient every day.
CATALOGUE = SeedCache(_catalogue_fingerprint, _summaries)


def catalogue_summaries(language: str) -> list[ModuleSummary]:
    """Every module's summary in language, in catalogue order (cached, app/common/seed_cache.py)."""
    return CATALOGUE.get(language)


def catalogue_page(args: dict, language: str) -> Page:
    """args: tag, q, page, per_page. The unfiltered catalogue comes from the cache."""
    if not args.get("tag") and not args.get("q"):
        return paginate(catalogue_summaries(language), args)
    stmt = catalogue(args.get("tag"), args.get("q"), language)
    return paginate(stmt, args, scalars=False).map(lambda row: ModuleInLanguage(*row))


def module_by_slug(slug: str) -> EducationModule:
    module = db.session.scalar(select(EducationModule).where(EducationModule.slug == slug))
    if module is None:
        raise ApiError(404, f"No education module '{slug}'.", title="Not Found")
    return module


def served_language_of(module: EducationModule, wanted: str) -> str:
    available = db.session.scalars(
        select(EducationContent.language).where(EducationContent.module_id == module.id))
    return served_language(wanted, available)


def module_in(module: EducationModule, language: str) -> ModuleInLanguage:
    content = db.session.scalar(select(EducationContent).where(
        EducationContent.module_id == module.id, EducationContent.language == language))
    return ModuleInLanguage(module, content)


def etag_for(module: EducationModule, language: str) -> str:
    return f"{module.slug}.v{module.content_version}.{language}"


def catalogue_etag(page: Page, language: str) -> str:
    listed = [(i.slug, i.content_version) for i in page.items]
    return "catalogue." + digest([language, listed, page.meta])[:32]


# --- per patient --------------------------------------------------------------------------

def patient_overview(actor, patient_ref, language: str | None = None) -> dict:
    """language: the one asked for (None: the patient's own)."""
    patient = patient_for(actor, patient_ref, READ)
    language = choose_language(language, patient.language)
    progress = {p.module_id: p for p in db.session.scalars(
        select(ReadingProgress).where(ReadingProgress.patient_id == patient.id))}
    recommended = {r.module_id: r for r in db.session.scalars(
        select(Recommendation).where(Recommendation.patient_id == patient.id))}
    items = [ModuleForPatient(module, content, progress.get(module.id), recommended.get(module.id))
             for module, content in db.session.execute(catalogue(None, None, language))]
    # Recommended modules not yet completed come first, oldest recommendation first.
    items.sort(key=lambda i: (not (i.recommended and i.status != "completed"),
                              i.recommendation.created_at if i.recommendation else utcnow()))
    return {
        "language": language,
        "items": items,
        "summary": {
            "modules": len(items),
            "opened": sum(i.status != "unread" for i in items),
            "completed": sum(i.status == "completed" for i in items),
            "recommended_not_completed": sum(i.recommended and i.status != "completed" for i in items),
        },
    }


def record_progress(actor, patient_ref, slug: str, status: str) -> dict:
    patient = patient_for(actor, patient_ref, LOG)
    module = module_by_slug(slug)
    now = utcnow()
    insert_ignoring_conflict(ReadingProgress, {
        "patient_id": patient.id, "module_id": module.id, "opened_at": now, "version_read": module.content_version, "recorded_by_id": actor.id,
    }, ["patient_id", "module_id"])
    values = {"version_read": module.content_version, "recorded_by_id": actor.id}
    if status == "completed":
        values["completed_at"] = now
    db.session.execute(update(ReadingProgress).where(
        ReadingProgress.patient_id == patient.id, ReadingProgress.module_id == module.id).values(**values))
    db.session.commit()
    row = db.session.scalar(select(ReadingProgress).where(
        ReadingProgress.patient_id == patient.id, ReadingProgress.module_id == module.id))
    return {"slug": slug, "status": "completed" if row.completed_at else "opened",
            "opened_at": row.opened_at, "completed_at": row.completed_at, "version_read": row.version_read}


def recommend(actor, patient_ref, data: dict) -> dict:
    """data: slug, and note: a note replaces the stored one, null clears it; a recommendation
    again without a note keeps it (and its first date, its place in the patient's list). Answers
    the recommendation as stored."""
    patient = patient_for(actor, patient_ref, MANAGE)
    module = module_by_slug(data["slug"])
    insert_ignoring_conflict(Recommendation, {
        "patient_id": patient.id, "module_id": module.id, "recommended_by_id": actor.id,
        "note": data.get("note"), "created_at": utcnow(),
    }, ["patient_id", "module_id"])
    note = data["note"] if "note" in data else Recommendation.note
    stored = db.session.execute(update(Recommendation).where(
        Recommendation.patient_id == patient.id, Recommendation.module_id == module.id)
        .values(note=note).returning(Recommendation.note).execution_options(synchronize_session=False)).first()
    db.session.commit()
    # No row: withdrawn by a request at the same moment, after this one stored it.
    return {"slug": module.slug, "note": stored.note if stored else data.get("note")}


def withdraw_recommendation(actor, patient_ref, slug: str) -> None:
    patient = patient_for(actor, patient_ref, MANAGE)
    module = module_by_slug(slug)
    rec = db.session.scalar(select(Recommendation).where(
        Recommendation.patient_id == patient.id, Recommendation.module_id == module.id))
    if rec is None or not delete_row(rec):  # none, or withdrawn by another request at once
        raise ApiError(404, "This module is not recommended to the patient.", title="Not Found")
    db.session.commit()


def submit_quiz(actor, patient_ref, slug: str, answers: dict, language: str | None = None) -> "QuizResult":
    patient = patient_for(actor, patient_ref, LOG)
    module = module_by_slug(slug)
    language = served_language_of(module, choose_language(language, patient.language))
    quiz = db.session.scalar(select(EducationContent.quiz).where(
        EducationContent.module_id == module.id, EducationContent.language == language))
    if not quiz:
        raise ApiError(404, f"Module '{slug}' has no quiz.", title="Not Found")
    ids = {q["id"] for q in quiz}
    errors = {qid: ["Not a question of this quiz."] for qid in answers if qid not in ids}
    errors |= {q["id"]: ["Missing answer."] for q in quiz if q["id"] not in answers}
    errors |= {q["id"]: [f"Choose an option from 0 to {len(q['options']) - 1}."] for q in quiz
               if q["id"] in answers and not 0 <= answers[q["id"]] < len(q["options"])}
    if errors:
        raise ApiError(422, "Answer every question of the quiz with an option index.",
                       title="Validation failed", errors={"answers": errors})
    results = [{"id": q["id"], "chosen": answers[q["id"]], "correct_option": q["answer"],
                "correct": answers[q["id"]] == q["answer"], "explanation": q["explanation"]} for q in quiz]
    attempt = QuizAttempt(patient_id=patient.id, module_id=module.id, content_version=module.content_version,
                          answers=answers, score=sum(r["correct"] for r in results), total=len(results),
                          submitted_by_id=actor.id)
    attempt.module = module
    db.session.add(attempt)
    db.session.commit()
    return QuizResult(attempt, language, results)


@dataclass
class QuizResult(Extends):
    """A scored attempt with the explanations, in the language the quiz was answered in."""

    attempt: QuizAttempt
    language: str
    results: list
    _extends = ("attempt",)


def quiz_attempts(actor, patient_ref, slug: str, args: dict | None = None) -> Page:
    """Newest first (args: page, per_page)."""
    patient = patient_for(actor, patient_ref, READ)
    module = module_by_slug(slug)
    stmt = select(QuizAttempt).where(QuizAttempt.patient_id == patient.id, QuizAttempt.module_id == module.id) \
        .order_by(QuizAttempt.created_at.desc(), QuizAttempt.id)
    return paginate(stmt, args or {})


def ensure_recommended(patient_id, slug: str, actor_id, note: str) -> None:
    """For other domains (a plan with a safety warning recommends the safety module).
    The caller has already passed the access policy; the caller commits."""
    module_id = db.session.scalar(select(EducationModule.id).where(EducationModule.slug == slug))
    if module_id is not None:
        insert_ignoring_conflict(Recommendation, {
            "patient_id": patient_id, "module_id": module_id, "recommended_by_id": actor_id,
            "note": note, "created_at": utcnow()}, ["patient_id", "module_id"])
