"""The patient's iCalendar feed (RFC 5545): booked DXA appointments and due bone treatments,
with UIDs stable across exports, readable with a revocable per-patient token."""
import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from functools import lru_cache

import icalendar
from sqlalchemy import select, update

from app.access.policy import LOG, READ, patient_for, still_may
from app.audit import service as audit
from app.auth import service as auth
from app.auth.models import User
from app.calendar.models import CalendarFeed
from app.common.db import insert_ignoring_conflict
from app.common.i18n import LANGUAGES
from app.common.yaml_files import read_yaml
from app.config import BASE_DIR
from app.dxa import service as dxa
from app.errors import ApiError
from app.extensions import db
from app.medications import catalogue
from app.medications import service as medications
from app.patients.models import Patient

UID_DOMAIN = "standstrong.app"


@lru_cache(maxsize=1)
def _texts() -> dict:
    return read_yaml(BASE_DIR / "seed" / "calendar" / "events.yaml")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- the feed token -------------------------------------------------------------------------

def feed_status(actor, patient_ref) -> dict:
    patient = patient_for(actor, patient_ref, READ)
    feed = db.session.get(CalendarFeed, patient.id)
    active = feed is not None and feed.revoked_at is None and _maker_still_may_issue(feed)
    return {"active": active, "created_at": feed.created_at if active else None}


def issue_token(actor, patient_ref, now: datetime, login_id=None) -> dict:
    """Create the feed token, or rotate it (the old one stops working). Shown once. login_id:
    the actor's login it is made in (a password change in another login, or that login found
    stolen, revokes it; it is made only while that login is live, hold_login)."""
    patient = patient_for(actor, patient_ref, LOG)
    auth.hold_login(actor, login_id, now)
    token = secrets.token_urlsafe(32)
    values = {"patient_id": patient.id, "token_hash": _hash(token), "created_by_id": actor.id, "created_at": now,
              "session_id": login_id}
    if not insert_ignoring_conflict(CalendarFeed, values, ["patient_id"]):
        feed = db.session.get(CalendarFeed, patient.id, with_for_update=True)
        feed.token_hash, feed.created_by_id, feed.created_at, feed.session_id, feed.revoked_at = \
            values["token_hash"], actor.id, now, login_id, None
    db.session.commit()
    return {"token": token, "path": f"/api/v1/patients/{patient.id}/calendar.ics?token={token}",
            "created_at": now}


def revoke_token(actor, patient_ref, now: datetime) -> None:
    patient = patient_for(actor, patient_ref, LOG)
    feed = db.session.get(CalendarFeed, patient.id)
    if feed is not None and feed.revoked_at is None:
        feed.revoked_at = now
    db.session.commit()


def revoke_made_by(user_id, now: datetime, patient_id=None, logins=None, keep_login=None) -> int:
    """Revoke the live feed tokens user_id made (of one patient, or of all; only those made in
    logins, if given; but those made in the login keep_login): in the caller's transaction, for a
    caregiver's revocation, a stolen login, or a password reset or change or a deactivation of
    the account."""
    stmt = update(CalendarFeed).where(CalendarFeed.created_by_id == user_id, CalendarFeed.revoked_at.is_(None))
    if patient_id is not None:
        stmt = stmt.where(CalendarFeed.patient_id == patient_id)
    if logins is not None:
        stmt = stmt.where(CalendarFeed.session_id.in_(logins))
    if keep_login is not None:
        stmt = stmt.where(CalendarFeed.session_id.is_distinct_from(keep_login))
    return db.session.execute(stmt.values(revoked_at=now).execution_options(synchronize_session=False)).rowcount


def on_caregiver_revoking(app, patient_id=None, caregiver_id=None, now=None, **_) -> None:
    revoke_made_by(caregiver_id, now, patient_id=patient_id)


def on_logins_ending(app, user=None, now=None, compromised=False, logins=None, keep_login=None, **_) -> None:
    """A compromised login's feed tokens end with it; a plain logout leaves them, since a
    calendar subscription is meant to outlive an app login (the phone's calendar app keeps it)."""
    if compromised:
        revoke_made_by(user.id, now, logins=logins, keep_login=keep_login)


def _maker_still_may_issue(feed: CalendarFeed) -> bool:
    """A token lives no longer than the access it was issued under: its maker's account is on
    and may still issue it (a revoked caregiver, a switched-off account may not)."""
    maker = db.session.get(User, feed.created_by_id) if feed.created_by_id else None
    return maker is not None and maker.is_active and still_may(maker, feed.patient_id, LOG)


def _no_feed() -> ApiError:
    return ApiError(404, "No such calendar feed.", title="Not Found")


def patient_by_token(patient_ref: str, token: str) -> Patient:
    """The patient whose live feed token this is; 404 for anything else (same answer every time)."""
    try:
        patient_id = uuid.UUID(patient_ref)
    except ValueError:
        raise _no_feed() from None
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _hash(token)))
    if (feed is None or feed.revoked_at is not None or feed.patient_id != patient_id
            or not _maker_still_may_issue(feed)):
        raise _no_feed()
    patient = db.session.get(Patient, patient_id)
    audit.record_read(None, patient.id, detail="calendar feed (token)")
    return patient


def patient_by_actor(actor, patient_ref) -> Patient:
    return patient_for(actor, patient_ref, READ)


# --- the feed -------------------------------------------------------------------------------

def ics(patient: Patient, language: str | None = None) -> bytes:
    language = language if language in LANGUAGES else patient.language
    t = _texts()
    cal = icalendar.Calendar()
    cal.add("prodid", "-//StandStrong//Bone health follow-ups//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", t["calendar_name"][language])
    for followup, starts_at in dxa.booked_appointments(patient.id):
        event = icalendar.Event()
        event.add("uid", f"dxa-followup-{followup.id}@{UID_DOMAIN}")
        event.add("dtstamp", followup.updated_at)
        event.add("last-modified", followup.updated_at)
        event.add("dtstart", starts_at)
        event.add("dtend", starts_at + timedelta(minutes=t["appointment_minutes"]))
        event.add("summary", t["dxa_appointment"]["summary"][language])
        event.add("location", followup.appointment_place)
        event.add("description", t["dxa_appointment"]["description"][language].format(
            place=followup.appointment_place))
        cal.add_component(event)
    for treatment, what, day in medications.calendar_entries(patient.id):
        name = catalogue.medicines()[treatment.medicine]["name"][language]
        event = icalendar.Event()
        event.add("uid", f"medication-{what.replace('_', '-')}-{treatment.id}@{UID_DOMAIN}")
        event.add("dtstamp", treatment.updated_at)
        event.add("last-modified", treatment.updated_at)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("summary", t[what]["summary"][language].format(medicine=name))
        event.add("description", t[what]["description"][language])
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()
