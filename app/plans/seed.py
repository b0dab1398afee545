"""Load seed/plans/templates.yaml, idempotently."""
import yaml
from sqlalchemy import select

from app.common.seeding import digest, seed_id
from app.config import BASE_DIR
from app.exercises.models import Exercise
from app.extensions import db
from app.patients.models import LANGUAGES
from app.plans.models import DAY_NAMES, PlanTemplate

TEMPLATES_FILE = BASE_DIR / "seed" / "plans" / "templates.yaml"


def load_plan_templates(path=TEMPLATES_FILE) -> str:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    exercises = set(db.session.scalars(select(Exercise.slug)))
    existing = {t.slug: t for t in db.session.scalars(select(PlanTemplate))}
    created = updated = 0
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
        content_hash = digest(values)
        template = existing.get(slug)
        if template is None:
            template = PlanTemplate(id=seed_id("plan-template", slug), slug=slug)
            db.session.add(template)
            created += 1
        elif template.content_hash == content_hash:
            continue
        else:
            updated += 1
        for key, value in values.items():
            setattr(template, key, value)
        template.content_hash = content_hash
    db.session.commit()
    return f"plan templates: {created} created, {updated} updated, {len(entries) - created - updated} unchanged"
