"""Patient-local dates. Everything is stored in UTC; a patient's day is their local date."""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def local_today(time_zone: str) -> date:
    return now_utc().astimezone(ZoneInfo(time_zone)).date()


def local_date(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(ZoneInfo(time_zone)).date()
