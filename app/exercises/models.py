import uuid

from sqlalchemy import JSON, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

KINDS = ("standing", "fes", "vibration", "range_of_motion", "upper_body", "pressure_relief")


class Exercise(db.Model):
    """An exercise of the library (seed data; id derived from the slug)."""

    __tablename__ = "exercises"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    # Safety flags checked when a plan is assigned: autonomic_dysreflexia, recent_fracture, recent_clot.
    safety: Mapped[list] = mapped_column(JSON, default=list)
    # What a session of it records besides minutes: [{"key", "unit", "min", "max", "label": {lang: text}}]
    measures: Mapped[list] = mapped_column(JSON, default=list)
    default_dose: Mapped[dict] = mapped_column(JSON)  # {"minutes", "sessions_per_week", "source"}
    translations: Mapped[dict] = mapped_column(JSON)  # {lang: {"name", "instructions", ...}}
    content_hash: Mapped[str] = mapped_column(String(64))

    def text(self, language: str) -> dict:
        return self.translations.get(language) or next(iter(self.translations.values()))
