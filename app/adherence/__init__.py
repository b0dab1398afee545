"""The agenda and adherence metrics; streak checkpoints kept up to date by the session writes
(checked in their transaction, advanced after their commit when due)."""
from app.extensions import api


def register(app) -> None:
    from app.adherence import models  # noqa: F401  (for Alembic)
    from app.adherence.routes import blp
    from app.adherence.streaks import CHECKPOINT_READ, checkpoint_read, on_session_saving, on_session_written
    from app.sessions.feed import read_with_lock
    from app.sessions.signals import session_saving, session_written

    api.register_blueprint(blp)
    read_with_lock(CHECKPOINT_READ, checkpoint_read)  # the write's freshness check, in its feed lock
    session_saving.connect(on_session_saving)
    session_written.connect(on_session_written)
