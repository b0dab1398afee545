from app.access import service
from app.audit.schemas import AuditEventSchema, AuditListArgs
from app.auth.authenticate import authenticate, current_actor
from app.auth.schemas import UserCreateSchema, UserListArgs, UserSchema, UserUpdateSchema
from app.common.pagination import page_of
from app.extensions import Blueprint

# The staff-only views live here, above auth and audit, because their gates are the policy's.
users_blp = Blueprint("users", __name__, url_prefix="/api/v1/users",
                      description="Staff accounts (admin only).")
audit_blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit-events",
                      description="The audit trail of reads and writes of patient data (admin only).")


@users_blp.route("", methods=["POST"])
@authenticate
@users_blp.arguments(UserCreateSchema, example={
    "email": "coordinator@clinic.example", "password": "a long passphrase 2026", "role": "coordinator",
    "display_name": "Dr Chen"})
@users_blp.response(201, UserSchema)
def create_user(data):
    """Create a coordinator or admin account."""
    return service.create_staff_account(current_actor(), data)


@users_blp.route("/<uuid:user_id>", methods=["PATCH"])
@authenticate
@users_blp.arguments(UserUpdateSchema, example={"is_active": False})
@users_blp.response(200, UserSchema)
def update_user(data, user_id):
    """Deactivate (or reactivate) a staff account, or set the language of its e-mails: a
    deactivated one cannot log in, its tokens stop working at once and it is sent nothing more.
    Deactivating the only active coordinator of a patient is refused (409): add another first."""
    return service.update_staff_account(current_actor(), user_id, data)


@users_blp.route("", methods=["GET"])
@authenticate
@users_blp.arguments(UserListArgs, location="query")
@users_blp.response(200, page_of(UserSchema))
def list_users(args):
    """All accounts, filtered by role or searched by name or e-mail."""
    return service.list_accounts(current_actor(), args)


@audit_blp.route("", methods=["GET"])
@authenticate
@audit_blp.arguments(AuditListArgs, location="query")
@audit_blp.response(200, page_of(AuditEventSchema))
def list_events(args):
    """Newest first; filter by patient, actor or action."""
    return service.list_audit_events(current_actor(), args)
