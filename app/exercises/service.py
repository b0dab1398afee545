import uuid
from dataclasses import InitVar, dataclass, fields

from sqlalchemy import func, select

from app.common.i18n import served_language
from app.common.pagination import Page, paginate
from app.common.seed_cache import SeedCache
from app.common.views import Extends
from app.errors import ApiError
from app.exercises.models import Exercise
from app.extensions import db


@dataclass
class ServedExercise(Extends):
    """An exercise in the language served (the one asked for if it has it): its texts and labels."""

    exercise: "Exercise | LibraryExercise"
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


def exercise_key(ref: str) -> uuid.UUID | str:
    """What an exercise reference names: its id, as a UUID (so in any case the client writes
    it), or else its slug. Look exercises up and match them back by this, never by the text."""
    try:
        return uuid.UUID(ref)
    except ValueError:
        return ref


def _exercise(ref: str) -> Exercise:
    key = exercise_key(ref)
    if isinstance(key, uuid.UUID):
        exercise = db.session.get(Exercise, key)
    else:
        exercise = db.session.scalar(select(Exercise).where(Exercise.slug == key))
    if exercise is None:
        raise ApiError(404, f"No exercise '{ref}'.", title="Not Found")
    return exercise


@dataclass(frozen=True)
class LibraryExercise:
    """An exercise of the library as plain data, kept across requests (app/common/seed_cache.py)."""

    id: uuid.UUID
    slug: str
    kind: str
    safety: list
    measures: list
    default_dose: dict
    translations: dict

    text = Exercise.text


def _library_fingerprint():
    # The seed loader rewrites a row's content_hash whenever it changes the row.
    return select(func.count(), func.aggregate_strings(Exercise.content_hash, ","))


def _library(_key) -> dict:
    columns = [getattr(Exercise, f.name) for f in fields(LibraryExercise)]
    return {row.id: LibraryExercise(*row) for row in db.session.execute(select(*columns))}


LIBRARY = SeedCache(_library_fingerprint, _library)


def exercises_by_id(ids, fingerprint: tuple | None = None) -> dict:
    """{id: LibraryExercise} for the ids there are (one short statement: the library's freshness;
    none when the caller read LIBRARY.statement()'s row and gives its values as fingerprint)."""
    if not isinstance(ids, (set, frozenset)):
        ids = set(ids)
    if not ids:
        return {}
    found = LIBRARY.get(fingerprint=fingerprint).get  # one look-up an id (each a UUID.__hash__ call)
    return {i: exercise for i in ids if (exercise := found(i)) is not None}
