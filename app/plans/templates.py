"""Plan templates: ready-made programmes (seed data), served in one language."""
from dataclasses import dataclass

from sqlalchemy import select

from app.common.i18n import served_language
from app.common.pagination import Page, paginate
from app.common.views import Extends
from app.errors import ApiError
from app.extensions import db
from app.plans.models import PlanTemplate


@dataclass
class ServedTemplate(Extends):
    """A template in the language served (the one asked for if it has one)."""

    template: PlanTemplate
    language: str
    _extends = ("template",)

    @property
    def name(self) -> str:
        return self.template.name[self.language]

    @property
    def description(self) -> str:
        return self.template.description[self.language]


def templates(language: str, args: dict | None = None) -> Page:
    page = paginate(select(PlanTemplate).order_by(PlanTemplate.slug), args or {})
    return page.map(lambda t: ServedTemplate(t, served_language(language, t.name)))


def template(slug: str) -> PlanTemplate:
    found = db.session.scalar(select(PlanTemplate).where(PlanTemplate.slug == slug))
    if found is None:
        raise ApiError(422, f"No plan template '{slug}'.", errors={"template": ["Unknown template."]})
    return found
