import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime
from app.extensions import db


class StreakCheckpoint(db.Model):
    """A patient's streak as it stood at the end of a settled day: one no session write can
    change any more (older than the backfill and edit windows), so a streak of any length is
    the days counted since then plus this. Derived data, kept by app/adherence/streaks.py."""

    __tablename__ = "adherence_streak_checkpoints"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    settled_through: Mapped[date] = mapped_column(Date)
    streak_days: Mapped[int] = mapped_column(Integer)
    rules_version: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
