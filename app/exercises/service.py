import uuid
from functools import cache

from sqlalchemy import bindparam, select

from app.errors import ApiError
from app.exercises.models import Exercise
from app.extensions import db


def catalogue(kind: str | None):
    stmt = select(Exercise).order_by(Exercise.slug)
    if kind:
        stmt = stmt.where(Exercise.kind == kind)
    return stmt


def exercise_view(exercise: Exercise, language: str) -> dict:
    served = language if language in exercise.translations else next(iter(exercise.translations))
    return {
        "id": exercise.id, "slug": exercise.slug, "kind": exercise.kind, "language": served,
        **exercise.text(served),
        "measures": [{**m, "label": m["label"].get(served, m["key"])} for m in exercise.measures],
        "default_dose": exercise.default_dose, "safety": exercise.safety,
    }


def get_exercise(ref: str) -> Exercise:
    """By id or by slug."""
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
