"""The agenda and adherence metrics; streak checkpoints kept up to date by the session writes
(checked in their transaction, advanced after their commit when due); settled weeks stored by
the scheduler's adherence.settle job (app/adherence/weeks.py)."""
import click
from flask.cli import AppGroup

from app.extensions import api


def register(app) -> None:
    from app.adherence import models  # noqa: F401  (for Alembic)
    from app.adherence.routes import blp
    from app.adherence.streaks import CHECKPOINT_READ, checkpoint_read, on_session_saving, on_session_written
    from app.sessions.feed import read_with_lock
    from app.sessions.signals import session_saving, session_written
    from app.adherence import weeks
    from app.common.jobs import Job, register_job
    from app.common.types import utcnow

    api.register_blueprint(blp)
    read_with_lock(CHECKPOINT_READ, checkpoint_read)  # the write's freshness check, in its feed lock
    session_saving.connect(on_session_saving)
    session_written.connect(on_session_written)
    # A leader job of `flask scheduler run`: hourly, so a new leader or a missed night catches up;
    # a run finds most patients settled already (one read of their checkpoints a batch).
    register_job(app, Job("adherence.settle", lambda: weeks.settle(utcnow()), {"trigger": "interval", "hours": 1},
                          leader_only=True))
    group = AppGroup("adherence", help="Adherence's stored weeks and streak checkpoints.")

    @group.command("settle")
    @click.option("--batch-size", type=int, default=weeks.BATCH_SIZE)
    def settle(batch_size):
        """Store every patient's newly settled weeks now (the scheduler does it hourly)."""
        click.echo(weeks.settle(utcnow(), batch_size=batch_size))

    app.cli.add_command(group)
