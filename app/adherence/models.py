import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime
from app.extensions import db


class StreakCheckpoint(db.Model):
    """A patient's streak as it stood at the end of a settled day: one no session write can
    change any more (older than the backfill and edit windows), so a streak of any length is
    the days counted since then plus this. Derived data, kept by app/adherence/streaks.py.

    weeks_through: the last Sunday through which the patient's settled weeks are stored
    (AdherenceWeek, app/adherence/weeks.py), every week from the first with a plan or a session;
    None: none are."""

    __tablename__ = "adherence_streak_checkpoints"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    settled_through: Mapped[date] = mapped_column(Date)
    streak_days: Mapped[int] = mapped_column(Integer)
    rules_version: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    weeks_through: Mapped[date | None] = mapped_column(Date, nullable=True)


class AdherenceWeek(db.Model):
    """One settled week (Monday to Sunday) of a patient, as app/adherence/weeks.py counted it: what
    each item expected and got, and the week's sessions, packed as one text (`figures`, read by
    weeks.RolledWeeks): many patients' windows then read a row a week, not a row a session.
    Derived data: trusted only through the patient's checkpoint (weeks_through, rules_version)."""

    __tablename__ = "adherence_weeks"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    figures: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
