"""Adherence for one patient or many, with a fixed number of queries; the agenda; the weekly summary."""
from datetime import date, datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, select

from app.adherence.metrics import LoggedSession, patient_metrics, streak
from app.access.policy import READ, patient_for
from app.common.clinical import threshold
from app.common.clock import local_date, local_today
from app.common.i18n import choose_language
from app.errors import ApiError
from app.exercises.models import Exercise
from app.exercises.service import exercise_view, exercises_by_id
from app.extensions import db
from app.patients.models import Patient
from app.plans import service as plans
from app.plans.schedule import days, week_start
from app.sessions import content
from app.sessions.models import ExerciseSession

STREAK_HORIZON_DAYS = 120


def _sessions_statement(ids):
    return (select(ExerciseSession.patient_id, ExerciseSession.item_key, ExerciseSession.local_date,
                   ExerciseSession.duration_minutes, ExerciseSession.started_at)
            .where(ExerciseSession.patient_id.in_(ids), ExerciseSession.deleted_at.is_(None),
                   ExerciseSession.local_date >= bindparam("start"), ExerciseSession.local_date <= bindparam("end")))


@cache
def _sessions_for_listed_ids():
    # Built once: on the agenda's hot path, building a statement costs more than running it.
    return _sessions_statement(bindparam("ids", expanding=True))


def _sessions(patient_ids, start: date, end: date) -> dict:
    """{patient_id: [LoggedSession]} in [start, end], one query."""
    params = {"start": start, "end": end}
    if isinstance(patient_ids, (list, tuple, set)):
        stmt, params["ids"] = _sessions_for_listed_ids(), list(patient_ids)
    else:
        stmt = _sessions_statement(patient_ids)
    rows = db.session.execute(stmt, params)
    out: dict = {}
    for row in rows:
        out.setdefault(row.patient_id, []).append(
            LoggedSession(row.item_key, row.local_date, row.duration_minutes, row.started_at))
    return out


def inputs_many(patient_ids, days_back: int, now: datetime | None = None) -> tuple[dict, dict, dict]:
    """What the metrics need for many patients, in a fixed number of queries:
    ({patient_id: local today}, {patient_id: [PlanSpec]}, {patient_id: [LoggedSession]}),
    sessions from days_back days before the earliest today. `now` (default: the clock)
    decides each patient's today."""
    patients = db.session.execute(select(Patient.id, Patient.time_zone).where(Patient.id.in_(patient_ids))).all()
    todays = {p.id: local_date(now, p.time_zone) if now else local_today(p.time_zone) for p in patients}
    if not todays:
        return {}, {}, {}
    latest = max(todays.values())
    earliest = min(todays.values()) - timedelta(days=days_back)
    return todays, plans.load_specs(patient_ids), _sessions(patient_ids, earliest, latest)


def last_sessions(patient_ids) -> dict:
    """{patient_id: (started_at, local_date) of the latest session}, however old; one query
    (a correlated subquery per patient that walks the (patient_id, local_date) index backwards)."""
    latest = (select(ExerciseSession.id).where(ExerciseSession.patient_id == Patient.id,
                                               ExerciseSession.deleted_at.is_(None))
              .order_by(ExerciseSession.local_date.desc(), ExerciseSession.started_at.desc())
              .limit(1).correlate(Patient).scalar_subquery())
    rows = db.session.execute(
        select(Patient.id, ExerciseSession.started_at, ExerciseSession.local_date)
        .join(ExerciseSession, ExerciseSession.id == latest).where(Patient.id.in_(patient_ids)))
    return {pid: (started_at, day) for pid, started_at, day in rows}


def adherence_many(patient_ids, window_days: int) -> dict:
    """{patient_id: metrics over the last window_days (patient-local, ending today)}.

    patient_ids may be a list or a SELECT of ids. Four queries whatever the number of patients.
    """
    todays, specs, logged = inputs_many(patient_ids, max(window_days, STREAK_HORIZON_DAYS))
    result = {}
    for patient_id, today in todays.items():
        start = today - timedelta(days=window_days - 1)
        result[patient_id] = patient_metrics(specs.get(patient_id, []), logged.get(patient_id, []),
                                             start, today, today)
    return result


def adherence(actor, patient_ref, args: dict | None = None) -> dict:
    args = args or {}
    patient = patient_for(actor, patient_ref, READ)
    today = local_today(patient.time_zone)
    if args.get("date_from") or args.get("date_to"):
        start, end = args.get("date_from"), args.get("date_to") or today
        if start is None or start > end or (end - start).days > 366:
            raise ApiError(422, "Give from and to (to defaults to today), at most a year apart.",
                           errors={"from": ["from must be on or before to, within 366 days."]})
    else:
        end = today
        start = today - timedelta(days=args.get("window", 30) - 1)
    specs = plans.load_specs([patient.id]).get(patient.id, [])
    logged = _sessions([patient.id], min(start, today - timedelta(days=STREAK_HORIZON_DAYS)), max(end, today))
    metrics = patient_metrics(specs, logged.get(patient.id, []), start, end, today)
    mark = threshold("adherent_session_rate")
    metrics["adherent"] = None if metrics["session_rate"] is None else metrics["session_rate"] >= mark
    metrics["adherent_threshold"] = mark
    metrics["remote_monitoring_days_threshold"] = threshold("remote_monitoring_days")
    return metrics


def weekly_summary(actor, patient_ref, week: date | None = None, language: str | None = None) -> dict:
    patient = patient_for(actor, patient_ref, READ)
    today = local_today(patient.time_zone)
    monday = week_start(week or today)
    sunday = monday + timedelta(days=6)
    end = min(sunday, today)
    if monday > today:
        raise ApiError(422, "That week has not started.", errors={"week": ["Not in the future."]})
    specs = plans.load_specs([patient.id]).get(patient.id, [])
    # Up to today, not the week's end: the streak is today's, whichever week is summarised.
    logged = _sessions([patient.id], min(monday, today) - timedelta(days=STREAK_HORIZON_DAYS),
                       today).get(patient.id, [])
    metrics = patient_metrics(specs, logged, monday, end, end)
    language = choose_language(language, patient.language)
    planned, done = metrics["expected_sessions"], metrics["completed_sessions"]
    messages = content.weekly_messages()
    if planned == 0:
        line = messages["none_planned"][language]
    else:
        rate = done / planned
        line = next(m[language] for m in messages["by_rate"] if rate >= m["min_rate"])
    return {"week_start": monday, "week_end": sunday, "complete": sunday < today, "language": language,
            "planned_sessions": planned, "completed_sessions": done, "session_rate": metrics["session_rate"],
            "prescribed_minutes": metrics["prescribed_minutes"], "logged_minutes": metrics["logged_minutes"],
            "current_streak_days": streak(specs, logged, today), "message": line}


# --- the agenda ---------------------------------------------------------------------------

def _agenda_items(specs, day: date, logged_by_day: dict, week_counts: dict, exercises: dict,
                  language: str) -> list[dict]:
    items = []
    for spec in specs:
        for item in spec.items_on(day):
            if not item.weekly and not item.fixed_on(day):
                continue
            done_today = logged_by_day.get((day, item.item_key), [])
            entry = {
                "plan_id": spec.plan_id, "item_id": item.item_id, "item_key": item.item_key,
                "exercise": _exercise_brief(exercises[item.exercise_id], language),
                "minutes": item.minutes, "time_of_day": item.time_of_day,
                "schedule": "weekly" if item.weekly else "days_of_week",
                "done_sessions": len(done_today), "done_minutes": sum(s.minutes for s in done_today),
                "done": bool(done_today),
            }
            if item.weekly:
                done_week = week_counts.get((week_start(day), item.item_key), 0)
                entry |= {"sessions_per_week": item.sessions_per_week, "done_this_week": done_week,
                          "remaining_this_week": max(0, item.sessions_per_week - done_week)}
            items.append(entry)
    items.sort(key=lambda i: (i["time_of_day"] or "99:99", i["exercise"]["slug"]))
    return items


def _exercise_brief(exercise: Exercise, language: str) -> dict:
    full = exercise_view(exercise, language)
    return {k: full[k] for k in ("id", "slug", "kind", "name", "measures")}


def _agenda_data(patient, start: date, end: date):
    specs = plans.load_specs([patient.id]).get(patient.id, [])
    logged = _sessions([patient.id], week_start(start), end).get(patient.id, [])
    by_day: dict = {}
    days_in_week: dict = {}
    for s in logged:
        by_day.setdefault((s.local_date, s.item_key), []).append(s)
        days_in_week.setdefault((week_start(s.local_date), s.item_key), set()).add(s.local_date)
    week_counts = {key: len(v) for key, v in days_in_week.items()}
    needed = {item.exercise_id for spec in specs for _n, _d, items in spec.versions for item in items}
    exercises = exercises_by_id(needed)
    return specs, by_day, week_counts, exercises


def agenda(actor, patient_ref, day: date | None = None, language: str | None = None) -> dict:
    """What is due on the patient's local date (default today), with what is done so far.
    A fixed number of queries, whatever the number of plans and items."""
    patient = patient_for(actor, patient_ref, READ)
    today = local_today(patient.time_zone)
    day = day or today
    language = choose_language(language, patient.language)
    specs, by_day, week_counts, exercises = _agenda_data(patient, day, day)
    return {"date": day, "today": today, "time_zone": patient.time_zone, "language": language,
            "paused": any(s.running_on(day) and s.paused_on(day) for s in specs),
            "items": _agenda_items(specs, day, by_day, week_counts, exercises, language)}


def agenda_week(actor, patient_ref, start: date | None = None, language: str | None = None) -> dict:
    patient = patient_for(actor, patient_ref, READ)
    today = local_today(patient.time_zone)
    monday = week_start(start or today)
    sunday = monday + timedelta(days=6)
    language = choose_language(language, patient.language)
    specs, by_day, week_counts, exercises = _agenda_data(patient, monday, sunday)
    return {"week_start": monday, "today": today, "time_zone": patient.time_zone, "language": language,
            "days": [{"date": d, "paused": any(s.running_on(d) and s.paused_on(d) for s in specs),
                      "items": _agenda_items(specs, d, by_day, week_counts, exercises, language)}
                     for d in days(monday, sunday)]}
