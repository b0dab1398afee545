"""Clinical thresholds (seed/clinical/thresholds.yaml) and the clinic's own settings
(seed/config/clinic.yaml): data with their source, never numbers in code."""
import calendar
import logging
import os
import re
from datetime import date
from functools import lru_cache
from pathlib import Path

from app.common.yaml_files import read_yaml
from app.config import BASE_DIR

DEFAULT_PATH = BASE_DIR / "seed" / "clinical" / "thresholds.yaml"
CLINIC_PATH = BASE_DIR / "seed" / "config" / "clinic.yaml"
# What the safety answers say when the clinic has not set its emergency number. The number
# depends on where the patient is, not on the language they read, so none is assumed.
UNSET_EMERGENCY_NUMBER = {"en": "your local emergency number", "zh-CN": "当地急救电话"}
PHONE_NUMBER = re.compile(r"\+?[0-9][0-9 -]{1,14}")
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def thresholds() -> dict:
    path = Path(os.environ.get("CLINICAL_THRESHOLDS_FILE", DEFAULT_PATH))
    return read_yaml(path)


def threshold(name: str):
    return thresholds()[name]["value"]


@lru_cache(maxsize=1)
def clinic_settings() -> dict:
    path = Path(os.environ.get("CLINIC_SETTINGS_FILE", CLINIC_PATH))
    return read_yaml(path)


def emergency_number() -> str | None:
    """The clinic's ambulance number, or None when it is not set (or not a phone number):
    a wrong number in an emergency is worse than none, so nothing is guessed."""
    number = (clinic_settings() or {}).get("emergency_number")
    if number is None or number == "":
        return None
    if isinstance(number, (str, int)) and not isinstance(number, bool) and PHONE_NUMBER.fullmatch(str(number).strip()):
        return str(number).strip()
    log.warning("emergency_number in the clinic settings is not a phone number; texts say the local number")
    return None


def emergency_number_text(language: str) -> str:
    return emergency_number() or UNSET_EMERGENCY_NUMBER.get(language, UNSET_EMERGENCY_NUMBER["en"])


def fill(text: str, language: str) -> str:
    """A patient text with its {threshold} and {emergency_number} placeholders filled in."""
    values = {name: entry["value"] for name, entry in thresholds().items()}
    return text.format_map({**values, "emergency_number": emergency_number_text(language)})


def months_before(day: date, months: int) -> date:
    """The same day of the month `months` calendar months earlier (clamped to the month's end)."""
    years_back, month_index = divmod(day.month - 1 - months, 12)
    year, month = day.year + years_back, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
