"""Local wall-clock times to UTC instants, quiet hours and bundling: pure functions."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

# An evening reminder that falls in quiet hours goes this long before they begin (moving it
# to the end of quiet hours would put it on the next day, after the day it is about).
QUIET_LEAD = timedelta(minutes=15)


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def at_local(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time on a local day.

    A time that does not exist (skipped when clocks go forward) comes out shifted forward by
    the gap (02:30 -> 03:30); a time that happens twice (clocks go back) is the first one.
    """
    return datetime.combine(day, wall, tzinfo=zone).astimezone(timezone.utc)


def _in_quiet(wall: time, start: time, end: time) -> bool:
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end  # over midnight


def out_of_quiet(moment: datetime, zone: ZoneInfo, quiet: tuple[time, time] | None,
                 same_day: bool) -> datetime:
    """moment moved out of quiet hours: to their end, or (same_day, when their end is on the
    next local day) to QUIET_LEAD before they begin."""
    if quiet is None:
        return moment
    start, end = quiet
    local = moment.astimezone(zone)
    wall = local.time().replace(second=0, microsecond=0)
    if not _in_quiet(wall, start, end):
        return moment
    day = local.date()
    if start < end or wall < end:
        return at_local(day, end, zone)
    if same_day:
        return at_local(day, start, zone) - QUIET_LEAD
    return at_local(day + timedelta(days=1), end, zone)


def bundled(moments: list[datetime], window: timedelta) -> list[datetime]:
    """Each moment moved to the first of its cluster: moments within window of a cluster's
    first one are delivered with it, as one message. Input and output in the same order."""
    order = sorted(range(len(moments)), key=lambda i: moments[i])
    out = list(moments)
    first = None
    for i in order:
        if first is None or moments[i] - first > window:
            first = moments[i]
        out[i] = first
    return out
