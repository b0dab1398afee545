"""Load seed/exercises/exercises.yaml, idempotently (rows keyed by slug, ids derived from it)."""
from sqlalchemy import select

from app.common.i18n import LANGUAGES
from app.common.seeding import SeedUpserter
from app.common.yaml_files import read_yaml
from app.config import BASE_DIR
from app.exercises.models import KINDS, Exercise
from app.extensions import db

EXERCISES_FILE = BASE_DIR / "seed" / "exercises" / "exercises.yaml"
TEXT_FIELDS = ("name", "instructions", "equipment", "precautions", "contraindications")


def load_exercises(path=EXERCISES_FILE) -> str:
    entries = read_yaml(path)
    upserter = SeedUpserter(Exercise, "exercise", {e.slug: e for e in db.session.scalars(select(Exercise))})
    for entry in entries:
        slug = entry["slug"]
        if entry["kind"] not in KINDS:
            raise ValueError(f"exercise {slug}: unknown kind {entry['kind']}")
        for language in LANGUAGES:
            missing = [f for f in TEXT_FIELDS if not entry.get(language, {}).get(f)]
            if missing:
                raise ValueError(f"exercise {slug}: {language} lacks {', '.join(missing)}")
        if not entry["default_dose"].get("source"):
            raise ValueError(f"exercise {slug}: the default dose needs its source")
        values = {
            "kind": entry["kind"], "safety": entry.get("safety", []), "measures": entry.get("measures", []),
            "default_dose": entry["default_dose"],
            "translations": {lang: {f: entry[lang][f] for f in TEXT_FIELDS} for lang in LANGUAGES},
        }
        upserter.put(slug, values)
    db.session.commit()
    return upserter.summary("exercises")
