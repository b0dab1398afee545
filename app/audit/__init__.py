"""The audit trail of reads and writes of patient data (the admin's view of it is in access)."""


def register(app) -> None:
    from app.audit import models  # noqa: F401  (for Alembic)
    from app.audit.hooks import register_audit_hooks

    register_audit_hooks(app)
