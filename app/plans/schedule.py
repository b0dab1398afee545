"""What a plan expects on which day: pure functions over plain data, no database.

Used by the agenda and by adherence, so both count the same way.

- A plan expects nothing before its start, after its end, or on a paused day.
- On each day the version in force is the highest-numbered one whose effective_from is on or
  before that day (a later version may only start on or after the latest one's date).
- A days-of-week item expects one session on each of its weekdays while it is active.
- An N-per-week item expects N sessions in a Monday-Sunday week in which it is active every
  day; in a partial week (start, end, pause) N is prorated by the days it was active, rounded
  half up, and never more than those days.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass(frozen=True)
class ItemSpec:
    item_key: object
    exercise_id: object
    minutes: int
    sessions_per_week: int | None
    days_mask: int | None
    start_date: date
    end_date: date | None
    time_of_day: str | None = None
    plan_id: object = None
    item_id: object = None
    version_number: int = 1

    def active_on(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)

    @property
    def weekly(self) -> bool:
        return self.sessions_per_week is not None

    def fixed_on(self, day: date) -> bool:
        return self.days_mask is not None and bool(self.days_mask & (1 << day.weekday()))


@dataclass
class PlanSpec:
    plan_id: object
    start_date: date
    ended_on: date | None
    versions: list[tuple[int, date, list[ItemSpec]]] = field(default_factory=list)  # sorted by number
    pauses: list[tuple[date, date | None]] = field(default_factory=list)

    def running_on(self, day: date) -> bool:
        return self.start_date <= day and (self.ended_on is None or day <= self.ended_on)

    def paused_on(self, day: date) -> bool:
        return any(start <= day and (end is None or day <= end) for start, end in self.pauses)

    def version_on(self, day: date) -> tuple[int, date, list[ItemSpec]] | None:
        in_force = None
        for version in self.versions:
            if version[1] <= day:
                in_force = version
        return in_force

    def items_on(self, day: date) -> list[ItemSpec]:
        """Items the plan prescribes on day (both kinds); empty when not running or paused."""
        if not self.running_on(day) or self.paused_on(day):
            return []
        version = self.version_on(day)
        return [item for item in version[2] if item.active_on(day)] if version else []


def _prorated(per_week: int, active_days: int) -> int:
    """N per week over a week with only some active days: rounded half up, at most those days."""
    return min(active_days, int(per_week * active_days / 7 + 0.5))


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def days(start: date, end: date):
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def expected(plans: list[PlanSpec], start: date, end: date, today: date | None = None) -> dict:
    """Expected sessions by item key in [start, end].

    Returns {item_key: {"fixed_days": [dates], "weeks": {week_start: (due, quota)},
                        "item": the ItemSpec last in force, "minutes_expected": int}}
    where minutes_expected covers the fixed days only (weekly minutes depend on what was done).
    A week that straddles the window's start counts only the days inside it. When `today`
    falls inside a week, its `due` is only what must already be done for the week's quota to
    stay reachable (the quota minus the days left after today).
    """
    result: dict = {}
    active_days: dict = {}
    for plan in plans:
        for day in days(start, end):
            for item in plan.items_on(day):
                entry = result.setdefault(item.item_key, {"fixed_days": [], "weeks": {}, "item": item,
                                                          "minutes_expected": 0})
                entry["item"] = item
                if item.weekly:
                    week = week_start(day)
                    active_days.setdefault((item.item_key, week), [item, 0])
                    active_days[(item.item_key, week)][0] = item
                    active_days[(item.item_key, week)][1] += 1
                elif item.fixed_on(day):
                    entry["fixed_days"].append(day)
                    entry["minutes_expected"] += item.minutes
    for (key, week), (item, count) in active_days.items():
        quota = _prorated(item.sessions_per_week, count)
        due = quota
        if today is not None and week <= today < week + timedelta(days=6):
            days_left = (week + timedelta(days=6) - today).days
            quota = _prorated(item.sessions_per_week, count + days_left)
            due = max(0, min(count, quota - days_left))
        result[key]["weeks"][week] = (due, quota)
    return result
