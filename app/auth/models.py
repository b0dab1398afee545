import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.i18n import DEFAULT_LANGUAGE
from app.common.types import UTCDateTime, created_at, uuid_pk
from app.extensions import db

ROLES = ("patient", "caregiver", "coordinator", "admin")
STAFF_ROLES = ("coordinator", "admin")


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(120))
    # Set for role=patient: the profile this login belongs to.
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), unique=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    # Staff only: the language of their e-mails and pages (None: English). A patient's is on the
    # profile, and a caregiver reads in the patient's.
    language: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = created_at()

    @property
    def staff_language(self) -> str | None:
        """The language a staff account reads in (its e-mails, inbox, flags): its own, unset
        English; None for a patient or caregiver, who read in a patient's."""
        return (self.language or DEFAULT_LANGUAGE) if self.role in STAFF_ROLES else None


class LoginThrottle(db.Model):
    """Failed logins in a row per e-mail address, whether an account has it or not, so that an
    unknown address locks exactly like a known one and the lockout reveals nothing."""

    __tablename__ = "login_throttles"

    # HMAC-SHA256 of the normalised e-mail under SECRET_KEY: no address is stored.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PasswordReset(db.Model):
    """A one-time code e-mailed to reset a forgotten password (only its hash is kept)."""

    __tablename__ = "password_resets"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthSession(db.Model):
    """One login: every access and refresh token of it dies when it is revoked."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))

    user: Mapped[User] = relationship(lazy="joined")


class RefreshToken(db.Model):
    """Each issued refresh token; a used one presented again means it was stolen."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[datetime] = created_at()
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
