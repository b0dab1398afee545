"""The request side of identity: the Bearer token checks and the decorator routes use.
Routes authenticate here; what an account may do is decided by app/access/policy.py."""
import time
import uuid
from datetime import timedelta
from functools import wraps

import jwt as pyjwt
from flask import current_app, g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from sqlalchemy import select

from app.auth.models import AuthSession, User
from app.common.types import utcnow
from app.errors import ApiError, problem
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
    return _unauthorized(MISSING)


def _invalid_token(reason):
    if "refresh" in reason.lower():  # flask-jwt-extended's WrongTokenError: the other kind of token
        if _refreshing():
            return _unauthorized("This is an access token: /auth/refresh takes the refresh token.")
        return _unauthorized(REFRESH_TOKEN_SENT)
    return _unauthorized(NOT_OURS)


jwt.unauthorized_loader(_missing_token)
jwt.invalid_token_loader(_invalid_token)
jwt.expired_token_loader(lambda h, p: _unauthorized("The token has expired; refresh it or log in."))
jwt.revoked_token_loader(lambda h, p: _unauthorized("The token was revoked; log in again."))
jwt.user_lookup_error_loader(lambda h, p: _unauthorized("The account is not available."))
jwt.needs_fresh_token_loader(lambda h, p: _unauthorized("A fresh login is required."))


def _unauthorized_error(detail: str) -> ApiError:
    return ApiError(401, detail, title="Unauthorized", headers={"WWW-Authenticate": "Bearer"})


MISSING = "Authentication is required: send the access token as `Authorization: Bearer <token>`."
NOT_OURS = "The token is not valid (not one this API issued, or altered): log in again."
REFRESH_TOKEN_SENT = ("This is a refresh token: send the access token (the refresh token only goes to "
                      "/auth/refresh).")
_ACTOR_QUERY = None
_ALSO_LOAD = None  # (model, the account's key on it): the patient record, set by app/patients


def load_with_actor(model, key_column) -> None:
    """Load this row (the patient record of a patient's account) in the statement that checks
    the login, so the policy's look-up of the patient finds it in the identity map. Set by a
    higher domain (auth may not import it)."""
    global _ALSO_LOAD, _ACTOR_QUERY
    _ALSO_LOAD, _ACTOR_QUERY = (model, key_column), None


def _actor_query():
    """The live login's account, in one statement: the login exists, is neither revoked nor
    expired, and its account is active and the token's subject (the revocation check); with
    the account's patient record where there is one."""
    global _ACTOR_QUERY
    if _ACTOR_QUERY is None:
        from sqlalchemy import bindparam

        stmt = select(User)
        if _ALSO_LOAD is not None:
            model, key = _ALSO_LOAD
            stmt = select(User, model).outerjoin(model, key == User.patient_id)
        _ACTOR_QUERY = (
            stmt.join(AuthSession, AuthSession.user_id == User.id)
            .where(AuthSession.id == bindparam("sid"), User.id == bindparam("sub"),
                   AuthSession.revoked_at.is_(None), AuthSession.expires_at > bindparam("now"),
                   User.is_active.is_(True))
        )
    return _ACTOR_QUERY


def _verify_access_token(optional: bool = False):
    """Decode the Bearer access token once (flask-jwt-extended decodes it up to four times)
    and check its login on every request, so that a revoked login or a deactivated account
    stops at once. Same answers as flask-jwt-extended's for each kind of bad token."""
    header = request.headers.get("Authorization")
    if header is None:
        if optional:
            g.actor = None
            return None
        raise _unauthorized_error(MISSING)
    parts = header.split()
    if len(parts) != 2 or parts[0] != "Bearer":
        if optional:
            g.actor = None
            return None
        raise _unauthorized_error(MISSING)
    try:
        payload, ids = _decoded(parts[1])
    except pyjwt.ExpiredSignatureError:
        raise _unauthorized_error("The token has expired; refresh it or log in.") from None
    except pyjwt.InvalidTokenError:
        raise _unauthorized_error(NOT_OURS) from None
    if payload.get("type") != "access":
        raise _unauthorized_error(REFRESH_TOKEN_SENT if payload.get("type") == "refresh" else NOT_OURS)
    if ids is None:
        raise _unauthorized_error("The token was revoked; log in again.")
    user = load_login(*ids)
    if user is None:
        raise _unauthorized_error("The token was revoked; log in again.")
    return user


TOKENS_KEPT = 1024


def _login_ids(payload: dict) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The login (sid) and the account (sub) a token names; None if they are not ids."""
    try:
        return uuid.UUID(payload.get("sid", "")), uuid.UUID(payload["sub"])
    except (ValueError, TypeError, AttributeError):
        return None


def _decoded(token: str) -> tuple[dict, tuple[uuid.UUID, uuid.UUID] | None]:
    """PyJWT's decode of a token (signature, then claims), with the ids it names (_login_ids),
    done once per token and process: a client sends the same access token for its 15 minutes,
    and the signature and the payload of the same string do not change. What does change, the time, is checked again on every use
    (exp, nbf, iat with PyJWT's comparisons and leeway); a token no longer current is decoded by
    PyJWT again, which raises what it raised before. The login behind it is still checked on
    every request (load_login). Kept per app, with the secret and algorithm it was checked with."""
    app = current_app._get_current_object()
    config = app.config
    secret, algorithm, leeway = config["JWT_SECRET_KEY"], config["JWT_ALGORITHM"], config["JWT_DECODE_LEEWAY"]
    kept = app.extensions.get("standstrong.access_tokens")
    if kept is None:
        kept = app.extensions["standstrong.access_tokens"] = {}
    found = kept.get(token)
    if found is not None and found[0] == secret and found[1] == algorithm:
        payload = found[2]
        margin = leeway.total_seconds() if isinstance(leeway, timedelta) else leeway
        now = time.time()  # PyJWT's clock: datetime.now(timezone.utc).timestamp()
        if (payload["exp"] > now - margin and payload.get("nbf", now) <= now + margin
                and payload.get("iat", now) <= now + margin):
            return payload, found[3]
    payload = pyjwt.decode(token, secret, algorithms=[algorithm], leeway=leeway,
                           options={"require": ["exp", "sub", "jti", "type"], "verify_aud": False})
    ids = _login_ids(payload)
    if all(type(payload.get(claim, 0)) in (int, float) for claim in ("exp", "nbf", "iat")):  # comparable
        if len(kept) >= TOKENS_KEPT:
            kept.clear()
        kept[token] = (secret, algorithm, payload, ids)
    return payload, ids


def load_login(sid: uuid.UUID, sub: uuid.UUID) -> User | None:
    """The account of a live login (sid) of account sub, made the request's actor; None when
    the login is revoked or expired or the account inactive. Bearer tokens and the console's
    session cookie both end here."""
    found = db.session.execute(_actor_query(), {"sid": sid, "sub": sub, "now": utcnow()}).first()
    if found is None:
        return None
    user = found[0]
    # Set in one go on the request's g (five look-ups through the proxy otherwise); the record
    # is held because the identity map keeps rows weakly.
    vars(g._get_current_object()).update(
        actor=user, actor_record=found[1] if len(found) > 1 else None, actor_role=user.role,
        actor_id=user.id, auth_session_id=sid)
    return user


def authenticate(view):
    """Require a valid access token; current_actor() is the account. Place it right under
    @blp.route so that it runs before the body is parsed."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        _verify_access_token()
        return view(*args, **kwargs)

    return Blueprint.bearer_auth(wrapper)


def current_actor() -> User:
    return g.actor


def optional_actor():
    """The account behind a Bearer token if one is sent (a bad token is still 401)."""
    return _verify_access_token(optional=True)


def refresh_token_login() -> tuple[AuthSession, uuid.UUID]:
    """The login and the refresh token's id behind a Bearer refresh token."""
    verify_jwt_in_request(refresh=True)
    return g.auth_session, uuid.UUID(get_jwt()["jti"])


def current_login() -> AuthSession:
    return db.session.get(AuthSession, g.auth_session_id)


def current_login_id():
    """The id of the request's login (what it makes for the account may end with the login)."""
    return g.auth_session_id
