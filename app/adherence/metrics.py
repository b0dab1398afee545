"""Adherence as pure functions over what the plans expect and what was logged.

Counting rules (the same for one patient and for thousands):
- Days-of-week item: each expected day is done when a session for that item was logged on
  that patient-local day. Sessions on other days, or a second one the same day, are extra.
- N-per-week item: in each week, the distinct days with a session for the item count, up to
  what that week expects. Extra sessions never push a rate above 100%.
- The current week expects only what must already be done for its quota to stay reachable
  (the quota minus the days left after the window's end); a patient ahead of that pace
  is on target, not above 100%.
- Off-plan sessions count for minutes and for days with data, never against the plan.
"""
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.plans.schedule import PlanSpec, days, expected, week_start


@dataclass(frozen=True)
class LoggedSession:
    item_key: object
    local_date: date
    minutes: int
    started_at: datetime


def _rate(done: int, due: int) -> float | None:
    return round(done / due, 4) if due else None


def item_metrics(plans: list[PlanSpec], sessions: list[LoggedSession], start: date, end: date) -> dict:
    expectations = expected(plans, start, end, today=end)
    by_item: dict = {}
    for s in sessions:
        if start <= s.local_date <= end and s.item_key is not None:
            by_item.setdefault(s.item_key, []).append(s)
    items = {}
    for key, entry in expectations.items():
        logged = by_item.get(key, [])
        days_logged = {s.local_date for s in logged}
        days_per_week = Counter(week_start(d) for d in days_logged)
        done = sum(1 for d in entry["fixed_days"] if d in days_logged)
        due = len(entry["fixed_days"])
        weekly_due = 0
        for week, (week_due, quota) in entry["weeks"].items():
            week_done = min(quota, days_per_week[week])
            done += week_done
            weekly_due += max(week_due, week_done)  # ahead of pace in the current week: on target
        due += weekly_due
        items[key] = {
            "item_key": key, "exercise_id": entry["item"].exercise_id, "plan_id": entry["item"].plan_id,
            "expected_sessions": due, "completed_sessions": done, "session_rate": _rate(done, due),
            "prescribed_minutes": entry["minutes_expected"] + weekly_due * entry["item"].minutes,
            "logged_minutes": sum(s.minutes for s in logged),
        }
    return items


def session_rate(plans: list[PlanSpec], sessions: list[LoggedSession], start: date, end: date) -> dict:
    """Only the session counts of patient_metrics (no minutes, no streak): for callers that
    evaluate many windows for many patients."""
    items = item_metrics(plans, sessions, start, end)
    due = sum(i["expected_sessions"] for i in items.values())
    done = sum(i["completed_sessions"] for i in items.values())
    return {"expected_sessions": due, "completed_sessions": done, "session_rate": _rate(done, due)}


def patient_metrics(plans: list[PlanSpec], sessions: list[LoggedSession], start: date, end: date,
                    today: date) -> dict:
    items = item_metrics(plans, sessions, start, end)
    due = sum(i["expected_sessions"] for i in items.values())
    done = sum(i["completed_sessions"] for i in items.values())
    in_window = [s for s in sessions if start <= s.local_date <= end]
    last_30 = today - timedelta(days=29)
    return {
        "date_from": start, "date_to": end,
        "expected_sessions": due, "completed_sessions": done, "session_rate": _rate(done, due),
        "prescribed_minutes": sum(i["prescribed_minutes"] for i in items.values()),
        "logged_minutes": sum(s.minutes for s in in_window),
        "sessions_logged": len(in_window),
        "current_streak_days": streak(plans, sessions, today),
        "last_session_at": max((s.started_at for s in sessions), default=None),
        "days_with_data_last_30": len({s.local_date for s in sessions if last_30 <= s.local_date <= today}),
        "items": list(items.values()),
    }


def streak(plans: list[PlanSpec], sessions: list[LoggedSession], today: date, horizon: int = 366) -> int:
    """Days in a row, back from today, that met the plan.

    A day with days-of-week items due meets the plan when all of them were done. A day with
    nothing due counts when a planned session was logged, and is passed over otherwise. The
    streak breaks on a due day not met, and at the end of a past week whose N-per-week quota
    was missed. Today, still in progress, breaks nothing.
    """
    logged: dict = {}
    for s in sessions:
        if s.item_key is not None:
            logged.setdefault(s.local_date, set()).add(s.item_key)
    count = 0
    for offset in range(horizon):
        day = today - timedelta(days=offset)
        items = [i for plan in plans for i in plan.items_on(day)]
        done = logged.get(day, set())
        if day.weekday() == 6 and day < today and _weekly_missed(plans, logged, day):
            break
        due = [i for i in items if not i.weekly and i.fixed_on(day)]
        if due:
            if all(i.item_key in done for i in due):
                count += 1
            elif day != today:
                break
        elif any(i.item_key in done for i in items):
            count += 1
        if not any(plan.start_date <= day for plan in plans):
            break
    return count


def _weekly_missed(plans, logged, sunday: date) -> bool:
    monday = sunday - timedelta(days=6)
    week = expected(plans, monday, sunday)
    for key, entry in week.items():
        for due, _quota in entry["weeks"].values():
            if sum(1 for d in days(monday, sunday) if key in logged.get(d, ())) < due:
                return True
    return False
