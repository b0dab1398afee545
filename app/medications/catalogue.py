"""The bone treatments the app knows (seed/medications/medicines.yaml) and the next-due rule."""
from datetime import date
from functools import lru_cache

from dateutil.relativedelta import relativedelta

from app.common.clinical import threshold
from app.common.yaml_files import read_yaml
from app.config import BASE_DIR

PATH = BASE_DIR / "seed" / "medications" / "medicines.yaml"


@lru_cache(maxsize=1)
def _data() -> dict:
    return read_yaml(PATH)


def medicines() -> dict:
    return _data()["medicines"]


def interval_months(medicine: str) -> int | None:
    key = medicines()[medicine].get("interval_threshold")
    return threshold(key) if key else None


def reminder_settings() -> tuple[list[int], str]:
    reminders = _data()["reminders"]
    return reminders["days_before"], reminders["local_time"]


def next_due(medicine: str, started_on: date, last_dose_on: date | None, end_date: date | None) -> date | None:
    """Interval medicines: the start without a dose yet, else the last dose plus the interval;
    none once past the end date. A daily course has no per-dose due date (its end is the event)."""
    entry = medicines()[medicine]
    if entry["schedule"] != "interval":
        return None
    due = started_on if last_dose_on is None else last_dose_on + relativedelta(months=interval_months(medicine))
    if end_date is not None and due > end_date:
        return None
    return due
