"""The staff-only operations that are not about one patient, behind their role gates."""
from app.access.policy import ADMINISTER_ACCOUNTS, READ_AUDIT_TRAIL, require
from app.audit import service as audit
from app.auth import service as auth


def create_staff_account(actor, data: dict):
    require(actor, ADMINISTER_ACCOUNTS)
    return auth.create_user(**data, by=actor)


def set_staff_account_active(actor, user_id, active: bool):
    """Deactivate (or reactivate) a staff account; a deactivated one's tokens stop at once."""
    require(actor, ADMINISTER_ACCOUNTS)
    return auth.set_active(actor, user_id, active)


def list_accounts(actor, role: str | None = None, q: str | None = None):
    """A SELECT of the accounts (for the pagination helper)."""
    require(actor, ADMINISTER_ACCOUNTS)
    return auth.list_users(role, q)


def list_audit_events(actor, patient_id=None, actor_id=None, action=None):
    """A SELECT of the trail, newest first."""
    require(actor, READ_AUDIT_TRAIL)
    return audit.list_events(patient_id, actor_id, action)
