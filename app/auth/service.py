"""Accounts, login, token rotation and revocation, passwords."""
import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.audit import service as audit
from app.auth import throttle
from app.auth.models import ROLES, STAFF_ROLES, AuthSession, PasswordReset, RefreshToken, User
from app.auth.passwords import dummy_hash, hash_password, password_problems, verify_password
from app.auth.reset import reset_mail
from app.auth.signals import logins_ending
from app.common.db import lock_row
from app.common.i18n import LANGUAGES
from app.common.mail import Mail
from app.common.types import utcnow
from app.errors import ApiError, retry_after
from app.extensions import db



def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password(password: str, email: str | None = None) -> None:
    problems = password_problems(password, email)
    if problems:
        raise ApiError(422, " ".join(problems), title="Weak password", errors={"password": problems})


def create_user(*, email: str, password: str, role: str, display_name: str,
                patient_id=None, language: str | None = None, commit: bool = True, by=None) -> User:
    """by: who creates it (the admin, for the audit trail); None for an activation or the CLI."""
    if role not in ROLES:
        raise ApiError(422, f"Unknown role {role!r}.", errors={"role": [f"One of {', '.join(ROLES)}."]})
    email = normalise_email(email)
    check_password(password, email)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise ApiError(409, "An account with this e-mail address exists.", title="Conflict")
    user = User(email=email, password_hash=hash_password(password), role=role,
                display_name=display_name, patient_id=patient_id,
                language=language if role in STAFF_ROLES else None)
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
# Known and unknown addresses look the same from outside: the same 401 body, a password hash
# verified either way (a dummy one for an unknown address), a failure counted either way, and
# the same 423 once an address has failed too often, whether an account has it or not.

def check_credentials(email: str, password: str, now) -> User:
    """The active account with this address and password, or the 401/423 of a failed login
    (the failure counted). The API's login and the console's sign-in both pass here. An address
    with a NUL is no account's and PostgreSQL cannot even look it up: the 401, nothing counted."""
    if "\0" in email:
        raise _bad_credentials()
    email = normalise_email(email)
    user = db.session.scalar(select(User).where(User.email == email))
    check_not_locked(email, now)
    stored = user.password_hash if user else dummy_hash()
    if not verify_password(stored, password) or user is None or not user.is_active:
        fail_login(email, user, now)
    throttle.clear(email)
    return user


def open_login(user: User, now, lifetime: timedelta, *, detail: str | None = None) -> AuthSession:
    """A login of user, live for lifetime, audited (detail: which client, e.g. "console");
    not committed."""
    session = AuthSession(user_id=user.id, expires_at=now + lifetime)
    db.session.add(session)
    db.session.flush()
    audit.record("login", user, patient_id=user.patient_id, detail=detail)
    return session


def login(email: str, password: str) -> dict:
    now = utcnow()
    user = check_credentials(email, password, now)
    session = open_login(user, now, current_app.config["JWT_REFRESH_TOKEN_EXPIRES"])
    tokens = _issue_tokens(user, session)
    db.session.commit()
    return tokens | {"user": user}


def check_not_locked(email: str, now) -> None:
    seconds = throttle.locked_seconds(normalise_email(email), now)
    if seconds:
        raise _locked(seconds)


def fail_login(email: str, user: User | None, now, error: ApiError | None = None):
    """Count a wrong password for this address (committed on its own: nothing else of the
    request is kept) and raise error (default: the 401 of a wrong e-mail or password)."""
    db.session.rollback()
    throttle.record_failure(normalise_email(email), now)
    if user is not None:
        audit.record("login_failed", user, patient_id=user.patient_id)
    db.session.commit()
    raise error or _bad_credentials()


def _locked(seconds: int) -> ApiError:
    return ApiError(423, "Too many failed logins with this e-mail address: it is locked for a while.",
                    title="Account locked", headers=retry_after(seconds), retry_after=seconds)


def _bad_credentials() -> ApiError:
    return ApiError(401, "E-mail or password is wrong.", title="Unauthorized",
                    type_slug="invalid-credentials")


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
        revoke_session(session, "refresh_reuse", compromised=True)  # stolen: what it made ends with it
        db.session.commit()
        raise ApiError(401, "This refresh token was already used; the login is revoked. Log in again.",
                       title="Unauthorized", type_slug="refresh-token-reused")
    tokens = _issue_tokens(session.user, session)
    db.session.commit()
    return tokens | {"user": session.user}


def revoke_session(session: AuthSession, reason: str, *, compromised: bool = False) -> None:
    """Revoke one login, with what it made (logins_ending): its push registrations, and when
    compromised (a stolen login) its feed tokens too; in the caller's transaction."""
    if session.revoked_at is None:
        now = utcnow()
        session.revoked_at = now
        session.revoked_reason = reason
        audit.record("logout" if reason == "logout" else "revoke", session.user, detail=reason)
        db.session.flush()  # the login's row is written (so locked) before what it made is looked for
        _announce_logins_ending(session.user, now, compromised=compromised, logins=[session.id])


def logout(session: AuthSession) -> None:
    """The account holder's own: the phone's push registrations made in this login end with it
    (a shared or handed-back phone must not keep getting the patient's reminder texts); its
    calendar feed tokens stay, since a calendar subscription is meant to outlive an app login."""
    revoke_session(session, "logout")
    db.session.commit()


def hold_login(actor: User, login_id, now) -> None:
    """Before something is made in the actor's login login_id for the account (a push
    registration, a feed token), in the same transaction: hold the login's row (FOR SHARE) and
    check under it that the login is still live, else 401. A revocation at once either waits
    for this commit and then ends what was made, or has committed and is seen here: nothing
    outlives its login by being made as it ends. The account's row is held first (FOR KEY
    SHARE, as the new row's foreign key would hold it): a deactivation locks the account before
    its logins, and this takes them in the same order. SQLite needs no lock (one writer)."""
    if login_id is None:
        return
    db.session.execute(select(User.id).where(User.id == actor.id).with_for_update(read=True, key_share=True))
    live = db.session.execute(select(AuthSession.id).where(
        AuthSession.id == login_id, AuthSession.user_id == actor.id, AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > now).with_for_update(read=True)).first()
    if live is None:
        raise ApiError(401, "The token was revoked; log in again.", title="Unauthorized",
                       headers={"WWW-Authenticate": "Bearer"})


def list_users(role=None, q=None):
    stmt = select(User).order_by(User.created_at, User.id)
    if role:
        stmt = stmt.where(User.role == role)
    if q:
        stmt = stmt.where(User.email.icontains(q, autoescape=True) | User.display_name.icontains(q, autoescape=True))
    return stmt


# --- passwords ------------------------------------------------------------------------------

def revoke_all_sessions(user: User, reason: str, now, *, keep: AuthSession | None = None) -> int:
    """Revoke every open login of user (but keep); their tokens fail from the next request. For
    a compromise or the account's end (a password reset or change, a deactivation): what any of
    the account's logins made ends too (logins_ending), all but what keep made; in the caller's
    transaction."""
    stmt = (update(AuthSession)
            .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason))
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep.id)
    revoked = db.session.execute(stmt).rowcount
    _announce_logins_ending(user, now, compromised=True, logins=None, keep_login=keep.id if keep is not None else None)
    return revoked


def _announce_logins_ending(user: User, now, *, compromised: bool, logins, keep_login=None) -> None:
    logins_ending.send(current_app._get_current_object(), user=user, now=now, compromised=compromised,
                       logins=logins, keep_login=keep_login)


def change_password(actor: User, session: AuthSession, current: str, new: str, now) -> None:
    """Needs the current password (a wrong one counts towards the lockout); every other login
    of the account is revoked, with the feed tokens and push registrations it made; this one
    stays, with its own."""
    check_not_locked(actor.email, now)
    if not verify_password(actor.password_hash, current):
        fail_login(actor.email, actor, now, ApiError(
            422, "The current password is wrong.", title="Validation failed",
            errors={"current_password": ["The current password is wrong."]}))
    _set_password(actor, new)
    revoke_all_sessions(actor, "password_changed", now, keep=session)  # with what the other logins made
    audit.record("password_changed", actor, patient_id=actor.patient_id)
    db.session.commit()


def _set_password(user: User, new: str) -> None:
    problems = password_problems(new, user.email)
    if problems:
        raise ApiError(422, " ".join(problems), title="Weak password", errors={"new_password": problems})
    user.password_hash = hash_password(new)


def request_password_reset(email: str, language: str, now) -> Mail | None:
    """A one-time code for an active account with this address, and the e-mail that carries it
    (None when there is no such account: the caller answers the same either way). The code
    replaces any earlier one: requests at once take their turns on the account's row, so that
    each spends the code of the one before it."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_active:
        return None
    code = _new_reset_code()
    lock_row(User, user.id)  # (a confirmation locks it first too: no deadlock on the code's row)
    db.session.execute(update(PasswordReset).where(PasswordReset.user_id == user.id,
                                                   PasswordReset.used_at.is_(None)).values(used_at=now))
    minutes = current_app.config["PASSWORD_RESET_TTL_MINUTES"]
    db.session.add(PasswordReset(user_id=user.id, code_hash=_reset_hash(code),
                                 expires_at=now + timedelta(minutes=minutes)))
    audit.record("password_reset_requested", user, patient_id=user.patient_id)
    db.session.commit()
    return reset_mail(user.email, user.display_name, code, language, minutes)


RESET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # easy to read out and type: 40 bits in 8
RESET_MAX_ATTEMPTS = 5


def _new_reset_code() -> str:
    return "".join(secrets.choice(RESET_ALPHABET) for _ in range(8))


def _reset_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").upper().encode()).hexdigest()


def confirm_password_reset(email: str, code: str, new: str, now) -> None:
    """Set a new password with the e-mailed code: every login of the account is revoked and
    the address unlocked. A wrong, used or expired code, or an unknown address, get one answer;
    a code dies after a few wrong tries."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    reset = None
    if user is not None and user.is_active:
        lock_row(User, user.id)  # the request's order: the account's row, then its codes' rows
        reset = db.session.scalar(
            select(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None),
                                        PasswordReset.expires_at > now)
            .order_by(PasswordReset.created_at.desc()).limit(1))
    if reset is None or not hmac.compare_digest(reset.code_hash, _reset_hash(code)):
        if reset is not None:
            attempts = db.session.execute(
                update(PasswordReset).where(PasswordReset.id == reset.id)
                .values(attempts=PasswordReset.attempts + 1).returning(PasswordReset.attempts)).scalar_one()
            if attempts >= RESET_MAX_ATTEMPTS:
                db.session.execute(update(PasswordReset).where(PasswordReset.id == reset.id).values(used_at=now))
            db.session.commit()
        raise ApiError(422, "This code is not valid: it is wrong, used or expired. Ask for a new one.",
                       title="Invalid code", type_slug="invalid-reset-code",
                       errors={"code": ["Not valid: wrong, used or expired."]})
    spent = db.session.execute(update(PasswordReset).where(PasswordReset.id == reset.id,
                                                           PasswordReset.used_at.is_(None))
                               .values(used_at=now)).rowcount
    if spent != 1:
        raise ApiError(422, "This code was just used. Ask for a new one.", title="Invalid code",
                       type_slug="invalid-reset-code", errors={"code": ["Already used."]})
    _set_password(user, new)
    revoke_all_sessions(user, "password_reset", now)  # its feed tokens, push devices too
    throttle.clear(user.email)
    audit.record("password_reset", user, patient_id=user.patient_id)
    db.session.commit()


# --- staff accounts -------------------------------------------------------------------------

def update_staff_account(actor: User, user_id, changes: dict) -> User:
    """changes: is_active (switch the account off, its tokens stop at the next request, or on)
    and language. The access policy decides who may (app/access/service.py)."""
    user = db.session.get(User, user_id)
    if user is None or user.role not in STAFF_ROLES:
        raise ApiError(404, "No staff account has this id.", title="Not Found")
    if "is_active" in changes:
        _set_active(actor, user, changes["is_active"])
    if "language" in changes:
        _set_language(actor, user, changes["language"])
    db.session.commit()
    return user


def lock_admins(actor: User) -> None:
    """Before an admin changes accounts (a deactivation, a reactivation, a language, a new
    account), in the same transaction and before any other lock: lock the rows of the active
    admins (SELECT ... FOR UPDATE, in id order: two deactivations at once wait for each other,
    never deadlock), then check under the lock that the actor is still one of them: its token was
    checked at the request's start, perhaps before another admin's deactivation of it committed
    (401). So an active admin always remains (the actor, who cannot deactivate itself), and a
    deactivated one changes nothing after its deactivation. SQLite needs no lock: a write
    transaction there holds the database's."""
    admins = db.session.scalars(select(User.id).where(User.role == "admin", User.is_active.is_(True))
                                .order_by(User.id).with_for_update())
    if actor.id not in set(admins):
        raise account_unavailable()


def account_unavailable() -> ApiError:
    """The 401 of an actor whose account was deactivated after its token was checked."""
    return ApiError(401, "The account is not available.", title="Unauthorized", headers={"WWW-Authenticate": "Bearer"})


def _set_language(actor: User, user: User, language: str) -> None:
    if language != user.language:
        user.language = language
        audit.record("account_updated", actor, resource_id=user.id, detail="language")


def set_own_language(actor: User, language: str) -> User:
    """A staff member chooses the language of their own pages and e-mails."""
    if actor.role not in STAFF_ROLES:
        raise ApiError(403, "Only staff accounts choose their language here.", title="Forbidden")
    if language not in LANGUAGES:
        raise ApiError(422, f"Unknown language {language!r}.", title="Validation failed",
                       errors={"language": [f"One of {', '.join(LANGUAGES)}."]})
    _set_language(actor, actor, language)
    db.session.commit()
    return actor


def _set_active(actor: User, user: User, active: bool) -> None:
    if user.id == actor.id and not active:
        raise ApiError(409, "You cannot deactivate your own account.", title="Conflict")
    if user.is_active != active:
        user.is_active = active
        if not active:
            revoke_all_sessions(user, "deactivated", utcnow())  # its feed tokens, push devices too
        audit.record("account_deactivated" if not active else "account_reactivated", actor,
                     resource_id=user.id)
