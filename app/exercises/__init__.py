"""The exercise library."""
from app.extensions import api


def register(app) -> None:
    from app.common.seeding import register_seed_loader
    from app.exercises import models  # noqa: F401  (for Alembic)
    from app.exercises.routes import blp
    from app.exercises.seed import load_exercises

    api.register_blueprint(blp)
    register_seed_loader(app, load_exercises)
