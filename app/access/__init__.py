"""Who may do what to which patient: the one policy (policy.py), the relations it decides on
(models.py: care teams, caregiver links), and the staff-only views whose gates are the
policy's (staff accounts, the audit trail)."""
from app.extensions import api


def register(app) -> None:
    from app.access import models  # noqa: F401  (for Alembic)
    from app.access.routes import audit_blp, users_blp

    api.register_blueprint(users_blp)
    api.register_blueprint(audit_blp)
