import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime, created_at, utcnow, uuid_pk
from app.extensions import db

STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


class NotificationPreference(db.Model):
    """A patient's choices for reminders; no row means the defaults (inbox only, no quiet hours)."""

    __tablename__ = "notification_preferences"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, default=False)
    push: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "HH:MM" patient-local
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    item_times: Mapped[dict] = mapped_column(JSON, default=dict)  # {item_key: "HH:MM"}
    opted_out: Mapped[list] = mapped_column(JSON, default=list)  # kinds
    caregivers_receive: Mapped[bool] = mapped_column(Boolean, default=False)  # the patient's consent
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DeviceToken(db.Model):
    """A push token of the app on one device, for one account."""

    __tablename__ = "device_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(512), unique=True)
    platform: Mapped[str] = mapped_column(String(10))  # android | ios | web
    created_at: Mapped[datetime] = created_at()
    # The login that registered it last: the device ends with it (its logout, or its end by a
    # stolen refresh token); a password change keeps only the changing login's devices (the
    # others' logins end; whoever had the old password may hold one of them).
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("auth_sessions.id", ondelete="SET NULL"))


class Notification(db.Model):
    """The outbox: one row per message to deliver to one account (see INTERFACES.md)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_due", "status", "due_at"),
        Index("ix_notifications_inbox", "recipient_user_id", "patient_id", "due_at"),
        Index("ix_notifications_patient_status", "patient_id", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    recipient_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(60))
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    # What it is about, without the recipient (e.g. "plan:<item_key>:<local date>"): a logged
    # session cancels every recipient's reminder of that occurrence, snoozed ones included.
    occurrence_key: Mapped[str | None] = mapped_column(String(250), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(String(40))  # channels delivered so far: "inbox,email"
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Made by the materialiser, which re-derives (and cancels) its own pending rows each run.
    materialised: Mapped[bool] = mapped_column(Boolean, default=False)
    materialise_run: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = created_at()

