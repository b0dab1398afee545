import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime, uuid_pk
from app.extensions import db

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
STATUSES = (OPEN, ACKNOWLEDGED, RESOLVED)
ACTIVE = (OPEN, ACKNOWLEDGED)


def active_key(patient_id, rule_id: str) -> str:
    return f"{patient_id}:{rule_id}"


class Flag(db.Model):
    """One episode of a rule holding for a patient, from opening to resolution.

    active_key is set while the flag is open or acknowledged and cleared when it is resolved:
    its unique constraint keeps one active flag per patient and rule, and opening is an
    insert-if-absent on it, so two sweeps (or a sweep and a session write) cannot open two.
    """

    __tablename__ = "flags"
    __table_args__ = (Index("ix_flags_patient_rule_opened", "patient_id", "rule_id", "opened_at"),
                      Index("ix_flags_status_severity", "status", "severity"))

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(15))
    active_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    evidence: Mapped[dict] = mapped_column(JSON)  # the numbers that triggered it and their window
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the condition last found holding
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # on-write rules: latest trigger written
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(String(30))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    reopened_from_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the previous episode of this rule
