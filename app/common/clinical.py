"""Clinical thresholds (seed/clinical/thresholds.yaml) and the clinic's own settings
(seed/config/clinic.yaml): data with their source, never numbers in code."""
import calendar
import os
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

from app.config import BASE_DIR

DEFAULT_PATH = BASE_DIR / "seed" / "clinical" / "thresholds.yaml"
CLINIC_PATH = BASE_DIR / "seed" / "config" / "clinic.yaml"


@lru_cache(maxsize=1)
def thresholds() -> dict:
    path = Path(os.environ.get("CLINICAL_THRESHOLDS_FILE", DEFAULT_PATH))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def threshold(name: str):
    return thresholds()[name]["value"]


@lru_cache(maxsize=1)
def clinic_settings() -> dict:
    path = Path(os.environ.get("CLINIC_SETTINGS_FILE", CLINIC_PATH))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def emergency_number(language: str) -> str:
    numbers = clinic_settings()["emergency_number"]
    return str(numbers.get(language) or numbers["default"])


def fill(text: str, language: str) -> str:
    """A patient text with its {threshold} and {emergency_number} placeholders filled in."""
    values = {name: entry["value"] for name, entry in thresholds().items()}
    return text.format_map({**values, "emergency_number": emergency_number(language)})


def months_before(day: date, months: int) -> date:
    """The same day of the month `months` calendar months earlier (clamped to the month's end)."""
    years_back, month_index = divmod(day.month - 1 - months, 12)
    year, month = day.year + years_back, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
