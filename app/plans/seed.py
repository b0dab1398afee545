"""Load seed/plans/templates.yaml, idempotently."""
from sqlalchemy import select

from app.common.i18n import LANGUAGES
from app.common.seeding import SeedUpserter
from app.common.yaml_files import read_yaml
from app.config import BASE_DIR
from app.exercises.models import Exercise
from app.extensions import db
from app.plans.models import DAY_NAMES, PlanTemplate

TEMPLATES_FILE = BASE_DIR / "seed" / "plans" / "templates.yaml"


def load_plan_templates(path=TEMPLATES_FILE) -> str:
    entries = read_yaml(path)
    exercises = set(db.session.scalars(select(Exercise.slug)))
    upserter = SeedUpserter(PlanTemplate, "plan-template",
                            {t.slug: t for t in db.session.scalars(select(PlanTemplate))})
    for entry in entries:
        slug = entry["slug"]
        for item in entry["items"]:
            if item["exercise"] not in exercises:
                raise ValueError(f"template {slug}: unknown exercise {item['exercise']} (load exercises first)")
            if ("sessions_per_week" in item) == ("days_of_week" in item):
                raise ValueError(f"template {slug}: each item has sessions_per_week or days_of_week")
            if any(d not in DAY_NAMES for d in item.get("days_of_week", [])):
                raise ValueError(f"template {slug}: days are {', '.join(DAY_NAMES)}")
        if set(entry["name"]) != set(LANGUAGES) or set(entry["description"]) != set(LANGUAGES) or not entry["source"]:
            raise ValueError(f"template {slug}: needs name and description in every language, and a source")
        values = {k: entry[k] for k in ("name", "description", "duration_weeks", "source", "items")}
        upserter.put(slug, values)
    db.session.commit()
    return upserter.summary("plan templates")
