"""Adherence as pure functions over what the plans expect and what was logged.

What counts is decided in app/plans/schedule.py (the one counting rule). Here:
- Per item: expected and completed sessions, their rate, minutes prescribed (for the sessions
  expected) and minutes logged (every session of the item in the window).
- Per patient: the sums, sessions logged and minutes logged in the window (off-plan sessions
  included: they count for minutes and days with data, never against the plan), the streak,
  the last session, and the days with any session in the last 30 days.
"""
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate, islice
from operator import gt

from app.plans.schedule import (Calendar, Logged, PlanSpec, calendar, levels_of, shifted, week_stretches,
                                weekday_pattern, weeks_counted, window)


@dataclass(frozen=True)
class LoggedSession:
    item_key: object
    local_date: date
    minutes: int
    started_at: datetime


def _columns(rows) -> tuple[list, list, dict]:
    """(days, minutes, {item_key: ([days], [minutes])}) of (item_key or None, day, minutes) rows
    (days as ordinals)."""
    days, minutes, groups = [], [], {}
    for key, day, spent in rows:
        days.append(day)
        minutes.append(spent)
        if key is not None:
            group = groups.get(key)
            if group is None:
                group = groups[key] = ([], [])
            group[0].append(day)
            group[1].append(spent)
    return days, minutes, groups


class Tally:
    """One patient's logged sessions, for any number of windows: levels holds each planned item's
    sessions as levels of day bits from base (app/plans/schedule.py: Logged, what the counting
    reads); a window's sessions, minutes and days with data are two bisections in the sessions
    sorted by day, built on the first read.

    Built from columns (parallel lists, C-speed: no Python step per session) so that the sessions
    of many patients load cheaply (app/adherence/loading.py reads them packed per patient). Days
    are ordinals; base is the one given (the first day read, for a batch: every patient's masks
    then share it), else the Monday of the first session's week (None: no session)."""

    __slots__ = ("base", "levels", "_days", "_minutes", "_items", "_running")

    def __init__(self, sessions=(), base: int | None = None):
        self._fill(*_columns((s.item_key, s.local_date.toordinal(), s.minutes) for s in sessions), base)

    @classmethod
    def of_rows(cls, rows) -> "Tally":
        """The sessions as (item_key or None, day's ordinal, minutes)."""
        tally = cls.__new__(cls)
        tally._fill(*_columns(rows), None)
        return tally

    @classmethod
    def of_columns(cls, days: list, minutes: list, groups: dict, base: int | None = None) -> "Tally":
        """The sessions as columns: their days (ordinals) and minutes (off-plan ones included) and,
        per item_key, ([days], [minutes]) of that item's sessions; none before base."""
        tally = cls.__new__(cls)
        tally._fill(days, minutes, groups, base)
        return tally

    def _fill(self, days: list, minutes: list, groups: dict, base: int | None) -> None:
        if base is None and days:
            first = min(days)
            base = first - (first - 1) % 7  # its Monday (ordinal 1 is a Monday)
        self.base = base
        self.levels = {key: levels_of(list(map(base.__rsub__, item_days))) for key, (item_days, _m) in groups.items()}
        self._days, self._minutes, self._items = days, minutes, groups
        self._running: dict = {}

    @property
    def by_item(self) -> dict:
        """{item_key: {date: sessions}}: the levels read back day by day (for tests and tools)."""
        counts = {}
        for key, levels in self.levels.items():
            per_day = counts[key] = {}
            for level in levels:
                while level:
                    bit = level & -level
                    day = date.fromordinal(self.base + bit.bit_length() - 1)
                    per_day[day] = per_day.get(day, 0) + 1
                    level ^= bit
        return counts

    def _sorted(self, name, days: list, minutes: list) -> tuple:
        # (days sorted, running minutes): days repeat, once per session, so bisect_right(end)
        # minus bisect_left(start) is the window's sessions, and the running totals' difference its minutes.
        found = self._running.get(name)
        if found is None:
            if days and any(map(gt, days, islice(days, 1, None))):  # not in day order yet
                order = sorted(range(len(days)), key=days.__getitem__)
                days, minutes = list(map(days.__getitem__, order)), list(map(minutes.__getitem__, order))
            found = self._running[name] = (days, [0, *accumulate(minutes)])
        return found

    def _bounds(self, days: list, start: date, end: date) -> tuple[int, int]:
        return bisect_left(days, start.toordinal()), bisect_right(days, end.toordinal())

    def sessions_within(self, start: date, end: date) -> int:
        days = self._sorted(None, self._days, self._minutes)[0]
        first, last = self._bounds(days, start, end)
        return last - first

    def minutes_within(self, start: date, end: date, item_key=None) -> int:
        if item_key is None:
            days, totals = self._sorted(None, self._days, self._minutes)
        else:
            group = self._items.get(item_key)
            if group is None:
                return 0
            days, totals = self._sorted(id(group), *group)  # (the group's id: its key is hashed once)
        first, last = self._bounds(days, start, end)
        return totals[last] - totals[first]

    def days_within(self, start: date, end: date) -> int:
        """Days with any session."""
        found = self._running.get(_DISTINCT)
        if found is None:
            found = self._running[_DISTINCT] = sorted(set(self._days))
        first, last = self._bounds(found, start, end)
        return last - first


_DISTINCT = object()  # Tally._running: the distinct days


def _rate(done: int, due: int) -> float | None:
    return round(done / due, 4) if due else None


def item_metrics(plans: list[PlanSpec] | Calendar, sessions: list[LoggedSession] | Tally, start: date, end: date,
                 today: date | None = None) -> dict:
    tally = sessions if isinstance(sessions, Tally) else Tally(sessions)
    expectations = window(plans, start, end, end if today is None else today, tally.base)
    base, logged = tally.base, tally.levels
    items = {}
    for key, entry in expectations.items():
        levels = logged.get(key, ())
        done = (levels[0] & entry.fixed_mask).bit_count() if levels else 0
        due, minutes = entry.fixed_due, entry.fixed_minutes
        for offset, weeks, per_week, cap, spent in entry.runs:  # whole past weeks, each planning N
            done += weeks_counted(levels, offset, weeks, per_week, cap)
            due += per_week * weeks
            minutes += per_week * weeks * spent
        for quota in entry.quotas:
            counted = quota.counted(levels, base)
            expected = max(quota.due, counted)  # ahead of pace in the current week: on target
            done += counted
            due += expected
            minutes += expected * quota.stretch.minutes
        items[key] = {
            "item_key": key, "exercise_id": entry.item.exercise_id, "plan_id": entry.item.plan_id,
            "expected_sessions": due, "completed_sessions": done, "session_rate": _rate(done, due),
            "prescribed_minutes": minutes, "logged_minutes": tally.minutes_within(start, end, key),
        }
    return items


def patient_metrics(plans: list[PlanSpec] | Calendar, sessions: list[LoggedSession] | Tally, start: date,
                    end: date, today: date, streak_days: int | None = None, last_session_at=None) -> dict:
    """The metrics of [start, end] (end <= today). streak_days and last_session_at come from the
    whole history (app/adherence/streaks.py); given a list of LoggedSession and not them, they
    are read from the list. A Calendar and a Tally (whose streak and last session must be given)
    make many windows of one patient cheap."""
    plans = calendar(plans)
    tally = sessions if isinstance(sessions, Tally) else Tally(sessions)
    items = item_metrics(plans, tally, start, end, today)
    due = done = prescribed = 0
    for item in items.values():
        due += item["expected_sessions"]
        done += item["completed_sessions"]
        prescribed += item["prescribed_minutes"]
    last_30 = today - timedelta(days=29)
    if not isinstance(sessions, Tally):
        if streak_days is None:
            streak_days = streak(plans, sessions, today)
        if last_session_at is None:
            last_session_at = max((s.started_at for s in sessions), default=None)
    return {
        "date_from": start, "date_to": end,
        "expected_sessions": due, "completed_sessions": done, "session_rate": _rate(done, due),
        "prescribed_minutes": prescribed,
        "logged_minutes": tally.minutes_within(start, end),
        "sessions_logged": tally.sessions_within(start, end),
        "current_streak_days": streak_days,
        "last_session_at": last_session_at,
        "days_with_data_last_30": tally.days_within(last_30, today),
        "items": list(items.values()),
    }


def walk(plans: list[PlanSpec] | Calendar, logged: Logged | Tally, today: date, last: date,
         first: date | None = None) -> tuple[int, bool]:
    """The streak counted back from `last` to `first` (None: to the first plan's start).

    Returns (days counted, ended): ended when the streak stops inside the range; otherwise it
    goes on before `first`. `logged` holds the sessions as levels of day bits (a Tally, or a
    Logged); it must hold every day from the Monday of first's week (a past week is judged whole
    on its Sunday).

    The rule: a day with days-of-week items due meets the plan when each of them was done. A day
    with nothing due counts when a session for an item in force that day was logged, and is passed
    over otherwise (rest days, pauses, days between plans). The streak breaks on a due day not met,
    and on the Sunday of a past week in which an N-per-week stretch got fewer sessions than it
    planned. Today, still in progress, breaks nothing. It ends at the first plan's start.

    As bits: over the range, the days due, missed (due, not done) and with a session of an item
    in force; the days that count are the due days met and the others with a session; the streak
    is the count of those after the latest break.
    """
    plans = calendar(plans)
    if first is not None and last < first:
        return 0, False
    earliest = plans.earliest
    if earliest is None or last < earliest:
        return 0, True
    low = earliest if first is None or first < earliest else first
    base = low.toordinal()
    levels, move = logged.levels, (0 if logged.base is None else logged.base - base)
    done_by_item: dict = {}
    due = missed = seen = 0
    for span_first, span_last, items in plans.spans(low, last):
        offset, count = span_first.toordinal() - base, (span_last - span_first).days + 1
        span = ((1 << count) - 1) << offset
        for item in items:
            key = item.item_key
            done = done_by_item.get(key)
            if done is None:
                found = levels.get(key)
                done = done_by_item[key] = shifted(found[0], move) if found else 0
            seen |= done & span
            if item.days_mask and not item.weekly:
                expected = weekday_pattern(span_first.weekday(), count, item.days_mask) << offset
                due |= expected
                missed |= expected & ~done
    counted = (due & ~missed) | (seen & ~due)
    today_bit = today.toordinal() - base
    breaks = missed & ~(1 << today_bit) if today_bit >= 0 else missed
    broken = breaks.bit_length() - 1  # the latest due day missed (-1: none)
    # The latest Sunday after it, before today, ending a week with a weekly stretch short.
    day = min(last, today - timedelta(days=1))
    sunday = day - timedelta(days=(day.weekday() + 1) % 7)
    while sunday >= low and sunday.toordinal() - base > broken:
        if _week_missed(plans, logged, sunday - timedelta(days=6)):
            broken = sunday.toordinal() - base
            break
        sunday -= timedelta(days=7)
    if broken >= 0:
        return (counted >> (broken + 1)).bit_count(), True
    return counted.bit_count(), low == earliest


def streak(plans: list[PlanSpec], sessions: list[LoggedSession], today: date) -> int:
    """The streak from the given sessions alone (all the history they hold)."""
    return walk(plans, Tally(sessions), today, today)[0]


def _week_missed(plans, logged, monday: date) -> bool:
    for stretch in week_stretches(plans, monday):
        if stretch.counted(logged.levels.get(stretch.item_key, ()), logged.base) < stretch.planned:
            return True
    return False
