"""Logged sessions, offline batches, the sync feed, safety answers; sends session_written."""
from app.extensions import api


def register(app) -> None:
    from app.sessions import models  # noqa: F401  (for Alembic)
    from app.sessions.routes import blp, symptoms_blp

    api.register_blueprint(symptoms_blp)
    api.register_blueprint(blp)
