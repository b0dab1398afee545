"""The materialiser: the next hours of reminders as outbox rows, re-derived on every run.

Each run computes, for every patient with a login (or the ones given), what should be pending:
plan reminders at the patient's local wall-clock time (DST-safe), none on paused or ended days
or for an item already done that day, moved out of quiet hours, not for kinds the patient
opted out of; plus what lower domains report as due (DueNotice). Rows are upserted on their
dedupe key; a pending row that this run no longer produces is cancelled. So a plan change, a
pause or a changed preference is reflected by running it again for that patient. A fixed
number of statements whatever the number of patients.
"""
import importlib
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import exists, func, or_, select, update

from app.access.models import CaregiverLink
from app.auth.models import User
from app.common.clock import local_date
from app.exercises.models import Exercise
from app.extensions import db
from app.patients.models import Patient
from app.plans.schedule import days, week_start
from app.plans.service import load_specs
from app.reminders.models import Notification, NotificationPreference
from app.reminders.outbox import rearm_statement
from app.reminders.timing import at_local, bundled, out_of_quiet, parse_hhmm
from app.sessions.models import ExerciseSession

PLAN_KIND = "plan_reminder"
NOTICE_SOURCES = ("app.dxa.service", "app.medications.service")
# DueNotices are asked for from this long ago, so one moved out of last night's quiet hours
# is still produced (and not cancelled as void) until it is sent.
NOTICE_LOOKBACK = timedelta(hours=24)


def plan_occurrence(item_key, day) -> str:
    return f"plan:{item_key}:{day.isoformat()}"


def satisfied_by(patient_id, item_key, day) -> dict:
    """The cancel_pending filters of the reminder that a session of this plan item on this
    (local) day satisfies."""
    return {"patient_id": patient_id, "kinds": [PLAN_KIND], "occurrence_keys": [plan_occurrence(item_key, day)]}


def satisfied(row) -> bool:
    """Whether a session logged already satisfies this reminder (a plan item's, on its day): the
    one whose writing cancels it (satisfied_by's occurrence)."""
    payload = row.payload or {}
    if row.kind != PLAN_KIND or row.patient_id is None or not payload.get("item_key") \
            or not payload.get("local_date"):
        return False
    item_key, day = uuid.UUID(payload["item_key"]), date.fromisoformat(payload["local_date"])
    if row.occurrence_key != plan_occurrence(item_key, day):
        return False
    return db.session.scalar(select(exists().where(
        ExerciseSession.patient_id == row.patient_id, ExerciseSession.item_key == item_key,
        ExerciseSession.local_date == day, ExerciseSession.deleted_at.is_(None))))


def notice_sources() -> list:
    """due_notices(start, end) of the lower domains that have one (DXA, medications)."""
    found = []
    for name in NOTICE_SOURCES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name and name.startswith(error.name):
                continue  # that domain is not part of this build
            raise
        if hasattr(module, "due_notices"):
            found.append(module.due_notices)
    return found


def _scope(stmt, column, patient_ids):
    return stmt if patient_ids is None else stmt.where(column.in_(list(patient_ids)))


def materialise(now: datetime, patient_ids=None) -> dict:
    """Make the outbox match what is due in [now, now + REMINDER_HORIZON_HOURS); commits."""
    cfg = current_app.config
    horizon = now + timedelta(hours=cfg["REMINDER_HORIZON_HOURS"])
    run = uuid.uuid4()
    patients = db.session.execute(_scope(
        select(Patient.id, Patient.time_zone, User.id.label("user_id")).join(User, User.patient_id == Patient.id)
        .where(User.is_active.is_(True)), Patient.id, patient_ids)).all()
    ids = [p.id for p in patients]
    id_filter = ids if patient_ids is not None else select(User.patient_id).where(User.patient_id.is_not(None))
    prefs = {p.patient_id: p for p in db.session.scalars(
        _scope(select(NotificationPreference), NotificationPreference.patient_id, patient_ids))}
    caregivers = defaultdict(list)
    for row in db.session.execute(_scope(
            select(CaregiverLink.patient_id, CaregiverLink.caregiver_id)
            .join(NotificationPreference, NotificationPreference.patient_id == CaregiverLink.patient_id)
            .where(CaregiverLink.revoked_at.is_(None), NotificationPreference.caregivers_receive.is_(True)),
            CaregiverLink.patient_id, patient_ids)):
        caregivers[row.patient_id].append(row.caregiver_id)
    specs = load_specs(id_filter) if ids else {}
    names = {row.id: {lang: t.get("name", row.slug) for lang, t in row.translations.items()}
             for row in db.session.execute(select(Exercise.id, Exercise.slug, Exercise.translations))}
    first_day = week_start(now.date() - timedelta(days=1))
    done_days, done_weeks = _done(first_day, patient_ids, ids)
    notices = defaultdict(list)
    for source in notice_sources():
        for notice in source(now - NOTICE_LOOKBACK, horizon):
            notices[notice.patient_id].append(notice)

    default_time = parse_hhmm(cfg["REMINDER_DEFAULT_TIME"])
    window = timedelta(minutes=cfg["REMINDER_BUNDLE_MINUTES"])
    rows = []
    for patient in patients:
        zone = ZoneInfo(patient.time_zone)
        pref = prefs.get(patient.id)
        quiet = (parse_hhmm(pref.quiet_start), parse_hhmm(pref.quiet_end)) if pref and pref.quiet_start else None
        opted_out = set(pref.opted_out or []) if pref else set()
        times = pref.item_times or {} if pref else {}
        due = []  # (moment, kind, occurrence_key, payload)
        if PLAN_KIND not in opted_out:
            for day in days(local_date(now, patient.time_zone), local_date(horizon, patient.time_zone)):
                for plan in specs.get(patient.id, []):
                    for item in plan.items_on(day):
                        if (patient.id, item.item_key, day) in done_days:
                            continue
                        if item.weekly:
                            if done_weeks.get((patient.id, item.item_key, week_start(day)), 0) >= item.sessions_per_week:
                                continue
                        elif not item.fixed_on(day):
                            continue
                        wall = times.get(str(item.item_key)) or item.time_of_day
                        wall = parse_hhmm(wall) if wall else default_time
                        natural = at_local(day, wall, zone)
                        moment = out_of_quiet(natural, zone, quiet, same_day=True)
                        payload = {"item_key": str(item.item_key), "local_date": day.isoformat(),
                                   "exercise": names.get(item.exercise_id, {}), "minutes": item.minutes,
                                   "time": moment.astimezone(zone).strftime("%H:%M")}
                        due.append((moment, PLAN_KIND, plan_occurrence(item.item_key, day), payload))
        for notice in notices.get(patient.id, []):
            if notice.kind in opted_out:
                continue
            moment = out_of_quiet(notice.due_at, zone, quiet, same_day=False)
            due.append((moment, notice.kind, notice.occurrence_key, dict(notice.payload)))
        at = bundled([d[0] for d in due], window)
        recipients = [patient.user_id, *caregivers.get(patient.id, [])]
        for (moment, kind, occurrence, payload), send_at in zip(due, at):
            if kind == PLAN_KIND and not now <= moment < horizon:
                continue  # a plan reminder whose time has passed is not sent late
            if moment < now - NOTICE_LOOKBACK:
                continue
            for user_id in recipients:
                rows.append({"id": uuid.uuid4(), "recipient_user_id": user_id, "patient_id": patient.id,
                             "kind": kind, "dedupe_key": f"{user_id}:{occurrence}", "occurrence_key": occurrence,
                             "due_at": send_at, "status": "pending", "payload": payload, "attempts": 0,
                             "materialised": True, "materialise_run": run, "created_at": now})
    db.session.commit()  # end the read transaction: on SQLite a write must not follow reads in one
    if rows:
        db.session.execute(rearm_statement(db.session.get_bind().dialect.name, "materialise_run", "materialised"), rows)
    void = (update(Notification)
            .where(Notification.materialised.is_(True), Notification.status == "pending",
                   Notification.attempts == 0, Notification.due_at >= now,
                   or_(Notification.materialise_run.is_(None), Notification.materialise_run != run))
            .values(status="cancelled").execution_options(synchronize_session=False))
    cancelled = db.session.execute(_scope(void, Notification.patient_id, patient_ids)).rowcount
    db.session.commit()
    return {"patients": len(patients), "rows": len(rows), "cancelled": cancelled}


def _done(first_day, patient_ids, ids):
    """Sessions done per (patient, item, day) and per (patient, item, week) since first_day."""
    if patient_ids is not None and not ids:
        return set(), {}
    stmt = (select(ExerciseSession.patient_id, ExerciseSession.item_key, ExerciseSession.local_date, func.count())
            .where(ExerciseSession.deleted_at.is_(None), ExerciseSession.item_key.is_not(None),
                   ExerciseSession.local_date >= first_day)
            .group_by(ExerciseSession.patient_id, ExerciseSession.item_key, ExerciseSession.local_date))
    done_days, done_weeks = set(), defaultdict(int)
    for patient_id, key, day, count in db.session.execute(_scope(stmt, ExerciseSession.patient_id, patient_ids)):
        done_days.add((patient_id, key, day))
        done_weeks[(patient_id, key, week_start(day))] += count
    return done_days, done_weeks


