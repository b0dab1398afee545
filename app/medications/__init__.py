"""Infrequent bone treatments and their doses; sends dose_recorded and treatment_changed."""
from app.extensions import api


def register(app) -> None:
    from app.medications import models  # noqa: F401  (for Alembic)
    from app.medications.routes import blp

    api.register_blueprint(blp)
