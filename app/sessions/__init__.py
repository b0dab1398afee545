"""Logged sessions, offline batches, the sync feed, safety answers, the day rollups adherence
reads over many patients (rollups.py); sends session_written."""
import click
from flask.cli import AppGroup

from app.extensions import api


def register(app) -> None:
    from app.sessions import models  # noqa: F401  (for Alembic)
    from app.sessions.routes import blp, symptoms_blp

    api.register_blueprint(symptoms_blp)
    api.register_blueprint(blp)

    group = AppGroup("sessions", help="Logged sessions.")

    @group.command("recount-rollups")
    @click.option("--check", is_flag=True, help="Only say whether the rollups match the sessions.")
    def recount_rollups_command(check: bool):
        """Count the day rollups afresh from the sessions (they are kept by every session write;
        this is for data changed by hand in the database)."""
        from app.common.db import writing
        from app.extensions import db
        from app.sessions import rollups

        with writing():
            connection = db.session.connection()
            stored = rollups.stored_rows(connection)
            recounted = rollups.recount_rows(connection)
            differing = _differing(stored, recounted)
            if check:
                db.session.rollback()
                click.echo(f"{differing} rollup rows differ from a recount of the sessions")
                raise SystemExit(1 if differing else 0)
            written = rollups.rebuild(connection)
            db.session.commit()
        click.echo(f"{written} rollup rows counted from the sessions ({differing} differed)")

    app.cli.add_command(group)


def _differing(stored: list, recounted: list) -> int:
    """How many (patient, item, block) the two lists of rollup rows count differently (their
    days or their latest start)."""
    def keyed(rows):
        return {(r["patient_id"], r["item_key"], r["block"]): (r["counts"], r["minutes"], r["last_started_at"])
                for r in rows}

    a, b = keyed(stored), keyed(recounted)
    return sum(a.get(key) != b.get(key) for key in a.keys() | b.keys())
