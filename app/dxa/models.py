import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime, created_at, utcnow, uuid_pk
from app.extensions import db

SITES = ("total_hip", "femoral_neck", "distal_femur", "proximal_tibia", "lumbar_spine")
KNEE_SITES = ("distal_femur", "proximal_tibia")
SIDES = ("left", "right", "none")
FOLLOWUP_KINDS = ("baseline", "repeat", "interval")
FOLLOWUP_STATUSES = ("due", "booked", "done", "missed", "cancelled")
OPEN_STATUSES = ("due", "booked")


class DxaResult(db.Model):
    """One site of one DXA scan, entered by the care team."""

    __tablename__ = "dxa_results"
    __table_args__ = (UniqueConstraint("patient_id", "site", "side", "scan_date",
                                       name="uq_dxa_results_patient_site_side_date"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    scan_date: Mapped[date] = mapped_column(Date)
    site: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(5), default="none")  # left | right | none (spine)
    bmd: Mapped[float] = mapped_column(Float)  # g/cm2
    t_score: Mapped[float | None] = mapped_column(Float)
    z_score: Mapped[float | None] = mapped_column(Float)
    centre: Mapped[str | None] = mapped_column(String(120))
    machine: Mapped[str | None] = mapped_column(String(120))
    entered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()


class DxaProtocol(db.Model):
    """The monitoring protocol's dates and interval for one patient (set by the coordinator)."""

    __tablename__ = "dxa_protocols"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    medically_stable_on: Mapped[date | None] = mapped_column(Date)
    treatment_started_on: Mapped[date | None] = mapped_column(Date)
    interval_months: Mapped[int] = mapped_column(Integer)
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DxaFollowUp(db.Model):
    """A scan the protocol calls for: due from due_date, booked for an appointment, then closed."""

    __tablename__ = "dxa_followups"
    __table_args__ = (Index("ix_dxa_followups_status_due_date", "status", "due_date"),
                      Index("ix_dxa_followups_status_appointment_date", "status", "appointment_date"))

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    due_date: Mapped[date] = mapped_column(Date)  # patient-local
    status: Mapped[str] = mapped_column(String(10), default="due")
    appointment_date: Mapped[date | None] = mapped_column(Date)  # patient-local wall clock
    appointment_time: Mapped[str | None] = mapped_column(String(5))  # "HH:MM"
    appointment_place: Mapped[str | None] = mapped_column(String(200))
    completed_on: Mapped[date | None] = mapped_column(Date)
    # Done because a result of a new scan was entered (not closed by hand): deleting that scan's
    # last result opens it again.
    closed_by_result: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
