"""Patient-local dates. Everything is stored in UTC; a patient's day is their local date."""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def local_today(time_zone: str) -> date:
    return now_utc().astimezone(ZoneInfo(time_zone)).date()


def local_date(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(ZoneInfo(time_zone)).date()


def local_moment(day: date, hhmm: str, time_zone: str) -> datetime:
    """The UTC instant of wall-clock hhmm on a patient-local day (a time skipped by a DST change
    lands an hour later, as clocks show it)."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(time_zone))
    return local.astimezone(timezone.utc)
