"""Adherence for one patient or many, with a fixed number of queries; the agenda; the weekly summary.
What counts is decided once, in app/plans/schedule.py."""
from datetime import date, datetime, timedelta

from sqlalchemy import select

from app.adherence import loading, streaks
from app.adherence.metrics import patient_metrics
from app.access.policy import READ, patient_for
from app.common.batches import collector_paused
from app.common.clinical import threshold
from app.common.clock import local_date, local_today
from app.common.i18n import choose_language
from app.errors import ApiError
from app.exercises.service import ServedExercise, exercises_by_id
from app.patients.models import Patient
from app.plans.loading import core_rows, known_uuid
from app.plans.schedule import days, levels_of, stretch_on, week_start, week_stretches, window
from app.sessions import content

DATA_DAYS = 30  # days_with_data_last_30


def _patients_and_zones(patient_ids) -> list:
    """(id, time_zone) of the patients; the ids from the memo the batch's other reads use, so
    that its many look-ups by patient find the same objects (no UUID.__eq__)."""
    return core_rows(select(known_uuid(Patient.id, "id"), Patient.time_zone)
                     .where(Patient.id.in_(patient_ids))).all()


def _history(patient_ids, todays: dict, earliest: date) -> streaks.History:
    return streaks.load(patient_ids, todays, min(earliest, min(todays.values()) - timedelta(days=DATA_DAYS - 1)))


def _history_one(patient_id, today: date, earliest: date) -> streaks.History:
    return streaks.load_one(patient_id, today, min(earliest, today - timedelta(days=DATA_DAYS - 1)))


def _metrics(history: streaks.History, patient_id, start: date, end: date, today: date) -> dict:
    return patient_metrics(history.calendar(patient_id), history.tally(patient_id), start, end,
                           today, history.streaks[patient_id], history.last_session_at.get(patient_id))


def adherence_many(patient_ids, window_days: int) -> dict:
    """{patient_id: metrics over the last window_days (patient-local, ending today)}.

    patient_ids may be a list or a SELECT of ids. At most seven queries whatever the number of
    patients (streaks.load).
    """
    patients = _patients_and_zones(patient_ids)
    todays = {p.id: local_today(p.time_zone) for p in patients}
    if not todays:
        return {}
    with collector_paused():
        history = _history(patient_ids, todays, min(todays.values()) - timedelta(days=window_days - 1))
        result = {pid: _metrics(history, pid, today - timedelta(days=window_days - 1), today, today)
                  for pid, today in todays.items()}
        # Freed here, by reference counting: the collector's first pass after the block then
        # walks only the result, not the batch's whole History as well.
        del history
    return result


# --- for callers that read many windows of many patients (rules, the caseload) ------------

def history_many(patient_ids, now: datetime, days_back: int) -> tuple[dict, streaks.History | None]:
    """({patient_id: local today at `now`}, their History with sessions from days_back days before
    the earliest today, streaks and last sessions however old). patient_ids: a list, or a SELECT
    of ids (e.g. scoped by the access policy). At most seven queries whatever the number of
    patients; window_metrics then reads it without a query."""
    patients = _patients_and_zones(patient_ids)
    todays = {p.id: local_date(now, p.time_zone) for p in patients}
    if not todays:
        return {}, None
    return todays, _history(list(todays), todays, min(todays.values()) - timedelta(days=days_back))


def window_metrics(history: streaks.History, patient_id, start: date, end: date, today: date) -> dict:
    """The metrics of [start, end] (end <= today) of one patient of history_many, as the
    adherence endpoint counts them, plus `days_with_data`: days in the window with any session.
    start must not be before history.loaded_from."""
    if start < history.loaded_from:
        raise ValueError("the window starts before the loaded sessions")
    metrics = _metrics(history, patient_id, start, end, today)
    metrics["days_with_data"] = history.tally(patient_id).days_within(start, end)
    return metrics


def last_session_at_many(patient_ids, now: datetime) -> dict:
    """{patient_id: when their latest session started}, however old; one query."""
    return loading.last_started(list(patient_ids), (now + timedelta(days=2)).date())


def adherence(actor, patient_ref, args: dict | None = None) -> dict:
    args = args or {}
    patient = patient_for(actor, patient_ref, READ)
    today = local_today(patient.time_zone)
    if args.get("date_from") or args.get("date_to"):
        start, end = args.get("date_from"), min(args.get("date_to") or today, today)
        if start is None or start > end or (end - start).days > 366:
            raise ApiError(422, "Give from (on or before today) and to (to defaults to today; a later one "
                                "counts up to today), at most a year apart.",
                           errors={"from": ["from must be on or before to and today, within 366 days."]})
    else:
        end = today
        start = today - timedelta(days=args.get("window", 30) - 1)
    history = _history_one(patient.id, today, start)
    metrics = _metrics(history, patient.id, start, end, today)
    mark = threshold("adherent_session_rate")
    metrics["adherent"] = None if metrics["session_rate"] is None else metrics["session_rate"] >= mark
    metrics["adherent_threshold"] = mark
    metrics["remote_monitoring_days_threshold"] = threshold("remote_monitoring_days")
    return metrics


def _week_planned(specs, monday: date) -> int:
    """Everything the week plans, as the plans now stand (its days still to come included)."""
    sunday = monday + timedelta(days=6)
    fixed = sum(entry.fixed_due for entry in window(specs, monday, sunday, sunday).values())
    return fixed + sum(stretch.planned for stretch in week_stretches(specs, monday))


def _weekly_line(planned_week: int, due: int, done: int, language: str) -> str:
    messages = content.weekly_messages()
    if planned_week == 0:
        return messages["none_planned"][language]
    if due == 0:  # the current week, with every session still ahead
        return messages["all_ahead"][language].format(planned=planned_week)
    return next(m[language] for m in messages["by_rate"] if done / due >= m["min_rate"])


def weekly_summary(actor, patient_ref, week: date | None = None, language: str | None = None) -> dict:
    patient = patient_for(actor, patient_ref, READ)
    today = local_today(patient.time_zone)
    monday = week_start(week or today)
    sunday = monday + timedelta(days=6)
    end = min(sunday, today)
    if monday > today:
        raise ApiError(422, "That week has not started.", errors={"week": ["Not in the future."]})
    history = _history_one(patient.id, today, monday)
    metrics = _metrics(history, patient.id, monday, end, today)
    planned_week = _week_planned(history.specs.get(patient.id, []), monday)
    language = choose_language(language, patient.language)
    planned, done = metrics["expected_sessions"], metrics["completed_sessions"]
    return {"week_start": monday, "week_end": sunday, "complete": sunday < today, "language": language,
            "planned_sessions": planned, "week_planned_sessions": planned_week,
            "completed_sessions": done, "session_rate": metrics["session_rate"],
            "prescribed_minutes": metrics["prescribed_minutes"], "logged_minutes": metrics["logged_minutes"],
            "current_streak_days": metrics["current_streak_days"],
            "message": _weekly_line(planned_week, planned, done, language)}


# --- the agenda ---------------------------------------------------------------------------

def _agenda_items(specs, day: date, logged_by_day: dict, stretches: list, exercises: dict,
                  language: str) -> list[dict]:
    items = []
    for spec in specs:
        for item in spec.items_on(day):
            if not item.weekly and not item.fixed_on(day):
                continue
            done_today = logged_by_day.get((day, item.item_key), ())  # [minutes]
            entry = {
                "plan_id": spec.plan_id, "item_id": item.item_id, "item_key": item.item_key,
                "exercise": ServedExercise(exercises[item.exercise_id], language),
                "minutes": item.minutes, "time_of_day": item.time_of_day,
                "schedule": "weekly" if item.weekly else "days_of_week",
                "done_sessions": len(done_today), "done_minutes": sum(done_today),
                "done": bool(done_today),
            }
            if item.weekly:
                stretch = stretch_on(specs, item, day, stretches)
                base = stretch.week.toordinal()
                levels = levels_of([d.toordinal() - base for d in stretch.days
                                    for _ in logged_by_day.get((d, item.item_key), ())])
                done_week = stretch.counted(levels, base, through=day)
                entry |= {"sessions_per_week": item.sessions_per_week, "planned_this_week": stretch.planned,
                          "done_this_week": done_week, "remaining_this_week": stretch.planned - done_week}
            items.append(entry)
    items.sort(key=lambda i: (i["time_of_day"] or "99:99", i["exercise"].exercise.slug))
    return items


def _agenda_data(patient, start: date, end: date):
    specs, by_day, library = loading.agenda_data(patient.id, week_start(start), end)
    needed = {item.exercise_id for spec in specs for _n, _d, items in spec.versions for item in items}
    exercises = exercises_by_id(needed, library)
    return specs, by_day, week_stretches(specs, week_start(start)), exercises


def agenda(actor, patient_ref, day: date | None = None, language: str | None = None) -> dict:
    """What is due on the patient's local date (default today), with what is done so far.
    A fixed number of queries, whatever the number of plans and items."""
    patient = patient_for(actor, patient_ref, READ)
    today = local_today(patient.time_zone)
    day = day or today
    language = choose_language(language, patient.language)
    specs, by_day, stretches, exercises = _agenda_data(patient, day, day)
    return {"date": day, "today": today, "time_zone": patient.time_zone, "language": language,
            "paused": any(s.running_on(day) and s.paused_on(day) for s in specs),
            "items": _agenda_items(specs, day, by_day, stretches, exercises, language)}


def agenda_week(actor, patient_ref, start: date | None = None, language: str | None = None) -> dict:
    patient = patient_for(actor, patient_ref, READ)
    today = local_today(patient.time_zone)
    monday = week_start(start or today)
    sunday = monday + timedelta(days=6)
    language = choose_language(language, patient.language)
    specs, by_day, stretches, exercises = _agenda_data(patient, monday, sunday)
    return {"week_start": monday, "today": today, "time_zone": patient.time_zone, "language": language,
            "days": [{"date": d, "paused": any(s.running_on(d) and s.paused_on(d) for s in specs),
                      "items": _agenda_items(specs, d, by_day, stretches, exercises, language)}
                     for d in days(monday, sunday)]}
