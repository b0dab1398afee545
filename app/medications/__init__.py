"""Infrequent bone treatments and their doses; sends dose_recorded and treatment_changed."""
from app.extensions import api


def register(app) -> None:
    from app.medications import models  # noqa: F401  (for Alembic)
    from app.medications import service
    from app.medications.routes import blp
    from app.patients.signals import profile_dates_changing

    api.register_blueprint(blp)
    profile_dates_changing.connect(service.profile_date_errors, sender=app, weak=False)
