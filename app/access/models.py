"""The relations the policy decides on: who is on a patient's care team, who acts for them."""
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime, created_at, uuid_pk
from app.extensions import db


class CareTeamMember(db.Model):
    __tablename__ = "care_team_members"

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    coordinator_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = created_at()


class CaregiverLink(db.Model):
    __tablename__ = "caregiver_links"
    __table_args__ = (UniqueConstraint("patient_id", "caregiver_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    caregiver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    relationship_note: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = created_at()
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
