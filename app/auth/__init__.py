"""Identity: accounts, login, tokens, and the authenticate decorator routes use."""
from app.extensions import api


def register(app) -> None:
    from app.auth import authenticate, models  # noqa: F401  (token checks; models for Alembic)
    from app.auth.cli import register_commands
    from app.auth.routes import blp

    api.register_blueprint(blp)
    register_commands(app)
