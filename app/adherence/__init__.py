"""The agenda and adherence metrics (no tables of its own)."""
from app.extensions import api


def register(app) -> None:
    from app.adherence.routes import blp

    api.register_blueprint(blp)
