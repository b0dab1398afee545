"""Patient education: modules, reading progress, recommendations, quizzes."""
from app.extensions import api


def register(app) -> None:
    from app.common.seeding import register_seed_loader
    from app.education import models  # noqa: F401  (for Alembic)
    from app.education.routes import blp, patient_blp
    from app.education.seed import load_education

    api.register_blueprint(blp)
    api.register_blueprint(patient_blp)
    register_seed_loader(app, load_education)
