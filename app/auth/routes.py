from flask import current_app, request

from app.auth import service
from app.auth.authenticate import authenticate, current_login, refresh_token_login
from app.auth.schemas import LoginSchema, TokenSchema
from app.extensions import Blueprint, limiter

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth",
                description="Login, token refresh and logout, activation of invited accounts.")


def login_email_key() -> str:
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return f"login-account:{str(email).strip().lower()}" if email else "login-account:-"


def address_limit():
    return limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ADDRESS"])


@blp.route("/login", methods=["POST"])
@address_limit()
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"], key_func=login_email_key)
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
    return service.refresh(*refresh_token_login())


@blp.route("/logout", methods=["POST"])
@authenticate
@blp.response(204)
def logout():
    """Revoke this login: its access and refresh tokens stop working."""
    service.logout(current_login())
