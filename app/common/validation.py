"""Field validators shared by the schemas."""
from collections.abc import Mapping
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


NUL_MESSAGE = "Text cannot contain the NUL character (\\u0000)."


def fields_with_nul(raw, skip=()) -> dict:
    """The field errors of a body's (or query string's) top-level fields holding a NUL anywhere
    (in a text, a key, a nested value), but those in skip: PostgreSQL text cannot store one,
    SQLite can, so refusing it here gives both databases one answer, and a batch item with one
    is refused on its own (not the batch by the database's error). A top-level name with a NUL
    is no field's: the schema refuses it as unknown."""
    if not isinstance(raw, Mapping):
        return {}
    return {field: [NUL_MESSAGE] for field, value in raw.items()
            if isinstance(field, str) and "\0" not in field and field not in skip and _holds_nul(value)}


def _holds_nul(value) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\0" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
