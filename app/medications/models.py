import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime, created_at, utcnow, uuid_pk
from app.extensions import db


class BoneTreatment(db.Model):
    """An infrequent bone treatment the coordinator records (denosumab, zoledronic acid, a
    teriparatide course). next_due_on is kept with every dose so reminders and rules read it in SQL."""

    __tablename__ = "bone_treatments"

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    medicine: Mapped[str] = mapped_column(String(40))
    started_on: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)  # last day; a daily course has one from the start
    last_dose_on: Mapped[date | None] = mapped_column(Date)
    next_due_on: Mapped[date | None] = mapped_column(Date, index=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BoneDose(db.Model):
    __tablename__ = "bone_doses"
    __table_args__ = (UniqueConstraint("treatment_id", "given_on", name="uq_bone_doses_treatment_given_on"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    treatment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bone_treatments.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    given_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()
