"""The request side of identity: the Bearer token checks and the decorator routes use.
Routes authenticate here; what an account may do is decided by app/access/policy.py."""
import uuid
from functools import wraps

from flask import g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from app.auth.models import AuthSession, User
from app.common.types import utcnow
from app.errors import problem
from app.extensions import Blueprint, db, jwt


@jwt.token_in_blocklist_loader
def _token_revoked(_header, payload) -> bool:
    """One query per request: the login behind the token, with its user."""
    try:
        sid = uuid.UUID(payload.get("sid", ""))
    except ValueError:
        return True
    session = db.session.get(AuthSession, sid)
    if session is None or session.revoked_at is not None or session.expires_at <= utcnow():
        return True
    user = session.user
    if not user.is_active or str(user.id) != payload.get("sub"):
        return True
    g.auth_session = session
    g.actor = user
    g.actor_id = user.id
    return False


@jwt.user_lookup_loader
def _user(_header, _payload):
    return g.get("actor")


def _unauthorized(detail: str):
    return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def _refreshing() -> bool:
    return request.endpoint == "auth.refresh"


def _missing_token(_reason):
    if _refreshing():
        return _unauthorized("Send the refresh token in the Authorization header, as `Bearer <refresh token>` "
                             "(not in the body).")
    return _unauthorized("Authentication is required: send the access token as `Authorization: Bearer <token>`.")


def _invalid_token(reason):
    if "refresh" in reason.lower():  # flask-jwt-extended's WrongTokenError: the other kind of token
        if _refreshing():
            return _unauthorized("This is an access token: /auth/refresh takes the refresh token.")
        return _unauthorized("This is a refresh token: send the access token (the refresh token only goes "
                             "to /auth/refresh).")
    return _unauthorized("The token is not valid (not one this API issued, or altered): log in again.")


jwt.unauthorized_loader(_missing_token)
jwt.invalid_token_loader(_invalid_token)
jwt.expired_token_loader(lambda h, p: _unauthorized("The token has expired; refresh it or log in."))
jwt.revoked_token_loader(lambda h, p: _unauthorized("The token was revoked; log in again."))
jwt.user_lookup_error_loader(lambda h, p: _unauthorized("The account is not available."))
jwt.needs_fresh_token_loader(lambda h, p: _unauthorized("A fresh login is required."))


def authenticate(view):
    """Require a valid access token; current_actor() is the account. Place it right under
    @blp.route so that it runs before the body is parsed."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        return view(*args, **kwargs)

    return Blueprint.bearer_auth(wrapper)


def current_actor() -> User:
    return g.actor


def optional_actor():
    """The account behind a Bearer token if one is sent (a bad token is still 401)."""
    verify_jwt_in_request(optional=True)
    return g.get("actor")


def refresh_token_login() -> tuple[AuthSession, uuid.UUID]:
    """The login and the refresh token's id behind a Bearer refresh token."""
    verify_jwt_in_request(refresh=True)
    return g.auth_session, uuid.UUID(get_jwt()["jti"])


def current_login() -> AuthSession:
    return g.auth_session
