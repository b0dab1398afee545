"""Reminders: preferences, the notification outbox, the materialiser, the dispatcher and its
channels (in-app inbox, e-mail, push). Listens to sessions', plans' and patients' signals;
nothing lower imports it."""
import logging

import click
from flask.cli import AppGroup

log = logging.getLogger("standstrong.reminders")


def _followup_planning(now):
    """Daily: the lower domains' own follow-up planning, where they have one (DXA, medicines)."""
    import importlib

    from app.reminders.materialise import NOTICE_SOURCES

    done = []
    for name in NOTICE_SOURCES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        if hasattr(module, "plan_followups"):
            done.append((name, module.plan_followups(now)))
    return done


def _on_session_written(app, session=None, change=None, **_):
    from app.common.types import utcnow
    from app.extensions import db
    from app.reminders.service import on_session_written

    try:
        on_session_written(session, change, utcnow())
    except Exception:  # reminders must never fail the write that was already committed
        log.exception("reminders: session_written handler failed")
        db.session.rollback()


CANCEL_WITH_CREATE = "reminders"  # the session's insert cancelled the reminder it satisfies (_cancel_with_create)


def _on_session_saving(app, session=None, change=None, connection=None, ridden=frozenset(), **_):
    from app.common.types import utcnow
    from app.reminders.service import on_session_saving

    if CANCEL_WITH_CREATE in ridden:
        return  # done by the session's insert itself
    on_session_saving(session, change, utcnow(), connection)  # in the write's transaction: an error fails it


def _cancel_with_create(only_if_inserted):
    """On PostgreSQL, a single PUT's insert of a session of a plan item runs the cancel of the
    reminder it satisfies (what on_session_saving would send next) within its own statement."""
    import uuid
    from datetime import date

    from app.reminders.materialise import satisfied_by
    from app.reminders.outbox import cancel_statement

    some = {"patient_id": uuid.UUID(int=0), "item_key": uuid.UUID(int=0), "local_date": date.min}
    stmt, params = cancel_statement(**satisfied_by(some["patient_id"], some["item_key"], some["local_date"]))
    if params != _cancel_params(some):  # built once: the parameters below are cancel_pending's own
        raise RuntimeError("reminders: _cancel_params no longer gives cancel_statement's parameters")
    return stmt.where(only_if_inserted)


def _cancel_params(values: dict) -> dict:
    """cancel_statement's parameters for satisfied_by(the session's patient, item and day), without
    building them through it: this runs on every PUT."""
    from app.reminders.materialise import PLAN_KIND, plan_occurrence

    return {"by_occurrence_keys": plan_occurrence(values["item_key"], values["local_date"]),
            "by_patient_id": values["patient_id"], "by_kinds": PLAN_KIND}


def _on_caregiver_revoking(app, patient_id=None, caregiver_id=None, now=None, **_):
    from app.reminders.service import on_caregiver_revoking

    on_caregiver_revoking(patient_id, caregiver_id, now)  # in the revocation's transaction: an error fails it


def _on_logins_ending(app, user=None, logins=None, keep_login=None, **_):
    from app.reminders.service import forget_devices

    # compromised or not: a phone whose login ended gets no more pushes (in the revocation's
    # transaction: an error fails it)
    forget_devices(user.id, logins=logins, keep_login=keep_login)


def _on_plan_changed(app, plan=None, change=None, **_):
    from app.common.types import utcnow
    from app.extensions import db
    from app.reminders.materialise import materialise

    try:
        materialise(utcnow(), patient_ids=[plan.patient_id])
    except Exception:
        log.exception("reminders: plan_changed handler failed")
        db.session.rollback()


def register(app) -> None:
    from app import scheduler  # noqa: F401  (its lease model, for Alembic)
    from app.common.db import writing
    from app.common.jobs import Job, register_job
    from app.common.types import utcnow
    from app.extensions import api
    from app.auth.signals import logins_ending
    from app.patients.signals import caregiver_revoking
    from app.plans.signals import plan_changed
    from app.reminders import models  # noqa: F401  (for Alembic)
    from app.reminders.routes import blp, devices_blp, me_blp
    from app.sessions.signals import session_saving, session_written, write_with_create

    api.register_blueprint(blp)
    api.register_blueprint(me_blp)
    api.register_blueprint(devices_blp)
    session_written.connect(_on_session_written)
    session_saving.connect(_on_session_saving)
    write_with_create(CANCEL_WITH_CREATE, _cancel_with_create, _cancel_params)
    plan_changed.connect(_on_plan_changed)
    caregiver_revoking.connect(_on_caregiver_revoking)
    logins_ending.connect(_on_logins_ending)

    from app.reminders.dispatch import dispatch
    from app.reminders.materialise import materialise

    cfg = app.config
    register_job(app, Job("reminders-materialise", lambda: materialise(utcnow()),
                          {"trigger": "interval", "seconds": cfg["SCHEDULER_MATERIALISE_SECONDS"]}))
    register_job(app, Job("reminders-dispatch", lambda: dispatch(utcnow()),
                          {"trigger": "interval", "seconds": cfg["SCHEDULER_DISPATCH_SECONDS"]}, leader_only=False))
    register_job(app, Job("followup-planning", lambda: _followup_planning(utcnow()),
                          {"trigger": "cron", "hour": 2, "minute": 0}))

    group = AppGroup("reminders", help="The notification outbox.")

    @group.command("materialise")
    def materialise_command():
        """Create (and cancel) the next hours' reminders now."""
        with writing():
            click.echo(materialise(utcnow()))

    @group.command("dispatch")
    def dispatch_command():
        """Deliver every due notification now."""
        with writing():
            click.echo(dispatch(utcnow()))

    app.cli.add_command(group)
    scheduler = AppGroup("scheduler", help="The scheduler process (never inside web workers).")

    @scheduler.command("run")
    def run_command():
        """Run the periodic jobs until stopped (several processes may run: one leads)."""
        from app.scheduler import run

        run(app)

    app.cli.add_command(scheduler)
