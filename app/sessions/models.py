import uuid
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime, created_at
from app.extensions import db


class ExerciseSession(db.Model):
    """A session the patient did, as logged from the app (the id is made on the device)."""

    __tablename__ = "exercise_sessions"
    __table_args__ = (
        Index("ix_exercise_sessions_patient_day", "patient_id", "local_date"),
        # The feed reads a patient's changes in position order; one position is one write.
        Index("ix_exercise_sessions_patient_feed", "patient_id", "feed_position", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    item_key: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the plan item it answers, if any
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"))
    exercise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exercises.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The patient's local date when it started (their time zone at logging time): the
    # adherence day. Stored so that aggregates need no per-row time-zone arithmetic.
    local_date: Mapped[date] = mapped_column(Date)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    measures: Mapped[dict] = mapped_column(JSON, default=dict)
    exertion: Mapped[int | None] = mapped_column(Integer)
    pain: Mapped[int | None] = mapped_column(Integer)
    symptoms: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    alerts: Mapped[list] = mapped_column(JSON, default=list)  # safety answer codes
    body_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # Where this session's latest write sits in its patient's change feed (SessionFeed).
    feed_position: Mapped[int] = mapped_column(BigInteger)
    logged_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    logged_by_role: Mapped[str] = mapped_column(String(20))
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SessionFeed(db.Model):
    """A patient's change counter. Every session write of the patient bumps it in the same
    transaction, under this row's lock, and stores the new value as the session's
    `feed_position`; the lock is held to the commit, so positions follow commit order."""

    __tablename__ = "session_feeds"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"),
                                                  primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)


class SessionDayRollup(db.Model):
    """A plan item's sessions (off-plan ones under a nil key) counted by day over a block of days:
    derived data, kept by the session writes in their transaction (app/sessions/rollups.py)."""

    __tablename__ = "session_day_rollups"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    item_key: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    block: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # ordinal // BLOCK_DAYS
    counts: Mapped[str] = mapped_column(Text)   # a character a day: its sessions (rollups.code)
    minutes: Mapped[str] = mapped_column(Text)  # a character a day: their minutes
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
