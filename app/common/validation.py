"""Field validators shared by the schemas."""
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import available_timezones

import marshmallow as ma


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone(value: str) -> None:
    if value not in _zones():
        raise ma.ValidationError("Not an IANA time zone name (for example Asia/Shanghai).")


def not_in_future(value) -> None:
    today = date.today()
    if (value.date() if isinstance(value, datetime) else value) > today:
        raise ma.ValidationError("Must not be in the future.")
