"""The plan templates as the page shows them (one read per request, in the page's language), and
a plan's name in that language: a plan keeps the name it was given (the template's, in the
patient's language); while that is still its template's name, the page shows the template's
name in the page's language instead (a name a coordinator typed is shown as typed)."""
from flask import g

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


@bp.app_template_global()
def plan_name(plan) -> str:
    slug = getattr(plan, "template_slug", None)
    if not slug:
        return plan.name
    served = next((t for t in served_templates() if t.slug == slug), None)
    if served is None or plan.name not in served.template.name.values():
        return plan.name
    return served.name
