"""Accounts, login, token rotation and revocation."""
import uuid
from datetime import timedelta

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.audit import service as audit
from app.auth.models import ROLES, AuthSession, RefreshToken, User
from app.auth.passwords import burn_verify_time, hash_password, password_problems, verify_password
from app.common.types import utcnow
from app.errors import ApiError
from app.extensions import db


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password(password: str, email: str | None = None) -> None:
    problems = password_problems(password, email)
    if problems:
        raise ApiError(422, " ".join(problems), title="Weak password", errors={"password": problems})


def create_user(*, email: str, password: str, role: str, display_name: str,
                patient_id=None, commit: bool = True, by=None) -> User:
    """by: who creates it (the admin, for the audit trail); None for an activation or the CLI."""
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
    audit.record("account_created", by, patient_id=patient_id, resource_id=user.id)
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
    audit.record("login", user, patient_id=user.patient_id)
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
    audit.record("login_failed", user, patient_id=user.patient_id)
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


def refresh(session: AuthSession, jti: uuid.UUID) -> dict:
    """Rotate: the presented refresh token (jti, of the login session) is spent; presenting
    it again revokes the login."""
    spent = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == jti, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    if spent != 1:
        revoke_session(session, "refresh_reuse")
        db.session.commit()
        raise ApiError(401, "This refresh token was already used; the login is revoked. Log in again.",
                       title="Unauthorized", type_slug="refresh-token-reused")
    tokens = _issue_tokens(session.user, session)
    db.session.commit()
    return tokens | {"user": session.user}


def revoke_session(session: AuthSession, reason: str) -> None:
    if session.revoked_at is None:
        session.revoked_at = utcnow()
        session.revoked_reason = reason
        audit.record("logout" if reason == "logout" else "revoke", session.user, detail=reason)


def logout(session: AuthSession) -> None:
    revoke_session(session, "logout")
    db.session.commit()


def list_users(role=None, q=None):
    stmt = select(User).order_by(User.created_at, User.id)
    if role:
        stmt = stmt.where(User.role == role)
    if q:
        stmt = stmt.where(User.email.icontains(q, autoescape=True) | User.display_name.icontains(q, autoescape=True))
    return stmt
