"""DXA results, the monitoring protocol and follow-ups; sends dxa_result_written and followup_changed."""
from app.extensions import api


def register(app) -> None:
    from app.dxa import models  # noqa: F401  (for Alembic)
    from app.dxa.routes import blp

    api.register_blueprint(blp)
