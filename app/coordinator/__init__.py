"""Coordinator review: caseload, timeline, contact log, exports. register(app) wires it."""


def register(app) -> None:
    from app.coordinator import models  # noqa: F401  (for Alembic)
    from app.coordinator.routes import caseload_blp, patient_blp
    from app.extensions import api

    for blp in (caseload_blp, patient_blp):
        api.register_blueprint(blp)
