from flask import current_app, request

from app.auth import service
from app.auth.schemas import ActivateSchema, LoginSchema, TokenSchema, UserCreateSchema, UserListArgs, UserSchema
from app.common.pagination import page_of, paginate
from app.extensions import Blueprint, limiter
from app.patients import service as patients

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth",
                description="Login, token refresh and logout, activation of invited accounts.")
users_blp = Blueprint("users", __name__, url_prefix="/api/v1/users",
                      description="Staff accounts (admin only).")


def _login_email() -> str:
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return f"login-account:{str(email).strip().lower()}" if email else "login-account:-"


@blp.route("/login", methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ADDRESS"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"], key_func=_login_email)
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
def login(data):
    """Log in with e-mail and password: a 15-minute access token and a 30-day refresh token."""
    return service.login(data["email"], data["password"])


@blp.route("/refresh", methods=["POST"])
@Blueprint.bearer_auth
@blp.response(200, TokenSchema)
def refresh():
    """Send the refresh token as Bearer: a new pair; the old refresh token is spent.

    Presenting a spent refresh token again revokes the whole login.
    """
    return service.refresh()


@blp.route("/logout", methods=["POST"])
@service.auth_required()
@blp.response(204)
def logout():
    """Revoke this login: its access and refresh tokens stop working."""
    service.logout()


@blp.route("/activate", methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ADDRESS"])
@blp.arguments(ActivateSchema)
@blp.response(201, TokenSchema)
def activate(data):
    """Create a patient's or caregiver's login from a one-time invitation code; logs in."""
    patients.activate(data["code"], data["email"], data["password"], data.get("display_name"))
    return service.login(data["email"], data["password"])


@users_blp.route("", methods=["POST"])
@service.auth_required("admin")
@users_blp.arguments(UserCreateSchema)
@users_blp.response(201, UserSchema)
def create_user(data):
    """Create a coordinator or admin account."""
    return service.create_user(**data)


@users_blp.route("", methods=["GET"])
@service.auth_required("admin")
@users_blp.arguments(UserListArgs, location="query")
@users_blp.response(200, page_of(UserSchema))
def list_users(args):
    """All accounts, filtered by role or searched by name or e-mail."""
    return paginate(service.list_users(args.get("role"), args.get("q")), args["page"], args["per_page"])
