import uuid
from dataclasses import InitVar, dataclass
from functools import cache

from sqlalchemy import bindparam, select

from app.common.i18n import served_language
from app.common.pagination import Page, paginate
from app.common.views import Extends
from app.errors import ApiError
from app.exercises.models import Exercise
from app.extensions import db


@dataclass
class ServedExercise(Extends):
    """An exercise in the language served (the one asked for if it has it): its texts and labels."""

    exercise: Exercise
    wanted: InitVar[str]
    language: str = ""
    _extends = ("exercise",)

    def __post_init__(self, wanted: str):
        self.language = served_language(wanted, self.exercise.translations)

    def __getattr__(self, name):
        if not name.startswith("_") and "exercise" in self.__dict__:
            texts = self.exercise.text(self.language)
            if name in texts:
                return texts[name]
        return super().__getattr__(name)

    @property
    def measures(self) -> list[dict]:
        return [{**m, "label": m["label"].get(self.language, m["key"])} for m in self.exercise.measures]


def catalogue(language: str, args: dict | None = None) -> Page:
    """args: kind, page, per_page."""
    args = args or {}
    stmt = select(Exercise).order_by(Exercise.slug)
    if args.get("kind"):
        stmt = stmt.where(Exercise.kind == args["kind"])
    return paginate(stmt, args).map(lambda e: ServedExercise(e, language))


def get_exercise(ref: str, language: str) -> ServedExercise:
    """By id or by slug."""
    return ServedExercise(_exercise(ref), language)


def _exercise(ref: str) -> Exercise:
    try:
        exercise = db.session.get(Exercise, uuid.UUID(ref))
    except ValueError:
        exercise = db.session.scalar(select(Exercise).where(Exercise.slug == ref))
    if exercise is None:
        raise ApiError(404, f"No exercise '{ref}'.", title="Not Found")
    return exercise


@cache
def _by_ids_statement():
    return select(Exercise).where(Exercise.id.in_(bindparam("ids", expanding=True)))


def exercises_by_id(ids) -> dict:
    ids = set(ids)
    if not ids:
        return {}
    return {e.id: e for e in db.session.scalars(_by_ids_statement(), {"ids": list(ids)})}
