"""DXA results, the monitoring protocol and follow-ups; sends dxa_result_written and followup_changed."""
from app.extensions import api


def register(app) -> None:
    from app.dxa import models  # noqa: F401  (for Alembic)
    from app.dxa import service
    from app.dxa.routes import blp
    from app.patients.signals import profile_dates_changing

    api.register_blueprint(blp)
    profile_dates_changing.connect(service.profile_date_errors, sender=app, weak=False)
