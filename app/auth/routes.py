from flask import current_app, request

from app.auth import service
from app.auth.authenticate import authenticate, current_actor, current_login, refresh_token_login
from app.auth.reset import deliver_after_the_answer
from app.auth.schemas import (
    AcceptedSchema,
    LoginSchema,
    PasswordChangeSchema,
    PasswordResetConfirmSchema,
    PasswordResetRequestSchema,
    TokenSchema,
)
from app.common.i18n import choose_language, wanted_language
from app.common.types import utcnow
from app.extensions import Blueprint, limiter

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth",
                description="Login, token refresh and logout, activation of invited accounts.")


def email_key(email) -> str:
    """The rate-limit key of an e-mail address (as an account's address is stored)."""
    return f"login-account:{service.normalise_email(str(email))}" if email else "login-account:-"


def login_email_key() -> str:
    body = request.get_json(silent=True)
    return email_key(body.get("email") if isinstance(body, dict) else None)


def reset_email_key() -> str:
    return "reset-" + login_email_key()


def login_limits(email_key):
    """The sign-in limits, one budget per client address and per e-mail address whichever door
    (the API's login, the console's sign-in) the attempts come through. email_key: the
    "login-account:<address>" of the request."""

    def both(view):
        view = limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"], scope="login-account",
                                    key_func=email_key, methods=["POST"])(view)
        return limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ADDRESS"],
                                    scope="login-address", methods=["POST"])(view)

    return both


def address_limit():
    return limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ADDRESS"])


def account_limit(key_func):
    return limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"], key_func=key_func)


@blp.route("/login", methods=["POST"])
@login_limits(login_email_key)
@blp.arguments(LoginSchema, example={"email": "li.wei@example.org", "password": "a long passphrase 2026"})
@blp.response(200, TokenSchema)
def login(data):
    """Log in with e-mail and password: a 15-minute access token and a 30-day refresh token."""
    return service.login(data["email"], data["password"])


@blp.route("/refresh", methods=["POST"])
@Blueprint.refresh_auth
@blp.response(200, TokenSchema)
def refresh():
    """Send the refresh token as Bearer: a new pair; the old refresh token is spent.

    Presenting a spent refresh token again revokes the whole login (it was stolen), with the
    push registrations and calendar feed tokens made in it.
    """
    return service.refresh(*refresh_token_login())


@blp.route("/logout", methods=["POST"])
@authenticate
@blp.response(204)
def logout():
    """Revoke this login and the push registrations made in it.

    Its access and refresh tokens stop working, and a logged-out phone gets no more reminders.
    Calendar feed tokens made in it stay: a calendar subscription is meant to outlive an app
    login (revoke one with DELETE /patients/{patient_id}/calendar-feed).
    """
    service.logout(current_login())


@blp.route("/password", methods=["POST"])
@authenticate
@blp.arguments(PasswordChangeSchema, example={"current_password": "a long passphrase 2026",
                                            "new_password": "another long passphrase 2027"})
@blp.response(204)
def change_password(data):
    """Change your password (the current one is needed): every other login of the account is
    revoked; this one stays. A wrong current password counts towards the lockout."""
    service.change_password(current_actor(), current_login(), data["current_password"],
                            data["new_password"], utcnow())


@blp.route("/password-reset", methods=["POST"])
@address_limit()
@account_limit(reset_email_key)
@blp.arguments(PasswordResetRequestSchema, example={"email": "li.wei@example.org", "lang": "zh-CN"})
@blp.response(202, AcceptedSchema)
def request_password_reset(data):
    """Forgotten password: an e-mailed one-time code, if an account has this address. The
    answer is the same whether or not one does."""
    language = choose_language(wanted_language(data.get("lang"), request.accept_languages.values()))
    mail = service.request_password_reset(data["email"], language, utcnow())
    if mail is not None:
        deliver_after_the_answer(mail)
    return {"detail": "If an account has this e-mail address, a code is on its way to it."}


@blp.route("/password-reset/confirm", methods=["POST"])
@address_limit()
@account_limit(reset_email_key)
@blp.arguments(PasswordResetConfirmSchema, example={
    "email": "li.wei@example.org", "code": "4821-9375", "new_password": "another long passphrase 2027"})
@blp.response(204)
def confirm_password_reset(data):
    """Set a new password with the e-mailed code; every login of the account is revoked."""
    service.confirm_password_reset(data["email"], data["code"], data["new_password"], utcnow())
