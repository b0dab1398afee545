"""Reminders: preferences, the in-app inbox, snooze, device tokens; and the outbox entry points
other domains use (enqueue, cancel_pending: see INTERFACES.md)."""
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, or_, select, update

from app.access.models import CaregiverLink
from app.access.policy import ANSWER_NOTIFICATIONS, READ, SET_REMINDERS, patient_for, readable_patient_ids
from app.auth import service as auth
from app.auth.models import User
from app.common.db import delete_row, insert_ignoring_conflict
from app.common.i18n import choose_language
from app.common.pagination import Page, paginate
from app.common.views import Extends
from app.errors import ApiError
from app.exercises.models import Exercise
from app.extensions import db
from app.plans.service import load_specs
from app.reminders.dispatch import shared_with_caregivers
from app.reminders.materialise import materialise, satisfied, satisfied_by
from app.reminders.models import DeviceToken, Notification, NotificationPreference
from app.reminders.outbox import cancel_pending, enqueue, rearm_statement
from app.reminders.texts import catalogue, render
from app.reminders.timing import out_of_quiet, parse_hhmm
from app.sessions.feed import hold_writes

__all__ = ["enqueue", "cancel_pending", "materialise"]

SNOOZES = {"30m": timedelta(minutes=30), "60m": timedelta(minutes=60)}


# --- preferences --------------------------------------------------------------------------

def _current_items(patient, today) -> list:
    """The items of the patient's plans in force today (or from their first day, if later)."""
    items = {}
    for plan in load_specs([patient.id]).get(patient.id, []):
        if plan.ended_on is not None and plan.ended_on < today:
            continue
        version = plan.version_on(max(today, plan.start_date)) or plan.versions[0]
        for item in version[2]:
            if item.end_date is None or item.end_date >= today:
                items[str(item.item_key)] = item
    return list(items.values())


def _preferences_view(patient, pref: NotificationPreference | None, today, language: str) -> dict:
    items = _current_items(patient, today)
    exercises = {e.id: e for e in db.session.scalars(
        select(Exercise).where(Exercise.id.in_([i.exercise_id for i in items])))} if items else {}
    custom = (pref.item_times or {}) if pref else {}
    default = current_app.config["REMINDER_DEFAULT_TIME"]
    return {
        "patient_id": patient.id,
        "channels": {"inbox": True, "email": bool(pref and pref.email), "push": bool(pref and pref.push)},
        "quiet_hours": {"start": pref.quiet_start, "end": pref.quiet_end} if pref and pref.quiet_start else None,
        "reminder_times": [{"item_key": item.item_key, "exercise_slug": exercises[item.exercise_id].slug,
                            "exercise_name": exercises[item.exercise_id].text(language).get("name"),
                            "time_of_day": item.time_of_day,
                            "reminder_time": custom.get(str(item.item_key)) or item.time_of_day or default,
                            "custom": str(item.item_key) in custom} for item in items],
        "opted_out": list(pref.opted_out or []) if pref else [],
        "kinds": sorted(catalogue()),
        "caregivers_receive": bool(pref and pref.caregivers_receive),
        "updated_at": pref.updated_at if pref else None,
    }


def _today(patient, now: datetime):
    return now.astimezone(ZoneInfo(patient.time_zone)).date()


def preferences(actor, patient_ref, now: datetime, language: str | None = None) -> dict:
    patient = patient_for(actor, patient_ref, READ)
    pref = db.session.get(NotificationPreference, patient.id)
    return _preferences_view(patient, pref, _today(patient, now),
                             choose_language(language, patient.language))


def _cancel_withdrawn(patient_id, data: dict, pref: NotificationPreference, now: datetime) -> None:
    """What the patient no longer wants sent, queued already, is cancelled with the change: the
    materialiser re-derives only the rows it made, not a snoozed one (a row of its own)."""
    caregivers = list(db.session.scalars(select(CaregiverLink.caregiver_id)
                                         .where(CaregiverLink.patient_id == patient_id)))
    if data.get("caregivers_receive") is False and caregivers:
        cancel_pending(patient_id=patient_id, recipient_user_ids=caregivers, now=now)
    if data.get("opted_out"):  # the patient's kinds, for the patient and the caregivers (not staff's)
        own = db.session.scalars(select(User.id).where(User.patient_id == patient_id)).all()
        cancel_pending(patient_id=patient_id, kinds=pref.opted_out, recipient_user_ids=[*own, *caregivers], now=now)


def update_preferences(actor, patient_ref, data: dict, now: datetime, language: str | None = None) -> dict:
    """Change what is given (absent fields keep their value), then re-derive pending reminders."""
    patient = patient_for(actor, patient_ref, SET_REMINDERS, fields=list(data))
    today = _today(patient, now)
    insert_ignoring_conflict(NotificationPreference, {"patient_id": patient.id, "email": False, "push": False,
                                                      "item_times": {}, "opted_out": [],
                                                      "caregivers_receive": False, "updated_at": now},
                             ["patient_id"])
    pref = db.session.get(NotificationPreference, patient.id, with_for_update=True, populate_existing=True)
    if "caregivers_receive" in data:  # the policy lets only the patient change it
        pref.caregivers_receive = data["caregivers_receive"]
    channels = data.get("channels") or {}
    if "email" in channels:
        pref.email = channels["email"]
    if "push" in channels:
        pref.push = channels["push"]
    if "quiet_hours" in data:
        quiet = data["quiet_hours"]
        pref.quiet_start, pref.quiet_end = (quiet["start"], quiet["end"]) if quiet else (None, None)
    if "opted_out" in data:
        unknown = sorted(set(data["opted_out"]) - set(catalogue()))
        if unknown:
            raise ApiError(422, "Unknown reminder kinds.", errors={"opted_out": [f"Unknown: {', '.join(unknown)}."]})
        pref.opted_out = sorted(set(data["opted_out"]))
    if "reminder_times" in data:
        keys = {str(i.item_key) for i in _current_items(patient, today)}
        times = dict(pref.item_times or {})
        for index, entry in enumerate(data["reminder_times"]):
            key = str(entry["item_key"])
            if key not in keys:
                raise ApiError(422, "Not an item of the patient's current plans.",
                               errors={"reminder_times": {index: {"item_key": ["Unknown item."]}}})
            if entry.get("time"):
                times[key] = entry["time"]
            else:
                times.pop(key, None)
        pref.item_times = times
    pref.updated_at = now
    _cancel_withdrawn(patient.id, data, pref, now)
    db.session.commit()
    materialise(now, patient_ids=[patient.id])
    return _preferences_view(patient, db.session.get(NotificationPreference, patient.id), today,
                             choose_language(language, patient.language))


# --- the inbox ----------------------------------------------------------------------------

def _inbox_rows(actor, patient):
    # Delivered to the inbox: the dispatcher has recorded the inbox channel.
    return (Notification.recipient_user_id == actor.id, Notification.patient_id == patient.id,
            Notification.channel.is_not(None))


def inbox(actor, patient_ref, args: dict, language: str | None = None) -> Page:
    """The page (args: page, per_page, unread, kind) of the actor's own notifications about this
    patient, newest first, in the language asked (else the patient's)."""
    patient = patient_for(actor, patient_ref, READ)
    stmt = select(Notification).where(*_inbox_rows(actor, patient))
    if args.get("unread") is not None:
        stmt = stmt.where(Notification.read_at.is_(None) if args["unread"] else Notification.read_at.is_not(None))
    if args.get("kind"):
        stmt = stmt.where(Notification.kind == args["kind"])
    served = choose_language(language, patient.language)
    return paginate(stmt.order_by(Notification.due_at.desc(), Notification.id), args) \
        .map(lambda row: notification_view(row, served))


def _in_my_inbox(actor) -> tuple:
    return (Notification.recipient_user_id == actor.id, Notification.channel.is_not(None),
            or_(Notification.patient_id.is_(None), Notification.patient_id.in_(readable_patient_ids(actor))))


def my_inbox(actor, args: dict, language: str) -> Page:
    """Everything delivered to the actor's inbox, about no patient (e.g. a coordinator's digest)
    or about a patient the actor may still read (not one a revoked caregiver used to act for)."""
    stmt = select(Notification).where(*_in_my_inbox(actor))
    if args.get("unread") is not None:
        stmt = stmt.where(Notification.read_at.is_(None) if args["unread"] else Notification.read_at.is_not(None))
    if args.get("kind"):
        stmt = stmt.where(Notification.kind == args["kind"])
    return paginate(stmt.order_by(Notification.due_at.desc(), Notification.id), args) \
        .map(lambda row: notification_view(row, language))


def mark_mine_read(actor, notification_id, now: datetime, language: str) -> dict:
    row = db.session.scalar(select(Notification).where(Notification.id == notification_id, *_in_my_inbox(actor)))
    if row is None:
        raise ApiError(404, "No such notification in your inbox.", title="Not Found")
    row.read_at = row.read_at or now
    out = notification_view(row, language)
    db.session.commit()
    return out


@dataclass
class NotificationIn(Extends):
    """A notification with its subject and text in language: the rest is the row's
    (NotificationSchema dumps it)."""

    notification: Notification
    language: str
    _extends = ("notification",)

    @cached_property
    def _texts(self) -> dict:
        return render(self.notification.kind, self.notification.payload, self.language)

    @property
    def subject(self) -> str:
        return self._texts["subject"]

    @property
    def text(self) -> str:
        return self._texts["text"]


def notification_view(row: Notification, language: str) -> NotificationIn:
    return NotificationIn(row, language)


def unread_count(actor, patient_ref) -> dict:
    patient = patient_for(actor, patient_ref, READ)
    count = db.session.scalar(select(func.count()).select_from(Notification)
                              .where(*_inbox_rows(actor, patient), Notification.read_at.is_(None)))
    return {"unread": count}


def _own(actor, patient, notification_id) -> Notification:
    row = db.session.scalar(select(Notification).where(Notification.id == notification_id,
                                                       *_inbox_rows(actor, patient)))
    if row is None:
        raise ApiError(404, "No such notification in your inbox.", title="Not Found")
    return row


def mark_read(actor, patient_ref, notification_id, now: datetime, language: str | None = None) -> dict:
    patient = patient_for(actor, patient_ref, ANSWER_NOTIFICATIONS)
    row = _own(actor, patient, notification_id)
    if row.read_at is None:
        row.read_at = now
    out = notification_view(row, choose_language(language, patient.language))
    db.session.commit()
    return out


def mark_all_read(actor, patient_ref, now: datetime) -> dict:
    patient = patient_for(actor, patient_ref, ANSWER_NOTIFICATIONS)
    count = db.session.execute(update(Notification).where(*_inbox_rows(actor, patient), Notification.read_at.is_(None))
                               .values(read_at=now).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return {"marked": count}


def snooze(actor, patient_ref, notification_id, data: dict, now: datetime, language: str | None = None) -> dict:
    """Remind again in 30 or 60 minutes, or later today; the notification is marked read."""
    patient = patient_for(actor, patient_ref, ANSWER_NOTIFICATIONS)
    row = _own(actor, patient, notification_id)
    zone = ZoneInfo(patient.time_zone)
    pref = db.session.get(NotificationPreference, patient.id)
    quiet = (parse_hhmm(pref.quiet_start), parse_hhmm(pref.quiet_end)) if pref and pref.quiet_start else None
    if data["until"] in SNOOZES:
        due = out_of_quiet(now + SNOOZES[data["until"]], zone, quiet, same_day=False)
    else:
        due = out_of_quiet(now + timedelta(hours=current_app.config["REMINDER_LATER_TODAY_HOURS"]), zone, quiet,
                           same_day=True)
        # "later today" is no later than today, and later than the 30-minute snooze
        if due.astimezone(zone).date() != now.astimezone(zone).date() or due <= now + SNOOZES["30m"]:
            raise ApiError(409, "It is too late in the day to remind you later today; snooze for 30 or 60 minutes.",
                           title="Conflict", errors={"until": ["Too late today."]})
    # a session of the reminder written at once commits before it is looked for, or waits for
    # the snooze's commit and then cancels its copy too (its cancel of the occurrence's pending rows)
    hold_writes(patient.id)
    if satisfied(row):
        raise ApiError(409, "This exercise is logged as done already; there is nothing to remind you of.",
                       title="Conflict", errors={"until": ["Done already."]})
    if actor.role == "caregiver" and not shared_with_caregivers(pref, row.kind):
        raise ApiError(409, "The patient does not share these reminders with caregivers now.",
                       title="Conflict", errors={"until": ["Not shared with caregivers now."]})
    row.read_at = row.read_at or now
    key, retrying = _snooze_key(row)
    if retrying:
        cancel_pending(dedupe_keys=retrying, now=now)
    values = {"id": uuid.uuid4(), "recipient_user_id": actor.id, "patient_id": patient.id, "kind": row.kind,
              "dedupe_key": key, "occurrence_key": row.occurrence_key, "due_at": due, "status": "pending",
              "payload": row.payload or {}, "attempts": 0, "materialised": False, "created_at": now}
    # one snoozed copy: snoozes at once, or again while it is pending, move it (the latest wins)
    db.session.execute(rearm_statement(db.session.get_bind().dialect.name, "occurrence_key"), values)
    db.session.commit()
    snoozed = db.session.scalar(select(Notification).where(Notification.dedupe_key == key))
    return notification_view(snoozed, choose_language(language, patient.language))


SNOOZED = ":snooze:"


def _snooze_key(row: Notification) -> tuple[str, list]:
    """One snoozed copy at a time per reminder (its recipient's: the original's dedupe key is):
    <original's dedupe key>:snooze:<n>, where n - 1 copies of it went out already (were tried:
    sent, failed, being sent, or waiting for a retry). A snooze of the original or of any copy
    of it, while a copy is pending untried, moves that one (a retry, a double tap, a changed
    mind); once it went out, the next snooze makes the next. Also the keys of the copies waiting
    for a retry (in the inbox already, a channel failed): the snooze answers them, so their
    retry is cancelled with it."""
    root = row.dedupe_key.split(SNOOZED, 1)[0]
    root = root[:300 - len(SNOOZED) - 6]
    copies = db.session.execute(select(Notification.dedupe_key, Notification.status).where(
        # the recipient's rows about the patient first (an index: LIKE on the key may not use one)
        Notification.recipient_user_id == row.recipient_user_id, Notification.patient_id == row.patient_id,
        Notification.dedupe_key.startswith(root + SNOOZED, autoescape=True),
        or_(Notification.status.in_(("sending", "sent", "failed")), Notification.attempts > 0))).all()
    copies = [copy for copy in copies if copy.dedupe_key.split(SNOOZED, 1)[0] == root]
    retrying = [copy.dedupe_key for copy in copies if copy.status == "pending"]
    return f"{root}{SNOOZED}{len(copies) + 1}", retrying


# --- device tokens ------------------------------------------------------------------------

def register_device(actor, data: dict, now: datetime, login_id=None) -> tuple[DeviceToken, bool]:
    """Register the app's push token for this account, in the actor's login login_id (a token
    moves to whoever registers it last, and to that login). It is made only while that login is
    live (hold_login): one logging out at once ends it too, or answers it 401."""
    auth.hold_login(actor, login_id, now)
    for _attempt in range(3):  # again when the row it found was deleted before it was read (its old account's logout)
        created = insert_ignoring_conflict(DeviceToken, {
            "id": uuid.uuid4(), "user_id": actor.id, "token": data["token"], "platform": data["platform"],
            "created_at": now, "session_id": login_id}, ["token"]) == 1
        device = db.session.scalar(select(DeviceToken).where(DeviceToken.token == data["token"]))
        if device is not None:
            break
    else:
        raise ApiError(503, "The device was not registered; send it again.", title="Service Unavailable",
                       headers={"Retry-After": "1"})
    if not created and (device.user_id, device.platform, device.session_id) != (actor.id, data["platform"], login_id):
        device.user_id, device.platform, device.session_id = actor.id, data["platform"], login_id
    db.session.flush()
    db.session.expunge(device)  # answered as written: a logout at once may delete it right after the commit
    db.session.commit()
    return device, created


def devices(actor, args: dict | None = None) -> Page:
    """The page (args: page, per_page) of the actor's own devices, newest first."""
    return paginate(select(DeviceToken).where(DeviceToken.user_id == actor.id)
                    .order_by(DeviceToken.created_at.desc(), DeviceToken.id), args or {})


def remove_device(actor, device_id) -> None:
    device = db.session.get(DeviceToken, device_id)
    if device is None or device.user_id != actor.id or not delete_row(device):  # or removed at once
        raise ApiError(404, "No such device for this account.", title="Not Found")
    db.session.commit()


# --- what other domains' signals void ----------------------------------------------------

def forget_devices(user_id, logins=None, keep_login=None) -> int:
    """The account's push registrations end with the logins that made them, in the caller's
    transaction: those of logins (a logout's, a stolen login's), or with logins None all of the
    account's (a password reset or change, a deactivation: whoever had the password may have
    registered a phone) but those of the login keep_login (a change's own: the account holder's
    phone keeps its reminders)."""
    stmt = DeviceToken.__table__.delete().where(DeviceToken.user_id == user_id)
    if logins is not None:
        stmt = stmt.where(DeviceToken.session_id.in_(logins))
    if keep_login is not None:
        stmt = stmt.where(DeviceToken.session_id.is_distinct_from(keep_login))
    return db.session.execute(stmt).rowcount


def on_session_written(session, change: str, now: datetime) -> None:
    """After the commit: a deleted session may revive that day's reminder of its item."""
    if change == "deleted":
        materialise(now, patient_ids=[session.patient_id])


def on_caregiver_revoking(patient_id, caregiver_id, now: datetime) -> int:
    """In the revocation's transaction: what is queued for the caregiver about this patient
    (pending, snoozed, waiting for a retry) is cancelled with it. The dispatcher also cancels,
    when due, a row that reaches the outbox for them after all (a materialiser run that read the
    caregivers before the revocation)."""
    return cancel_pending(patient_id=patient_id, recipient_user_ids=[caregiver_id], now=now)


def on_session_saving(session, change: str, now: datetime, connection=None) -> None:
    """In the session write's transaction: a logged session satisfies that day's reminder of
    its item, cancelled in the same commit (one statement; nothing is committed here).
    connection: the write's transaction connection, if the caller has it."""
    if change == "deleted" or session.item_key is None or session.deleted_at is not None:
        return
    cancel_pending(**satisfied_by(session.patient_id, session.item_key, session.local_date), now=now,
                   connection=connection)
