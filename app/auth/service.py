"""Accounts, login, token rotation and revocation."""
import uuid
from datetime import timedelta
from functools import wraps

from flask import current_app, g
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    get_jwt,
    verify_jwt_in_request,
)
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.audit import service as audit
from app.auth.models import ROLES, AuthSession, RefreshToken, User
from app.auth.passwords import burn_verify_time, hash_password, password_problems, verify_password
from app.common.types import utcnow
from app.errors import ApiError, problem
from app.extensions import Blueprint, db, jwt


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password(password: str, email: str | None = None) -> None:
    problems = password_problems(password, email)
    if problems:
        raise ApiError(422, " ".join(problems), title="Weak password", errors={"password": problems})


def create_user(*, email: str, password: str, role: str, display_name: str,
                patient_id=None, commit: bool = True) -> User:
    if role not in ROLES:
        raise ApiError(422, f"Unknown role {role!r}.", errors={"role": [f"One of {', '.join(ROLES)}."]})
    email = normalise_email(email)
    check_password(password, email)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise ApiError(409, "An account with this e-mail address exists.", title="Conflict")
    user = User(email=email, password_hash=hash_password(password), role=role,
                display_name=display_name, patient_id=patient_id)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ApiError(409, "An account with this e-mail address exists.", title="Conflict") from None
    audit.record("account_created", patient_id=patient_id, resource_id=user.id)
    if commit:
        db.session.commit()
    return user


# --- login -------------------------------------------------------------------------------

def login(email: str, password: str) -> dict:
    email = normalise_email(email)
    user = db.session.scalar(select(User).where(User.email == email))
    now = utcnow()
    if user is None:
        burn_verify_time()
        raise _bad_credentials()
    if user.locked_until and user.locked_until > now:
        retry = int((user.locked_until - now).total_seconds()) + 1
        raise ApiError(423, "Too many failed logins: this account is locked for a while.",
                       title="Account locked", headers={"Retry-After": str(retry)}, retry_after=retry)
    if not verify_password(user.password_hash, password) or not user.is_active:
        _count_failure(user, now)
        raise _bad_credentials()
    user.failed_logins = 0
    user.locked_until = None
    session = AuthSession(user_id=user.id,
                          expires_at=now + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"])
    db.session.add(session)
    db.session.flush()
    tokens = _issue_tokens(user, session)
    audit.record("login", actor=user, patient_id=user.patient_id)
    db.session.commit()
    return tokens | {"user": user}


def _bad_credentials() -> ApiError:
    return ApiError(401, "E-mail or password is wrong.", title="Unauthorized",
                    type_slug="invalid-credentials")


def _count_failure(user: User, now) -> None:
    cfg = current_app.config
    user.failed_logins += 1
    if user.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
        user.locked_until = now + timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"])
        user.failed_logins = 0
    audit.record("login_failed", actor=user, patient_id=user.patient_id)
    db.session.commit()


def _issue_tokens(user: User, session: AuthSession) -> dict:
    claims = {"role": user.role, "sid": str(session.id)}
    refresh_jti = uuid.uuid4()
    db.session.add(RefreshToken(jti=refresh_jti, session_id=session.id))
    expires = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {
        "access_token": create_access_token(identity=str(user.id), additional_claims=claims),
        "refresh_token": create_refresh_token(
            identity=str(user.id), additional_claims=claims | {"jti": str(refresh_jti)}
        ),
        "token_type": "Bearer",
        "expires_in": int(expires.total_seconds()),
    }


def refresh() -> dict:
    """Rotate: the presented refresh token is spent; presenting it again revokes the login."""
    verify_jwt_in_request(refresh=True)
    claims = get_jwt()
    jti = uuid.UUID(claims["jti"])
    spent = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == jti, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    session = g.auth_session
    if spent != 1:
        revoke_session(session, "refresh_reuse")
        db.session.commit()
        raise ApiError(401, "This refresh token was already used; the login is revoked. Log in again.",
                       title="Unauthorized", type_slug="refresh-token-reused")
    tokens = _issue_tokens(g.actor, session)
    db.session.commit()
    return tokens | {"user": g.actor}


def revoke_session(session: AuthSession, reason: str) -> None:
    if session.revoked_at is None:
        session.revoked_at = utcnow()
        session.revoked_reason = reason
        audit.record("logout" if reason == "logout" else "revoke", actor=session.user,
                     detail=reason)


def logout() -> None:
    revoke_session(g.auth_session, "logout")
    db.session.commit()


# --- token checks -------------------------------------------------------------------------

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


jwt.unauthorized_loader(lambda reason: _unauthorized("Authentication is required: send a Bearer access token."))
jwt.invalid_token_loader(lambda reason: _unauthorized("The token is not valid."))
jwt.expired_token_loader(lambda h, p: _unauthorized("The token has expired; refresh it or log in."))
jwt.revoked_token_loader(lambda h, p: _unauthorized("The token was revoked; log in again."))
jwt.user_lookup_error_loader(lambda h, p: _unauthorized("The account is not available."))
jwt.needs_fresh_token_loader(lambda h, p: _unauthorized("A fresh login is required."))


def auth_required(*roles: str):
    """Require a valid access token (and one of roles, if given); g.actor is the account.

    Place it right under @blp.route so that it runs before the body is parsed.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            verify_jwt_in_request()
            if roles and g.actor.role not in roles:
                raise ApiError(403, f"This needs the role {' or '.join(roles)}.", title="Forbidden")
            return view(*args, **kwargs)

        return Blueprint.bearer_auth(wrapper)

    return decorator


def current_actor() -> User:
    return g.actor


def list_users(role=None, q=None):
    stmt = select(User).order_by(User.created_at, User.id)
    if role:
        stmt = stmt.where(User.role == role)
    if q:
        stmt = stmt.where(User.email.icontains(q, autoescape=True) | User.display_name.icontains(q, autoescape=True))
    return stmt


def optional_actor():
    """The account behind a Bearer token if one is sent (a bad token is still 401)."""
    verify_jwt_in_request(optional=True)
    return g.get("actor")
