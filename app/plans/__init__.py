"""Plan templates, plans assigned to a patient (versioned), and what a plan expects when."""
from app.extensions import api


def register(app) -> None:
    from app.common.seeding import register_seed_loader
    from app.plans import models  # noqa: F401  (for Alembic)
    from app.plans.routes import blp, templates_blp
    from app.plans.seed import load_plan_templates

    api.register_blueprint(templates_blp)
    api.register_blueprint(blp)
    register_seed_loader(app, load_plan_templates)
