"""Rules and flags. register(app) wires the blueprints, the signals, the CLI and jobs."""
from importlib.util import find_spec


def register(app) -> None:
    from app.common.jobs import Job, register_job
    from app.common.types import utcnow
    from app.extensions import api
    from app.rules import models  # noqa: F401  (for Alembic)
    from app.rules import cli, service
    from app.rules.routes import flags_blp, patient_flags_blp, rules_blp
    from app.sessions.signals import session_written

    for blp in (rules_blp, flags_blp, patient_flags_blp):
        api.register_blueprint(blp)
    session_written.connect(service.on_session_written, sender=app, weak=False)
    if find_spec("app.dxa") is not None:
        from app.dxa.signals import dxa_result_written

        dxa_result_written.connect(service.on_dxa_result_written, sender=app, weak=False)
    if find_spec("app.medications") is not None:
        from app.medications.signals import dose_recorded

        dose_recorded.connect(service.on_dose_recorded, sender=app, weak=False)
    cli.register(app)
    # Leader jobs of `flask scheduler run` (app/scheduler.py): one process runs them at a time;
    # a sweep that overlaps another (or an on-write check) still opens one flag (active_key).
    register_job(app, Job("rules.sweep", lambda: service.sweep(utcnow()), {"trigger": "interval", "minutes": 15},
                          leader_only=True))
    register_job(app, Job("rules.digest", lambda: service.digest(utcnow()), {"trigger": "cron", "hour": 7},
                          leader_only=True))
