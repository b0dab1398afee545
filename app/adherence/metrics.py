"""Adherence as pure functions over what the plans expect and what was logged.

What counts is decided in app/plans/schedule.py (the one counting rule). Here:
- Per item: expected and completed sessions, their rate, minutes prescribed (for the sessions
  expected) and minutes logged (every session of the item in the window).
- Per patient: the sums, sessions logged and minutes logged in the window (off-plan sessions
  included: they count for minutes and days with data, never against the plan), the streak,
  the last session, and the days with any session in the last 30 days.
"""
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate, islice, repeat
from operator import gt, itemgetter

from app.plans.schedule import Calendar, PlanSpec, calendar, week_stretches, window


@dataclass(frozen=True)
class LoggedSession:
    item_key: object
    local_date: date
    minutes: int
    started_at: datetime


_NONE: dict = {}
_DAY_OF, _MINUTES_OF = itemgetter(0), itemgetter(1)  # of a window's (date, minutes)
_ZEROS = repeat(0)  # endless and stateless: shared


def _columns(rows) -> tuple[list, list, dict]:
    """(dates, minutes, {item_key: ([dates], [minutes])}) of (item_key or None, date, minutes) rows."""
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
    """One patient's logged sessions, for any number of windows: by_item counts them by item and
    day ({item_key: {date: sessions}}, planned sessions only); a window's sessions, minutes and
    days with data are two bisections in the sessions sorted by day, built on the first read.

    Built from columns (parallel lists, C-speed: no Python step per session) so that the sessions
    of many patients load cheaply (app/adherence/loading.py reads them packed per patient)."""

    __slots__ = ("by_item", "_days", "_minutes", "_items", "_running")

    def __init__(self, sessions=()):
        self._fill(*_columns((s.item_key, s.local_date, s.minutes) for s in sessions))

    @classmethod
    def of_rows(cls, rows) -> "Tally":
        """The sessions as (item_key or None, date, minutes)."""
        tally = cls.__new__(cls)
        tally._fill(*_columns(rows))
        return tally

    @classmethod
    def of_columns(cls, days: list, minutes: list, groups: dict) -> "Tally":
        """The sessions as columns: their dates and minutes (off-plan ones included) and, per
        item_key, ([dates], [minutes]) of that item's sessions."""
        tally = cls.__new__(cls)
        tally._fill(days, minutes, groups)
        return tally

    def _fill(self, days: list, minutes: list, groups: dict) -> None:
        by_item = {}
        for key, (item_days, _m) in groups.items():
            counts = dict.fromkeys(item_days, 1)
            if len(counts) != len(item_days):  # two sessions of the item on a day
                counts = dict(Counter(item_days))
            by_item[key] = counts
        self.by_item = by_item
        self._days, self._minutes, self._items = days, minutes, groups
        self._running: dict = {}

    def _sorted(self, name, days: list, minutes: list) -> tuple:
        # (dates sorted, running minutes): dates repeat, once per session, so bisect_right(end)
        # minus bisect_left(start) is the window's sessions, and the running totals' difference its minutes.
        found = self._running.get(name)
        if found is None:
            if days and any(map(gt, days, islice(days, 1, None))):  # not in date order yet
                order = sorted(range(len(days)), key=days.__getitem__)
                days, minutes = list(map(days.__getitem__, order)), list(map(minutes.__getitem__, order))
            found = self._running[name] = (days, [0, *accumulate(minutes)])
        return found

    def _bounds(self, days: list, start: date, end: date) -> tuple[int, int]:
        return bisect_left(days, start), bisect_right(days, end)

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


_DISTINCT = object()  # Tally._running: the distinct dates


def _rate(done: int, due: int) -> float | None:
    return round(done / due, 4) if due else None


def item_metrics(plans: list[PlanSpec] | Calendar, sessions: list[LoggedSession] | Tally, start: date, end: date,
                 today: date | None = None) -> dict:
    expectations = window(plans, start, end, end if today is None else today)
    tally = sessions if isinstance(sessions, Tally) else Tally(sessions)
    items = {}
    for key, entry in expectations.items():
        # Only the window's own days are looked up: the counts of other days are never read.
        per_day = tally.by_item.get(key, _NONE)
        fixed = entry.fixed
        done = sum(map(bool, map(per_day.get, map(_DAY_OF, fixed), _ZEROS))) if per_day else 0
        due = len(fixed)
        minutes = sum(map(_MINUTES_OF, fixed))
        for run_days, weeks, per_week, cap, spent in entry.runs:  # whole past weeks, each planning N
            if per_day:
                found = map(per_day.get, run_days, _ZEROS)
                capped = map(bool, found) if cap == 1 else map(min, found, repeat(cap))
                done += sum(map(min, map(sum, zip(*[capped] * 7)), repeat(per_week)))
            due += per_week * weeks
            minutes += per_week * weeks * spent
        for quota in entry.quotas:
            counted = quota.counted(per_day)
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


def walk(plans: list[PlanSpec] | Calendar, by_item: dict, today: date, last: date,
         first: date | None = None) -> tuple[int, bool]:
    """The streak counted back from `last` to `first` (None: to the first plan's start).

    Returns (days counted, ended): ended when the streak stops inside the range; otherwise it
    goes on before `first`. `by_item` is a Tally's by_item ({item_key: {date: sessions}}); it
    must hold every day from the Monday of first's week (a past week is judged whole on its Sunday).

    The rule: a day with days-of-week items due meets the plan when each of them was done. A day
    with nothing due counts when a session for an item in force that day was logged, and is passed
    over otherwise (rest days, pauses, days between plans). The streak breaks on a due day not met,
    and on the Sunday of a past week in which an N-per-week stretch got fewer sessions than it
    planned. Today, still in progress, breaks nothing. It ends at the first plan's start.
    """
    plans = calendar(plans)
    count = 0
    day = last
    earliest = plans.earliest
    segment_first = None  # the first day of the segment whose items are in `resolved`
    while first is None or day >= first:
        if earliest is None:
            return count, True
        weekday = day.weekday()
        if weekday == 6 and day < today and _week_missed(plans, by_item, day - timedelta(days=6)):
            return count, True
        if segment_first is None or day < segment_first:
            # Per segment, not per day: each item's {date: sessions} and days-of-week mask.
            segment_first, items = plans.segment_of(day)
            resolved = [(by_item.get(i.item_key, _NONE), None if i.weekly else i.days_mask) for i in items]
        due = missed = logged = False
        bit = 1 << weekday
        for per_day, mask in resolved:
            fixed = mask is not None and bool(mask & bit)  # a days-of-week item due that day
            if per_day.get(day):
                logged = True
            elif fixed:
                missed = True
            due = due or fixed
        if due:
            if not missed:
                count += 1
            elif day != today:
                return count, True
        elif logged:
            count += 1
        if day <= earliest:
            return count, True
        day -= timedelta(days=1)
    return count, False


def streak(plans: list[PlanSpec], sessions: list[LoggedSession], today: date) -> int:
    """The streak from the given sessions alone (all the history they hold)."""
    return walk(plans, Tally(sessions).by_item, today, today)[0]


def _week_missed(plans, by_item, monday: date) -> bool:
    for stretch in week_stretches(plans, monday):
        if stretch.counted(by_item.get(stretch.item_key, _NONE)) < stretch.planned:
            return True
    return False
