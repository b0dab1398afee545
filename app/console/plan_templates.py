"""The plan templates as the page shows them (one read per request, in the page's language), a
patient's plans (one read per request for the plan section and the plan form), and a plan's name
in the page's language: a plan keeps the name it was given (the template's, in the
patient's language); while that is still its template's name, the page shows the template's
name in the page's language instead (a name a coordinator typed is shown as typed)."""
from flask import g

from app.common.pagination import MAX_PER_PAGE
from app.console.blueprint import bp
from app.console.i18n import page_language
from app.plans import service as plans


def served_templates() -> list:
    """plans.templates in the page's language (ServedTemplate), read once per request."""
    language = page_language()
    cached = g.get("console_plan_templates")
    if cached is None or cached[0] != language:
        cached = (language, plans.templates(language, {"per_page": 100}).items)
        g.console_plan_templates = cached
    return cached[1]


def plans_of(actor, patient_id) -> list:
    """plans.list_plans (every plan of the patient, newest first), read once per request for
    this actor and patient: the plan section and the plan form show the same read."""
    cached = g.setdefault("console_plans", {})
    key = (actor.id, str(patient_id))
    if key not in cached:
        cached[key] = plans.list_plans(actor, patient_id, {"page": 1, "per_page": MAX_PER_PAGE}).items
    return cached[key]


def forget_plans() -> None:
    """After a rollback: the next read of the plans goes to the database."""
    g.pop("console_plans", None)


@bp.app_template_global()
def plan_name(plan) -> str:
    slug = getattr(plan, "template_slug", None)
    if not slug:
        return plan.name
    served = next((t for t in served_templates() if t.slug == slug), None)
    if served is None or plan.name not in served.template.name.values():
        return plan.name
    return served.name
