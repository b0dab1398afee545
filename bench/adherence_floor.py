"""A floor for adherence over many patients in Python: the least per-patient Python that turns
the session rows into each patient's figures, for bench_adherence_scale.py's plan shape only.

What it does per patient: split the packed texts of one GROUP BY row, parse the dates through a
memo, and for each plan item count the done days (a days-of-week item: the due days logged; an
N-a-week item: days logged per week, capped at N) and the minutes; a streak of consecutive days
with a session; one answer dict with a dict per item. What it leaves out, and StandStrong does
not: plan versions, pauses, items starting or ending inside the window, a week cut by the
window's start, the current week's quota, two sessions of an item on a day, the streak's rules
(due days, rest days, weekly misses) and its checkpoints. So its figures are not adherence;
its time is what Python costs before any of the rules. Not part of the product.

least_sql is the same counting (done sessions and minutes per plan item, the same simplifications)
done by the database instead, in one statement whose rows are already the figures: what moving
the counting out of Python would cost at least, before the rules and the streak.
"""
from collections import Counter
from datetime import date, timedelta
from itertools import compress

_EPOCH = date(1970, 1, 1).toordinal()


def _ordinal_of(text: str) -> int:
    """A date as the packed reads below give it: YYYY-MM-DD (SQLite) or days since 1970 (PostgreSQL)."""
    return date.fromisoformat(text).toordinal() if len(text) == 10 else _EPOCH + int(text)

_PACKED = {  # (patient, item ids, local dates, minutes, last start), one row per patient
    "sqlite": "SELECT patient_id, group_concat(coalesce(item_key, '')), group_concat(local_date), "
              "group_concat(CAST(duration_minutes AS TEXT)), max(started_at) FROM exercise_sessions "
              "WHERE deleted_at IS NULL AND local_date >= ? AND local_date <= ? GROUP BY patient_id",
    "postgresql": "SELECT CAST(patient_id AS TEXT), string_agg(coalesce(CAST(item_key AS TEXT), ''), ','), "
                  "string_agg(CAST((local_date - DATE '1970-01-01') AS TEXT), ','), string_agg(CAST(duration_minutes AS TEXT), ','), "
                  "max(started_at) FROM exercise_sessions WHERE deleted_at IS NULL AND local_date >= %s "
                  "AND local_date <= %s GROUP BY patient_id",
}
_ITEMS = ("SELECT CAST(plans.patient_id AS TEXT), CAST(plan_items.item_key AS TEXT), plan_items.sessions_per_week, "
          "plan_items.days_mask FROM plan_items JOIN plan_versions ON plan_versions.id = plan_items.version_id "
          "JOIN plans ON plans.id = plan_versions.plan_id")


def least_python(dbapi_connection, dialect: str, start: date, today: date) -> dict:
    """{patient id text: figures} over [start, today]: two statements on the driver's connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute(_ITEMS)
    items: dict = {}
    for patient, key, per_week, mask in cursor.fetchall():
        items.setdefault(patient, []).append((key, per_week or 0, mask or 0))
    cursor.execute(_PACKED[dialect], (start.isoformat(), today.isoformat()))
    rows = cursor.fetchall()
    parsed, due_days = {}, {}
    monday = start - timedelta(days=start.weekday())
    weeks = (today - monday).days // 7 + 1
    month_ago = today - timedelta(days=30)
    out = {}
    for patient, keys_text, days_text, minutes_text, last in rows:
        keys = keys_text.split(",")
        days = [parsed.get(t) or parsed.setdefault(t, date.fromordinal(_ordinal_of(t))) for t in days_text.split(",")]
        minutes = list(map(int, minutes_text.split(",")))
        answers, due_all, done_all = [], 0, 0
        for key, per_week, mask in items.get(patient, ()):
            chosen = list(map(key.__eq__, keys))
            logged = set(compress(days, chosen))
            if per_week:
                by_week = Counter((day - monday).days // 7 for day in logged)
                done, due = sum(min(per_week, n) for n in by_week.values()), per_week * weeks
            else:
                due_on = due_days.get(mask)
                if due_on is None:
                    due_on = due_days[mask] = frozenset(
                        start + timedelta(days=k) for k in range((today - start).days + 1)
                        if mask >> (start + timedelta(days=k)).weekday() & 1)
                done, due = len(due_on & logged), len(due_on)
            answers.append({"item_key": key, "expected_sessions": due, "completed_sessions": done,
                            "session_rate": round(done / due, 4) if due else None,
                            "logged_minutes": sum(compress(minutes, chosen))})
            due_all += due
            done_all += done
        seen = set(days)
        streak, day = 0, today
        while day in seen:
            streak += 1
            day -= timedelta(days=1)
        out[patient] = {"expected_sessions": due_all, "completed_sessions": done_all,
                        "session_rate": round(done_all / due_all, 4) if due_all else None,
                        "logged_minutes": sum(minutes), "sessions_logged": len(days),
                        "days_with_data_last_30": sum(1 for d in seen if d > month_ago),
                        "current_streak_days": streak, "last_session_at": last, "items": answers}
    return out


# Weeks and weekdays in SQL, Monday first (2000-01-03 was a Monday; every bench date is later).
_WEEKDAY = {"sqlite": "((CAST(strftime('%w', s.local_date) AS INTEGER) + 6) % 7)",
            "postgresql": "(CAST(EXTRACT(ISODOW FROM s.local_date) AS INTEGER) - 1)"}
_WEEK = {"sqlite": "CAST((julianday(s.local_date) - julianday('2000-01-03')) / 7 AS INTEGER)",
         "postgresql": "((s.local_date - DATE '2000-01-03') / 7)"}
_MARK = {"sqlite": "?", "postgresql": "%s"}


def _counted_sql(dialect: str) -> str:
    # Per patient, item and week: the distinct days logged, and of them the item's weekdays (a
    # days-of-week item); then per patient and item, a week's days capped at N (an N-a-week item)
    # or its due days logged. The join reads each item key once: one plan version (the bench's).
    weekday, week, mark = _WEEKDAY[dialect], _WEEK[dialect], _MARK[dialect]
    return f"""
WITH per_week AS (
  SELECT s.patient_id, s.item_key, i.sessions_per_week AS n, {week} AS week,
         count(DISTINCT CASE WHEN (i.days_mask >> {weekday}) & 1 = 1 THEN s.local_date END) AS due_done,
         count(DISTINCT s.local_date) AS days, sum(s.duration_minutes) AS minutes
  FROM exercise_sessions s JOIN plan_items i ON i.item_key = s.item_key
  WHERE s.deleted_at IS NULL AND s.local_date >= {mark} AND s.local_date <= {mark}
  GROUP BY s.patient_id, s.item_key, i.sessions_per_week, {week})
SELECT patient_id, item_key,
       sum(CASE WHEN n IS NULL THEN due_done WHEN days < n THEN days ELSE n END), sum(minutes)
FROM per_week GROUP BY patient_id, item_key"""


def least_sql(dbapi_connection, dialect: str, start: date, today: date) -> list:
    """[(patient id, item key, done sessions, logged minutes)] over [start, today]: one statement."""
    cursor = dbapi_connection.cursor()
    cursor.execute(_counted_sql(dialect), (start.isoformat(), today.isoformat()))
    return cursor.fetchall()
