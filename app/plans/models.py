import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.types import UTCDateTime, created_at, uuid_pk
from app.exercises.models import Exercise
from app.extensions import db

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class PlanTemplate(db.Model):
    """Seed data: a ready-made programme (items reference exercises by slug)."""

    __tablename__ = "plan_templates"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[dict] = mapped_column(JSON)
    description: Mapped[dict] = mapped_column(JSON)
    duration_weeks: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    items: Mapped[list] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))


class Plan(db.Model):
    __tablename__ = "plans"

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    template_slug: Mapped[str | None] = mapped_column(String(80))
    start_date: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)  # last day of the plan
    end_reason: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()
    # Moves on with each change (version, pause, resume, end): If-Match (app/common/conditional.py).
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    versions: Mapped[list["PlanVersion"]] = relationship(
        back_populates="plan", order_by="PlanVersion.number", cascade="all, delete-orphan")
    pauses: Mapped[list["PlanPause"]] = relationship(
        order_by="PlanPause.start_date", cascade="all, delete-orphan")


class PlanVersion(db.Model):
    """The whole set of items in force from effective_from until the next version."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    change_note: Mapped[str | None] = mapped_column(String(500))
    warnings_acknowledged: Mapped[list] = mapped_column(JSON, default=list)
    override_reason: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()

    plan: Mapped[Plan] = relationship(back_populates="versions")
    items: Mapped[list["PlanItem"]] = relationship(
        back_populates="version", order_by="PlanItem.position", cascade="all, delete-orphan")


class PlanItem(db.Model):
    __tablename__ = "plan_items"

    id: Mapped[uuid.UUID] = uuid_pk()
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan_versions.id", ondelete="CASCADE"), index=True)
    # The same prescription keeps its key across versions, so adherence follows it.
    item_key: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    exercise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exercises.id"))
    minutes: Mapped[int] = mapped_column(Integer)
    sessions_per_week: Mapped[int | None] = mapped_column(Integer)
    days_mask: Mapped[int | None] = mapped_column(Integer)  # bit 0 = Monday ... bit 6 = Sunday
    time_of_day: Mapped[str | None] = mapped_column(String(5))  # "HH:MM", patient-local
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(String(500))

    version: Mapped[PlanVersion] = relationship(back_populates="items")
    exercise: Mapped[Exercise] = relationship()

    @property
    def days_of_week(self) -> list[str] | None:
        if self.days_mask is None:
            return None
        return [name for i, name in enumerate(DAY_NAMES) if self.days_mask & (1 << i)]


class PlanPause(db.Model):
    __tablename__ = "plan_pauses"

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)  # last paused day; open while None
    reason: Mapped[str] = mapped_column(String(300))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
