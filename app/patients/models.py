import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.common.conditional import etag_of
from app.common.types import UTCDateTime, created_at, utcnow, uuid_pk
from app.extensions import db

# Neurological levels from the top of the cord down; the index orders them.
NEURO_LEVELS = (
    [f"C{i}" for i in range(1, 9)]
    + [f"T{i}" for i in range(1, 13)]
    + [f"L{i}" for i in range(1, 6)]
    + [f"S{i}" for i in range(1, 6)]
)
AIS_GRADES = ("A", "B", "C", "D", "E")
SEXES = ("female", "male", "other", "unknown")


def level_at_or_above(level: str, reference: str) -> bool:
    return NEURO_LEVELS.index(level) <= NEURO_LEVELS.index(reference)


class Patient(db.Model):
    __tablename__ = "patients"

    id: Mapped[uuid.UUID] = uuid_pk()
    display_name: Mapped[str] = mapped_column(String(120), index=True)
    date_of_birth: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(10))
    injury_date: Mapped[date] = mapped_column(Date)
    neurological_level: Mapped[str] = mapped_column(String(3))
    ais_grade: Mapped[str] = mapped_column(String(1))
    time_zone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    # [{"site": "distal femur", "date": "2025-03-01", "note": "..."}]
    known_fractures: Mapped[list] = mapped_column(JSON, default=list)
    # Blood clots (deep vein thrombosis, pulmonary embolism), same shape: they contraindicate
    # standing and FES for a while (seed/clinical/thresholds.yaml: recent_clot_months).
    known_clots: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    clinical_notes: Mapped[str | None] = mapped_column(Text)
    # No foreign key: users.patient_id already points here, and a cycle would need deferred DDL.
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Moves on with each profile change (If-Match; app/common/conditional.py).
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    @property
    def etag(self) -> str:
        return etag_of(self.id, self.revision, self.updated_at)


class Invitation(db.Model):
    """A one-time activation code for a patient's or a caregiver's login (only its hash is kept)."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(10))  # patient | caregiver
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    relationship_note: Mapped[str | None] = mapped_column(String(80))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
