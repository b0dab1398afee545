"""Liveness and readiness probes."""
from app.extensions import api


def register(app) -> None:
    from app.health.routes import blp

    api.register_blueprint(blp)
