"""Field validators shared by the schemas."""
from datetime import date, datetime
from functools import lru_cache
from importlib import resources

import marshmallow as ma


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    # The IANA names tzdata ships, not zoneinfo.available_timezones(): that one also lists files
    # of the server's own zoneinfo directory such as "localtime" (the server's zone).
    names = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    return frozenset(names) - {"Factory"}


def time_zone(value: str) -> None:
    if value not in _zones():
        raise ma.ValidationError("Not an IANA time zone name (for example Asia/Shanghai).")


EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)


def calendar_date(value) -> None:
    """Dates the programme can mean; the calendar's edges (0001-01-01, 9999-12-31) would
    overflow the week and window arithmetic."""
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ma.ValidationError(f"Use a date from {EARLIEST_DATE} to {LATEST_DATE}.")


