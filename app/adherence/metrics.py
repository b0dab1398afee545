"""Adherence as pure functions over what the plans expect and what was logged.

What counts is decided in app/plans/schedule.py (the one counting rule). Here:
- Per item: expected and completed sessions, their rate, minutes prescribed (for the sessions
  expected) and minutes logged (every session of the item in the window).
- Per patient: the sums, sessions logged and minutes logged in the window (off-plan sessions
  included: they count for minutes and days with data, never against the plan), the streak,
  the last session, and the days with any session in the last 30 days.
"""
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.plans.schedule import PlanSpec, in_force, week_stretches, window


@dataclass(frozen=True)
class LoggedSession:
    item_key: object
    local_date: date
    minutes: int
    started_at: datetime


def _rate(done: int, due: int) -> float | None:
    return round(done / due, 4) if due else None


def item_metrics(plans: list[PlanSpec], sessions: list[LoggedSession], start: date, end: date,
                 today: date | None = None) -> dict:
    expectations = window(plans, start, end, end if today is None else today)
    by_item: dict = {}
    for s in sessions:
        if start <= s.local_date <= end and s.item_key is not None:
            by_item.setdefault(s.item_key, []).append(s)
    items = {}
    for key, entry in expectations.items():
        logged = by_item.get(key, [])
        per_day = Counter(s.local_date for s in logged)
        done = sum(1 for day, _ in entry.fixed if per_day[day])
        due = len(entry.fixed)
        minutes = sum(m for _, m in entry.fixed)
        for quota in entry.quotas:
            counted = quota.counted(per_day)
            expected = max(quota.due, counted)  # ahead of pace in the current week: on target
            done += counted
            due += expected
            minutes += expected * quota.stretch.minutes
        items[key] = {
            "item_key": key, "exercise_id": entry.item.exercise_id, "plan_id": entry.item.plan_id,
            "expected_sessions": due, "completed_sessions": done, "session_rate": _rate(done, due),
            "prescribed_minutes": minutes, "logged_minutes": sum(s.minutes for s in logged),
        }
    return items


def patient_metrics(plans: list[PlanSpec], sessions: list[LoggedSession], start: date, end: date,
                    today: date, streak_days: int | None = None, last_session_at=None) -> dict:
    """The metrics of [start, end] (end <= today). streak_days and last_session_at come from the
    whole history (app/adherence/streaks.py); without them they are read from `sessions`."""
    items = item_metrics(plans, sessions, start, end, today)
    due = sum(i["expected_sessions"] for i in items.values())
    done = sum(i["completed_sessions"] for i in items.values())
    in_window = [s for s in sessions if start <= s.local_date <= end]
    last_30 = today - timedelta(days=29)
    if streak_days is None:
        streak_days = streak(plans, sessions, today)
    if last_session_at is None:
        last_session_at = max((s.started_at for s in sessions), default=None)
    return {
        "date_from": start, "date_to": end,
        "expected_sessions": due, "completed_sessions": done, "session_rate": _rate(done, due),
        "prescribed_minutes": sum(i["prescribed_minutes"] for i in items.values()),
        "logged_minutes": sum(s.minutes for s in in_window),
        "sessions_logged": len(in_window),
        "current_streak_days": streak_days,
        "last_session_at": last_session_at,
        "days_with_data_last_30": len({s.local_date for s in sessions if last_30 <= s.local_date <= today}),
        "items": list(items.values()),
    }


def logged_by_day(sessions: list[LoggedSession]) -> dict:
    """{date: Counter(item_key: sessions)} of the planned sessions."""
    out: dict = {}
    for s in sessions:
        if s.item_key is not None:
            out.setdefault(s.local_date, Counter())[s.item_key] += 1
    return out


def walk(plans: list[PlanSpec], logged: dict, today: date, last: date, first: date | None = None) -> tuple[int, bool]:
    """The streak counted back from `last` to `first` (None: to the first plan's start).

    Returns (days counted, ended): ended when the streak stops inside the range; otherwise it
    goes on before `first`. `logged` is logged_by_day(); it must hold every day from the Monday
    of first's week (a past week is judged whole on its Sunday).

    The rule: a day with days-of-week items due meets the plan when each of them was done. A day
    with nothing due counts when a session for an item in force that day was logged, and is passed
    over otherwise (rest days, pauses, days between plans). The streak breaks on a due day not met,
    and on the Sunday of a past week in which an N-per-week stretch got fewer sessions than it
    planned. Today, still in progress, breaks nothing. It ends at the first plan's start.
    """
    count = 0
    day = last
    earliest = min((p.start_date for p in plans), default=None)
    while first is None or day >= first:
        if earliest is None:
            return count, True
        done = logged.get(day, {})
        if day.weekday() == 6 and day < today and _week_missed(plans, logged, day - timedelta(days=6)):
            return count, True
        items = in_force(plans, day)
        due = [i for i in items if not i.weekly and i.fixed_on(day)]
        if due:
            if all(done.get(i.item_key) for i in due):
                count += 1
            elif day != today:
                return count, True
        elif any(done.get(i.item_key) for i in items):
            count += 1
        if day <= earliest:
            return count, True
        day -= timedelta(days=1)
    return count, False


def streak(plans: list[PlanSpec], sessions: list[LoggedSession], today: date) -> int:
    """The streak from the given sessions alone (all the history they hold)."""
    return walk(plans, logged_by_day(sessions), today, today)[0]


def _week_missed(plans, logged, monday: date) -> bool:
    for stretch in week_stretches(plans, monday):
        per_day = {d: logged.get(d, {}).get(stretch.item_key, 0) for d in stretch.days}
        if stretch.counted(per_day) < stretch.planned:
            return True
    return False
