import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.types import UTCDateTime, created_at, utcnow, uuid_pk
from app.extensions import db


class EducationModule(db.Model):
    """A module, whatever its language; content_version rises when any of its files changes."""

    __tablename__ = "education_modules"

    id: Mapped[uuid.UUID] = uuid_pk()
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # ",bone,safety," so that a tag filter is a portable LIKE on every database.
    tags_joined: Mapped[str] = mapped_column(String(300), default=",")
    references: Mapped[list] = mapped_column(JSON, default=list)  # [{"key", "citation", "url"}]
    content_version: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64))
    last_reviewed: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contents: Mapped[list["EducationContent"]] = relationship(
        back_populates="module", cascade="all, delete-orphan")

    @property
    def tags(self) -> list[str]:
        return [t for t in self.tags_joined.split(",") if t]

    @tags.setter
    def tags(self, tags: list[str]) -> None:
        self.tags_joined = "," + ",".join(tags) + ","

    def content(self, language: str) -> "EducationContent | None":
        return next((c for c in self.contents if c.language == language), None)


class EducationContent(db.Model):
    __tablename__ = "education_contents"
    __table_args__ = (UniqueConstraint("module_id", "language"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    module_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("education_modules.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(Text)
    reading_minutes: Mapped[int] = mapped_column(Integer)
    sections: Mapped[list] = mapped_column(JSON)  # [{"heading", "body"}]
    search_text: Mapped[str] = mapped_column(Text)  # title + summary + body, lower-cased
    quiz: Mapped[list] = mapped_column(JSON, default=list)  # [{"id", "question", "options", "answer", "explanation"}]

    module: Mapped[EducationModule] = relationship(back_populates="contents")


class ReadingProgress(db.Model):
    __tablename__ = "education_progress"
    __table_args__ = (UniqueConstraint("patient_id", "module_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("education_modules.id", ondelete="CASCADE"))
    opened_at: Mapped[datetime] = created_at()
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version_read: Mapped[int] = mapped_column(Integer)
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Recommendation(db.Model):
    __tablename__ = "education_recommendations"
    __table_args__ = (UniqueConstraint("patient_id", "module_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("education_modules.id", ondelete="CASCADE"))
    recommended_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = created_at()


class QuizAttempt(db.Model):
    __tablename__ = "education_quiz_attempts"

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("education_modules.id", ondelete="CASCADE"))
    content_version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict] = mapped_column(JSON)
    score: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    submitted_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()
    module: Mapped[EducationModule] = relationship(lazy="joined")

    @property
    def slug(self) -> str:
        return self.module.slug
