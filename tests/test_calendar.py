"""The iCalendar feed: parses (icalendar), stable UIDs, token authorisation and revocation."""
import hashlib
import uuid
from datetime import date, datetime, timedelta, timezone

import icalendar
from dateutil.relativedelta import relativedelta
from sqlalchemy import select, update

from app.access.models import CaregiverLink
from app.auth.models import User
from app.calendar.models import CalendarFeed
from app.common.clock import local_today
from app.extensions import db
from tests.factories import PASSWORD, Actor, bearer, caregiver_for, revoke_caregiver
from tests.test_accounts import RESET, _code, _request_reset, _shape
from tests.test_errors import assert_problem


def today() -> date:
    """Patient A's today (Asia/Shanghai) as the app reckons it, when the test runs."""
    return local_today("Asia/Shanghai")


def feed_url(patient_id, token=None, **query):
    url = f"/api/v1/patients/{patient_id}/calendar.ics"
    params = dict(query, **({"token": token} if token else {}))
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def issue(actor, ref="me"):
    response = actor.post(f"/api/v1/patients/{ref}/calendar-feed")
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def events(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/calendar"
    cal = icalendar.Calendar.from_ical(response.data)
    assert cal["VERSION"] == "2.0" and cal["PRODID"]
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def book(world, day: date, time="10:30", place="Radiology, 2nd floor"):
    followup = world.followup_a
    response = world.coord_a.patch(f"/api/v1/patients/{world.a_id}/dxa/followups/{followup['id']}",
                                   json={"appointment": {"date": day.isoformat(), "time": time, "place": place}})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_feed_lists_booked_appointments_and_due_doses_with_stable_uids(client, world):
    appointment = today() + timedelta(days=20)
    book(world, appointment)
    token = issue(world.patient_a)["token"]
    first = client.get(feed_url(world.a_id, token))
    by_uid = events(first)
    scan_uid = f"dxa-followup-{world.followup_a['id']}@standstrong.app"
    dose_uid = f"medication-dose-due-{world.treatment_a['id']}@standstrong.app"
    assert set(by_uid) == {scan_uid, dose_uid}
    scan = by_uid[scan_uid]
    # 10:30 in Asia/Shanghai (patient A) is 02:30 UTC; texts in the patient's language.
    assert scan.decoded("DTSTART") == datetime(appointment.year, appointment.month, appointment.day, 2, 30,
                                               tzinfo=timezone.utc)
    assert str(scan["LOCATION"]) == "Radiology, 2nd floor"
    assert str(scan["SUMMARY"]) == "骨密度（DXA）检查"
    dose_event = by_uid[dose_uid]
    given = today() - timedelta(days=60)
    assert dose_event.decoded("DTSTART") == given + relativedelta(months=6)
    assert "地舒单抗" in str(dose_event["SUMMARY"])
    # The same export twice is byte for byte the same; UIDs do not change.
    assert client.get(feed_url(world.a_id, token)).data == first.data
    english = events(client.get(feed_url(world.a_id, token, lang="en")))
    assert str(english[scan_uid]["SUMMARY"]) == "DXA scan (bone density)"
    # A new dose moves the due event (same UID, new date); a rebooking moves the scan.
    world.coord_a.post(f"/api/v1/patients/{world.a_id}/medications/{world.treatment_a['id']}/doses",
                       json={"given_on": today().isoformat()})
    book(world, appointment + timedelta(days=2), time="08:00")
    moved = events(client.get(feed_url(world.a_id, token)))
    assert set(moved) == {scan_uid, dose_uid}
    assert moved[dose_uid].decoded("DTSTART") == today() + relativedelta(months=6)
    assert moved[scan_uid].decoded("DTSTART").date() == appointment + timedelta(days=2)


def test_a_finished_follow_up_leaves_the_feed(client, world):
    book(world, today() + timedelta(days=5))
    token = issue(world.caregiver_a)["token"]
    assert len(events(client.get(feed_url(world.a_id, token)))) == 2
    world.coord_a.patch(f"/api/v1/patients/{world.a_id}/dxa/followups/{world.followup_a['id']}",
                        json={"status": "cancelled"})
    assert list(events(client.get(feed_url(world.a_id, token)))) == [
        f"medication-dose-due-{world.treatment_a['id']}@standstrong.app"]


def test_token_is_hashed_rotated_and_revoked(client, world):
    issued = issue(world.patient_a)
    token = issued["token"]
    assert issued["path"] == f"/api/v1/patients/{world.a_id}/calendar.ics?token={token}"
    row = db.session.scalar(select(CalendarFeed).where(CalendarFeed.patient_id == uuid.UUID(world.a_id)))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert world.patient_a.get("/api/v1/patients/me/calendar-feed").get_json()["active"] is True

    rotated = issue(world.caregiver_a)["token"]
    assert client.get(feed_url(world.a_id, token)).status_code == 404
    assert client.get(feed_url(world.a_id, rotated)).status_code == 200

    assert world.patient_a.delete("/api/v1/patients/me/calendar-feed").status_code == 204
    gone = client.get(feed_url(world.a_id, rotated))
    assert gone.status_code == 404 and gone.mimetype == "application/problem+json"
    assert world.patient_a.get("/api/v1/patients/me/calendar-feed").get_json() == {"active": False, "created_at": None}
    assert world.patient_a.delete("/api/v1/patients/me/calendar-feed").status_code == 204  # again: still revoked


def test_a_token_opens_only_its_own_patients_feed(client, world):
    token_a = issue(world.patient_a)["token"]
    wrong_patient = client.get(feed_url(world.b_id, token_a))
    unknown = client.get(feed_url(str(uuid.uuid4()), token_a))
    made_up = client.get(feed_url(world.a_id, "x" * 43))
    assert wrong_patient.status_code == unknown.status_code == made_up.status_code == 404
    assert wrong_patient.get_json()["detail"] == unknown.get_json()["detail"] == made_up.get_json()["detail"]
    assert client.get(feed_url("me", token_a)).status_code == 404
    anonymous = client.get(feed_url(world.a_id))
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"


def test_bearer_readers_get_the_feed_and_only_the_patient_side_manages_tokens(world):
    assert world.coord_a.get(feed_url(world.a_id)).status_code == 200
    assert world.caregiver_a.get(feed_url("me")).status_code == 200
    assert world.coord_b.get(feed_url(world.a_id)).status_code == 404
    assert world.admin.get(feed_url(world.a_id)).status_code == 403
    assert world.coord_a.post(f"/api/v1/patients/{world.a_id}/calendar-feed").status_code == 403
    assert world.coord_a.delete(f"/api/v1/patients/{world.a_id}/calendar-feed").status_code == 403
    assert world.patient_b.post(f"/api/v1/patients/{world.a_id}/calendar-feed").status_code == 404


def assert_like_an_unknown_token(client, patient_id, token):
    """A dead token gets the answer an unknown token gets: nothing tells them apart."""
    dead, unknown = client.get(feed_url(patient_id, token)), client.get(feed_url(patient_id, "x" * 43))
    assert_problem(unknown, 404)
    assert_problem(dead, 404)
    assert _shape(dead) == _shape(unknown)
    assert dead.headers.get("Cache-Control") == unknown.headers.get("Cache-Control")


def test_a_revoked_caregivers_calendar_feed_token_stops_working(client, world):
    book(world, today() + timedelta(days=5))
    token = issue(world.caregiver_a)["token"]
    assert len(events(client.get(feed_url(world.a_id, token)))) == 2
    revoke_caregiver(world.patient_a, world.caregiver_a)
    assert_like_an_unknown_token(client, world.a_id, token)
    # revoked with the link, in its transaction: the feed shows as off to the patient
    assert world.patient_a.get("/api/v1/patients/me/calendar-feed").get_json() == {"active": False, "created_at": None}
    # a token the patient made is theirs, and outlives a caregiver's revocation
    own = issue(world.patient_a)["token"]
    revoke_caregiver(world.patient_a, caregiver_for(client, world.patient_a, name="Second carer"))
    assert len(events(client.get(feed_url(world.a_id, own)))) == 2


def test_a_feed_token_dies_with_its_makers_access_however_that_ends(client, world):
    """Served only while whoever made it may still read the patient: a link revoked or an account
    switched off by any path (not only the revocation route) ends the token too."""
    token = issue(world.caregiver_a)["token"]
    assert client.get(feed_url(world.a_id, token)).status_code == 200
    caregiver = uuid.UUID(world.caregiver_a.id)
    db.session.execute(update(User).where(User.id == caregiver).values(is_active=False))
    db.session.commit()
    assert_like_an_unknown_token(client, world.a_id, token)
    assert world.patient_a.get("/api/v1/patients/me/calendar-feed").get_json()["active"] is False
    db.session.execute(update(User).where(User.id == caregiver).values(is_active=True))
    db.session.execute(update(CaregiverLink).where(CaregiverLink.caregiver_id == caregiver)
                       .values(revoked_at=datetime.now(timezone.utc)))
    db.session.commit()
    assert_like_an_unknown_token(client, world.a_id, token)


def test_a_password_reset_revokes_the_feed_tokens_its_account_made(client, world, smtp):
    own = issue(world.patient_a)["token"]
    _request_reset(client, world.patient_a.email)
    code = _code(smtp.to(world.patient_a.email)[0])
    confirm = client.post(f"{RESET}/confirm", json={"email": world.patient_a.email, "code": code,
                                                     "new_password": "a-brand-new-passphrase-77"})
    assert confirm.status_code == 204, confirm.get_json()
    assert_like_an_unknown_token(client, world.a_id, own)
    patient = Actor(client, world.patient_a.email, password="a-brand-new-passphrase-77")
    assert patient.get("/api/v1/patients/me/calendar-feed").get_json() == {"active": False, "created_at": None}


def test_a_password_change_revokes_the_feed_tokens_the_other_logins_made(client, world):
    """Whoever had the old password may have made a feed token in their login: the change ends
    it with the login. A token the changing login made is the account holder's and stays."""
    book(world, today() + timedelta(days=5))
    patient, other = world.patient_a, Actor(client, world.patient_a.email)  # two logins of one account
    theirs = issue(other)["token"]
    new = "a-brand-new-passphrase-77"
    changed = patient.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": new})
    assert changed.status_code == 204, changed.get_json()
    assert_like_an_unknown_token(client, world.a_id, theirs)
    assert patient.get("/api/v1/patients/me/calendar-feed").get_json() == {"active": False, "created_at": None}
    own = issue(patient)["token"]
    Actor(client, patient.email, password=new)  # another login, ended by the next change
    again = patient.post("/api/v1/auth/password", json={"current_password": new, "new_password": new + "x"})
    assert again.status_code == 204, again.get_json()
    assert len(events(client.get(feed_url(world.a_id, own)))) == 2


def test_a_logout_leaves_the_feed_tokens_its_login_made(client, world):
    """A calendar subscription is meant to outlive an app login: the phone's calendar keeps the
    appointments after the app logged out (the token ends by its revocation, a password change
    or reset, or a stolen login)."""
    book(world, today() + timedelta(days=5))
    leaving = Actor(client, world.patient_a.email)
    token = issue(leaving)["token"]
    assert leaving.post("/api/v1/auth/logout").status_code == 204
    assert len(events(client.get(feed_url(world.a_id, token)))) == 2
    assert world.patient_a.get("/api/v1/patients/me/calendar-feed").get_json()["active"] is True


def test_a_reused_refresh_token_revokes_the_feed_tokens_its_login_made(client, world):
    """A refresh token used twice means the login was stolen: a feed token made in it (the thief's
    window on the patient's appointments) ends with it, in its transaction. One another account
    made stays."""
    book(world, today() + timedelta(days=5))
    stolen = Actor(client, world.caregiver_a.email)
    theirs, elsewhere = issue(stolen)["token"], issue(world.patient_b)["token"]  # one feed per patient
    spent = stolen.tokens["refresh_token"]
    assert client.post("/api/v1/auth/refresh", headers=bearer(spent)).status_code == 200
    assert client.post("/api/v1/auth/refresh", headers=bearer(spent)).status_code == 401
    assert_like_an_unknown_token(client, world.a_id, theirs)
    assert world.patient_a.get("/api/v1/patients/me/calendar-feed").get_json() == {"active": False, "created_at": None}
    assert client.get(feed_url(world.b_id, elsewhere)).status_code == 200
