import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime, created_at
from app.extensions import db


class CalendarFeed(db.Model):
    """A patient's calendar subscription: only the token's hash is kept; rotating replaces it."""

    __tablename__ = "calendar_feeds"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()
    # The maker's login: the token ends when that login is found stolen (a reused refresh token),
    # not by its logout; a password change of the maker's account keeps it only when the changing
    # login made it (see DeviceToken.session_id).
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("auth_sessions.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
