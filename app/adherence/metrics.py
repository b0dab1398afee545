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
from itertools import accumulate

from app.plans.schedule import Calendar, PlanSpec, calendar, week_stretches, window


@dataclass(frozen=True)
class LoggedSession:
    item_key: object
    local_date: date
    minutes: int
    started_at: datetime


_NONE: dict = {}


class Tally:
    """One patient's logged sessions counted by day once, for any number of windows. Sums over
    a window are two bisections in running totals built on the first read (add nothing after)."""

    __slots__ = ("by_item", "item_minutes", "sessions", "minutes", "_running")

    def __init__(self, sessions=()):
        self.by_item: dict = {}       # {item_key: {date: sessions}} (planned sessions)
        self.item_minutes: dict = {}  # {item_key: {date: minutes}}
        self.sessions: dict = {}      # {date: sessions} (off-plan ones included)
        self.minutes: dict = {}       # {date: minutes}
        self._running: dict = {}
        if sessions:
            self.add_all((s.item_key, s.local_date, s.minutes) for s in sessions)

    def add_all(self, rows) -> None:
        """add() for each (item_key, date, minutes), with the dictionaries' methods bound once
        and each item's two counts found with one look-up (item keys are UUIDs: hashing one is
        a Python call)."""
        sessions, minutes_by_day, by_item, item_minutes = self.sessions, self.minutes, self.by_item, self.item_minutes
        count_of, minutes_of = sessions.get, minutes_by_day.get
        items: dict = {}  # item_key -> (its {date: sessions}, its {date: minutes})
        for item_key, day, minutes in rows:
            sessions[day] = count_of(day, 0) + 1
            minutes_by_day[day] = minutes_of(day, 0) + minutes
            if item_key is not None:
                both = items.get(item_key)
                if both is None:
                    both = items[item_key] = (by_item.setdefault(item_key, {}), item_minutes.setdefault(item_key, {}))
                counts, per_day = both
                counts[day] = counts.get(day, 0) + 1
                per_day[day] = per_day.get(day, 0) + minutes

    def _sum(self, name, per_day: dict, start: date, end: date) -> int:
        found = self._running.get(name)
        if found is None:
            days = sorted(per_day)
            found = self._running[name] = (days, [0, *accumulate(map(per_day.__getitem__, days))])
        days, totals = found
        return totals[bisect_right(days, end)] - totals[bisect_left(days, start)]

    def sessions_within(self, start: date, end: date) -> int:
        return self._sum("sessions", self.sessions, start, end)

    def minutes_within(self, start: date, end: date, item_key=None) -> int:
        if item_key is None:
            return self._sum("minutes", self.minutes, start, end)
        return self._sum(item_key, self.item_minutes.get(item_key, _NONE), start, end)

    def days_within(self, start: date, end: date) -> int:
        """Days with any session."""
        self._sum("sessions", self.sessions, start, end)
        days = self._running["sessions"][0]
        return bisect_right(days, end) - bisect_left(days, start)

    def add(self, item_key, day: date, minutes: int) -> None:
        self.sessions[day] = self.sessions.get(day, 0) + 1
        self.minutes[day] = self.minutes.get(day, 0) + minutes
        if item_key is not None:
            counts = self.by_item.get(item_key)
            if counts is None:
                counts = self.by_item[item_key] = {}
                self.item_minutes[item_key] = {}
            counts[day] = counts.get(day, 0) + 1
            item_minutes = self.item_minutes[item_key]
            item_minutes[day] = item_minutes.get(day, 0) + minutes


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
        done = len([None for day, _ in entry.fixed if per_day.get(day)])
        due = len(entry.fixed)
        minutes = sum([m for _, m in entry.fixed])
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
    due = sum(i["expected_sessions"] for i in items.values())
    done = sum(i["completed_sessions"] for i in items.values())
    last_30 = today - timedelta(days=29)
    if not isinstance(sessions, Tally):
        if streak_days is None:
            streak_days = streak(plans, sessions, today)
        if last_session_at is None:
            last_session_at = max((s.started_at for s in sessions), default=None)
    return {
        "date_from": start, "date_to": end,
        "expected_sessions": due, "completed_sessions": done, "session_rate": _rate(done, due),
        "prescribed_minutes": sum(i["prescribed_minutes"] for i in items.values()),
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
    while first is None or day >= first:
        if earliest is None:
            return count, True
        if day.weekday() == 6 and day < today and _week_missed(plans, by_item, day - timedelta(days=6)):
            return count, True
        due = missed = logged = False
        for item, fixed in plans.entries(day):  # fixed: a days-of-week item due that day
            if by_item.get(item.item_key, _NONE).get(day):
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
