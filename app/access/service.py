"""The staff-only operations that are not about one patient, behind their role gates."""
from app.access import care_teams
from app.access.policy import ADMINISTER_ACCOUNTS, READ_AUDIT_TRAIL, require
from app.audit import service as audit
from app.auth import service as auth
from app.common.pagination import Page, paginate


def create_staff_account(actor, data: dict):
    require(actor, ADMINISTER_ACCOUNTS)
    auth.lock_admins(actor)  # 401 when the actor was deactivated since its token was checked
    return auth.create_user(**data, by=actor)


def update_staff_account(actor, user_id, changes: dict):
    """changes: is_active (a deactivated account's tokens stop at once; refused while it is the
    only active coordinator of a patient; an active admin always remains), language. Every change, as a deactivation, is made by an admin still active under the lock of
    the active admins' rows: one deactivated by another since its token was checked is answered 401."""
    require(actor, ADMINISTER_ACCOUNTS)
    auth.lock_admins(actor)  # first, always: the admins' rows, in id order (401: the actor deactivated since)
    if changes.get("is_active") is False:
        care_teams.lock_for_deactivation(user_id)  # then the account's and its patients' rows
    return auth.update_staff_account(actor, user_id, changes)


def list_accounts(actor, args: dict | None = None) -> Page:
    """args: role, q, page, per_page."""
    args = args or {}
    require(actor, ADMINISTER_ACCOUNTS)
    return paginate(auth.list_users(args.get("role"), args.get("q")), args)


def list_audit_events(actor, args: dict | None = None) -> Page:
    """Newest first; args: patient_id, actor_id, action, page, per_page."""
    args = args or {}
    require(actor, READ_AUDIT_TRAIL)
    return paginate(audit.list_events(args.get("patient_id"), args.get("actor_id"), args.get("action")), args)
