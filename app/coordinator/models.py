import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime, created_at, uuid_pk
from app.extensions import db

CHANNELS = ("phone", "message", "email", "video", "in_person")
OUTCOMES = ("reached", "no_answer", "left_message", "wrong_number", "declined", "other")


class ContactLog(db.Model):
    """A call or message to the patient, what came of it, and when to follow up."""

    __tablename__ = "contact_logs"
    __table_args__ = (Index("ix_contact_logs_patient_at", "patient_id", "contacted_at"),
                      Index("ix_contact_logs_follow_up", "coordinator_id", "follow_up_on"))

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    coordinator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    flag_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the flag it answered, if any
    channel: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    contacted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    follow_up_on: Mapped[date | None] = mapped_column(Date)  # patient-local date
    created_at: Mapped[datetime] = created_at()
