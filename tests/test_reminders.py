"""Reminders: materialising in local time (DST, quiet hours, done items, plan changes),
bundling, preferences, the inbox, snooze, and delivery by e-mail and push."""
import threading
import uuid
from datetime import timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from flask import g
from sqlalchemy import event, select

from app.common.notices import DueNotice
from app.common.types import utcnow
from app.extensions import db
from app.reminders import materialise as materialiser
from app.reminders.dispatch import dispatch
from app.reminders.materialise import materialise
from app.reminders.models import DeviceToken, Notification
from app.reminders.service import cancel_pending, enqueue
from app.reminders.texts import catalogue
from tests.factories import World, at, at_once, caregiver_for, revoke_caregiver
from tests.reminder_helpers import PushEndpoint, item, patient_with_plan, rows, utc
from tests.test_errors import assert_problem


@pytest.fixture
def app_ctx(app, monkeypatch):
    """An app context for calling the materialiser and dispatcher directly; each request made
    meanwhile still starts without the previous request's actor in the shared flask.g."""
    with app.app_context():
        client_class = type(app.test_client())
        original = client_class.open

        def open_without_stale_actor(self, *args, **kwargs):
            g.pop("actor", None)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(client_class, "open", open_without_stale_actor)
        yield


def local(row, zone):
    moment = row.due_at.astimezone(ZoneInfo(zone))
    return moment.date().isoformat(), moment.strftime("%H:%M")


# --- DST ----------------------------------------------------------------------------------

@pytest.mark.parametrize("zone,now,gap_time,expected", [
    # New York springs forward at 02:00 on 14 March 2027: 02:30 does not exist that night.
    ("America/New_York", utc(2027, 3, 13, 12), "02:30",
     [(utc(2027, 3, 13, 14), "2027-03-13", "09:00"), (utc(2027, 3, 14, 7, 30), "2027-03-14", "03:30"),
      (utc(2027, 3, 14, 13), "2027-03-14", "09:00")]),
    # London springs forward at 01:00 on 28 March 2027: 01:30 does not exist.
    ("Europe/London", utc(2027, 3, 27, 12), "01:30",
     [(utc(2027, 3, 28, 1, 30), "2027-03-28", "02:30"), (utc(2027, 3, 28, 8), "2027-03-28", "09:00")]),
])
def test_spring_forward_keeps_wall_clock_times_and_moves_the_missing_hour(app_ctx, world, zone, now, gap_time,
                                                                          expected):
    _, patient, _ = patient_with_plan(world, now - timedelta(hours=1), [item("09:00"), item(gap_time)],
                                      time_zone=zone)
    materialise(now, patient_ids=[uuid.UUID(patient["id"])])
    got = [(r.due_at, *local(r, zone)) for r in rows(uuid.UUID(patient["id"]), "pending")]
    assert got == expected


@pytest.mark.parametrize("zone,now,expected", [
    # New York falls back at 02:00 on 7 November 2027: 01:30 happens twice; remind at the first.
    ("America/New_York", utc(2027, 11, 6, 16),
     [utc(2027, 11, 7, 5, 30), utc(2027, 11, 7, 14)]),
    # London falls back at 02:00 on 31 October 2027.
    ("Europe/London", utc(2027, 10, 30, 16),
     [utc(2027, 10, 31, 0, 30), utc(2027, 10, 31, 9)]),
])
def test_fall_back_reminds_once_in_the_repeated_hour(app_ctx, world, zone, now, expected):
    _, patient, _ = patient_with_plan(world, now - timedelta(hours=1), [item("01:30"), item("09:00")], time_zone=zone)
    pid = uuid.UUID(patient["id"])
    materialise(now, patient_ids=[pid])
    materialise(now + timedelta(hours=9), patient_ids=[pid])  # inside the repeated hour, again
    on_the_day = [r.due_at for r in rows(pid) if r.payload["local_date"] == expected[0].astimezone(
        ZoneInfo(zone)).date().isoformat()]
    assert on_the_day == expected


# --- what is and is not reminded ---------------------------------------------------------

NOW = utc(2027, 5, 10, 1)  # Monday 09:00 in Shanghai


def test_horizon_item_time_and_default_time(app_ctx, world):
    _, patient, _ = patient_with_plan(world, NOW, [item("20:00"), item(None, exercise="passive-range-of-motion")],
                                      time_zone="Asia/Shanghai")
    materialise(NOW, patient_ids=[uuid.UUID(patient["id"])])
    got = [local(r, "Asia/Shanghai") for r in rows(uuid.UUID(patient["id"]))]
    # 36 hours: Monday 20:00, Tuesday 09:00 (the default time) and 20:00; Monday 09:00 is now (kept).
    assert got == [("2027-05-10", "09:00"), ("2027-05-10", "20:00"), ("2027-05-11", "09:00"), ("2027-05-11", "20:00")]


def test_quiet_hours_move_reminders_out_and_keep_them_on_their_day(app_ctx, world):
    patient_actor, patient, _ = patient_with_plan(world, NOW, [item("06:30"), item("12:00"), item("23:00")],
                                                  time_zone="Asia/Shanghai")
    with at(NOW, patient_actor):
        response = patient_actor.put("/api/v1/patients/me/notification-preferences",
                                     json={"quiet_hours": {"start": "22:00", "end": "07:00"}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    got = [local(r, "Asia/Shanghai") for r in rows(uuid.UUID(patient["id"]), "pending")]
    assert got == [("2027-05-10", "12:00"), ("2027-05-10", "21:45"), ("2027-05-11", "07:00"),
                   ("2027-05-11", "12:00")]
    assert {r.payload["time"] for r in rows(uuid.UUID(patient["id"]), "pending")} == {"12:00", "21:45", "07:00"}


def test_an_item_done_that_day_is_not_reminded_and_a_session_cancels_the_pending_one(app_ctx, world):
    patient_actor, patient, plan = patient_with_plan(world, NOW, [item("12:00"), item("18:00", exercise="upper-body-exercise")],
                                                     time_zone="Asia/Shanghai")
    pid = uuid.UUID(patient["id"])
    first, second = (i["item_key"] for i in plan["versions"][0]["items"])
    assert len(rows(pid, "pending")) == 4  # the plan signal materialised it (real time is not NOW: redo)
    with at(NOW, patient_actor):
        logged = patient_actor.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}", json={
            "item_key": first, "started_at": (NOW - timedelta(minutes=5)).isoformat(), "duration_minutes": 5})
        assert logged.status_code == 201
    cancelled = rows(pid, "cancelled")
    assert [(r.payload["item_key"], r.payload["local_date"]) for r in cancelled] == [(first, "2027-05-10")]
    materialise(NOW, patient_ids=[pid])  # the next run does not bring it back
    pending = {(r.payload["item_key"], r.payload["local_date"]) for r in rows(pid, "pending")}
    assert pending == {(second, "2027-05-10"), (first, "2027-05-11"), (second, "2027-05-11")}


def test_deleting_the_session_brings_the_reminder_back(app_ctx, world):
    patient_actor, patient, plan = patient_with_plan(world, NOW, [item("12:00")], time_zone="Asia/Shanghai")
    pid = uuid.UUID(patient["id"])
    key = plan["versions"][0]["items"][0]["item_key"]
    session_id = uuid.uuid4()
    with at(NOW, patient_actor):
        materialise(NOW, patient_ids=[pid])
        patient_actor.put(f"/api/v1/patients/me/sessions/{session_id}", json={
            "item_key": key, "started_at": (NOW - timedelta(minutes=5)).isoformat(), "duration_minutes": 5})
        assert len(rows(pid, "pending")) == 1
        assert patient_actor.delete(f"/api/v1/patients/me/sessions/{session_id}", headers={"If-Match": '"1"'}).status_code == 204
    assert [r.payload["local_date"] for r in rows(pid, "pending")] == ["2027-05-10", "2027-05-11"]


def test_weekly_item_is_reminded_until_the_week_is_done(app_ctx, world):
    weekly = {"exercise": "pressure-relief", "minutes": 5, "sessions_per_week": 1, "time_of_day": "12:00"}
    patient_actor, patient, plan = patient_with_plan(world, NOW, [weekly], time_zone="Asia/Shanghai")
    pid = uuid.UUID(patient["id"])
    materialise(NOW, patient_ids=[pid])
    assert len(rows(pid, "pending")) == 2
    with at(NOW, patient_actor):
        patient_actor.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}", json={
            "item_key": plan["versions"][0]["items"][0]["item_key"],
            "started_at": (NOW - timedelta(minutes=5)).isoformat(), "duration_minutes": 5})
    materialise(NOW, patient_ids=[pid])
    assert rows(pid, "pending") == []


def test_pause_and_end_cancel_and_resume_brings_back(app_ctx, world):
    _, patient, plan = patient_with_plan(world, NOW, [item("12:00")], time_zone="Asia/Shanghai")
    pid = uuid.UUID(patient["id"])
    base = f"/api/v1/patients/{pid}/plans/{plan['id']}"
    with at(NOW, world.coord_a):
        assert len(rows(pid, "pending")) == 2
        assert world.coord_a.post(f"{base}/pause", if_match_of=base, json={"reason": "hospital stay"}).status_code == 200
        assert rows(pid, "pending") == []
        assert world.coord_a.post(f"{base}/resume", if_match_of=base, json={"on": "2027-05-11"}).status_code == 200
        assert [r.payload["local_date"] for r in rows(pid, "pending")] == ["2027-05-11"]
        assert world.coord_a.post(f"{base}/end", if_match_of=base, json={"reason": "finished", "on": "2027-05-11"}).status_code == 200
        assert rows(pid, "pending") == []


def test_a_new_version_moves_the_reminder(app_ctx, world):
    _, patient, plan = patient_with_plan(world, NOW, [item("12:00")], time_zone="Asia/Shanghai")
    pid = uuid.UUID(patient["id"])
    key = plan["versions"][0]["items"][0]["item_key"]
    with at(NOW, world.coord_a):
        plan_url = f"/api/v1/patients/{pid}/plans/{plan['id']}"
        response = world.coord_a.post(f"{plan_url}/versions", if_match_of=plan_url, json={
            "items": [item("15:00", item_key=key)], "effective_from": "2027-05-11"})
        assert response.status_code == 201, response.get_json()
    got = [local(r, "Asia/Shanghai") for r in rows(pid, "pending")]
    assert got == [("2027-05-10", "12:00"), ("2027-05-11", "15:00")]
    assert rows(pid, "cancelled") == []  # moved, not duplicated


def test_reminder_time_preference_and_opt_out(app_ctx, world):
    patient_actor, patient, plan = patient_with_plan(world, NOW, [item("12:00")], time_zone="Asia/Shanghai")
    pid = uuid.UUID(patient["id"])
    key = plan["versions"][0]["items"][0]["item_key"]
    with at(NOW, patient_actor):
        response = patient_actor.put("/api/v1/patients/me/notification-preferences",
                                     json={"reminder_times": [{"item_key": key, "time": "19:30"}]})
        body = response.get_json()
        assert body["reminder_times"][0]["reminder_time"] == "19:30" and body["reminder_times"][0]["custom"]
        assert [local(r, "Asia/Shanghai")[1] for r in rows(pid, "pending")] == ["19:30", "19:30"]
        response = patient_actor.put("/api/v1/patients/me/notification-preferences",
                                     json={"reminder_times": [{"item_key": key, "time": None}]})
        assert response.get_json()["reminder_times"][0]["reminder_time"] == "12:00"
        response = patient_actor.put("/api/v1/patients/me/notification-preferences",
                                     json={"opted_out": ["plan_reminder"]})
        assert response.get_json()["opted_out"] == ["plan_reminder"]
        assert rows(pid, "pending") == []
        bad = patient_actor.put("/api/v1/patients/me/notification-preferences",
                                json={"opted_out": ["nonsense"], "reminder_times": [{"item_key": str(uuid.uuid4()),
                                                                                      "time": "10:00"}]})
        assert bad.status_code == 422


def test_caregivers_receive_only_with_the_patients_consent(app_ctx, world):
    patient_actor, patient, _ = patient_with_plan(world, NOW, [item("12:00")], time_zone="Asia/Shanghai")
    pid = uuid.UUID(patient["id"])
    with at(NOW, patient_actor):
        caregiver = caregiver_for(world.client, patient_actor)
    with at(NOW, patient_actor, caregiver):
        refused = caregiver.put("/api/v1/patients/me/notification-preferences", json={"caregivers_receive": True})
        assert refused.status_code == 403
        assert {r.recipient_user_id for r in rows(pid, "pending")} == {uuid.UUID(patient_actor.id)}
        agreed = patient_actor.put("/api/v1/patients/me/notification-preferences", json={"caregivers_receive": True})
        assert agreed.get_json()["caregivers_receive"] is True
        assert len(rows(pid, "pending", recipient=uuid.UUID(caregiver.id))) == 2
        # the caregiver may still change the channels
        assert caregiver.put("/api/v1/patients/me/notification-preferences",
                             json={"channels": {"email": True}}).status_code == 200


# --- bundling, delivery -------------------------------------------------------------------

def test_reminders_within_minutes_are_bundled_into_one_email(app_ctx, world, smtp):
    patient_actor, patient, _ = patient_with_plan(
        world, NOW, [item("12:00"), item("12:05", exercise="upper-body-exercise"), item("18:00")],
        time_zone="Europe/London", language="en")
    pid = uuid.UUID(patient["id"])
    with at(NOW, patient_actor):
        patient_actor.put("/api/v1/patients/me/notification-preferences", json={"channels": {"email": True}})
    pending = rows(pid, "pending")
    assert pending[0].due_at == pending[1].due_at == utc(2027, 5, 10, 11)  # 12:00 BST, both
    dispatch(utc(2027, 5, 10, 11, 1))
    assert [r.status for r in rows(pid)] == ["sent", "sent", "pending", "pending", "pending"]
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["Subject"] == "2 reminders from StandStrong"
    text = message.get_body(("plain",)).get_content()
    assert "pressure relief" in text and "Upper-body" in text
    assert {r.status for r in rows(pid)} == {"sent", "pending"}


@pytest.mark.parametrize("language,zone,subject", [("en", "Europe/London", "Time for"), ("zh-CN", "Asia/Shanghai", "该做")])
def test_email_arrives_in_the_patients_language_as_text_and_html(app_ctx, world, smtp, language, zone, subject):
    patient_actor, patient, _ = patient_with_plan(world, NOW, [item("12:00")], time_zone=zone, language=language)
    with at(NOW, patient_actor):
        patient_actor.put("/api/v1/patients/me/notification-preferences", json={"channels": {"email": True}})
    first = rows(uuid.UUID(patient["id"]), "pending")[0]
    dispatch(first.due_at)
    [message] = smtp.to(patient_actor.email)
    assert message["Subject"].startswith(subject)
    assert message["Content-Language"] == language
    assert message.get_body(("plain",)).get_content().strip()
    html = message.get_body(("html",)).get_content()
    assert "<html" in html and message["Subject"].split()[0] in html
    db.session.refresh(first)
    assert first.status == "sent" and first.channel == "inbox,email" and first.attempts == 1


def test_failed_email_is_retried_with_backoff_then_given_up_keeping_the_error(app, app_ctx, world, smtp):
    patient_actor, patient, _ = patient_with_plan(world, NOW, [item("12:00")], time_zone="Asia/Shanghai")
    with at(NOW, patient_actor):
        patient_actor.put("/api/v1/patients/me/notification-preferences", json={"channels": {"email": True}})
    row = rows(uuid.UUID(patient["id"]), "pending")[0]
    saved = app.config["MAIL_PORT"]
    app.config.update(MAIL_PORT=1, DISPATCH_MAX_ATTEMPTS=3)  # nothing listens there
    try:
        moment = row.due_at
        for attempt in (1, 2, 3):
            dispatch(moment)
            db.session.refresh(row)
            assert row.attempts == attempt and row.last_error.startswith("email:")
            assert row.channel == "inbox"  # in the app's inbox from the first try
            if attempt < 3:
                assert row.status == "pending" and row.due_at == moment + timedelta(seconds=60 * 2 ** (attempt - 1))
                assert dispatch(row.due_at - timedelta(seconds=1))["claimed"] == 0  # not before its time
                moment = row.due_at
        assert row.status == "failed"
    finally:
        app.config.update(MAIL_PORT=saved, DISPATCH_MAX_ATTEMPTS=5)
    assert smtp.messages == []


def test_push_goes_through_fcm_v1_and_forgets_unregistered_devices(app, app_ctx, world):
    patient_actor, patient, _ = patient_with_plan(world, NOW, [item("12:00")], time_zone="Asia/Shanghai")
    with PushEndpoint() as fcm, at(NOW, patient_actor):
        app.config.update(FCM_ENDPOINT=fcm.url, FCM_PROJECT_ID="standstrong-test", FCM_ACCESS_TOKEN="token-1")
        try:
            for token in ("device-token-aaaa", "device-token-bbbb"):
                assert patient_actor.post("/api/v1/me/devices", json={"token": token, "platform": "android"}).status_code == 201
            patient_actor.put("/api/v1/patients/me/notification-preferences", json={"channels": {"push": True}})
            fcm.answers = [(200, {"name": "m1"}), (404, {"error": {"status": "NOT_FOUND", "details": [
                {"errorCode": "UNREGISTERED"}]}})]
            row = rows(uuid.UUID(patient["id"]), "pending")[0]
            dispatch(row.due_at)
        finally:
            app.config.update(FCM_PROJECT_ID="", FCM_ACCESS_TOKEN="")
    assert [r["path"] for r in fcm.requests] == ["/v1/projects/standstrong-test/messages:send"] * 2
    assert fcm.requests[0]["auth"] == "Bearer token-1"
    message = fcm.requests[0]["body"]["message"]
    assert message["token"] == "device-token-aaaa" and message["notification"]["title"].startswith("该做")
    assert list(db.session.scalars(select(DeviceToken.token))) == ["device-token-aaaa"]
    db.session.refresh(row)
    assert row.channel == "inbox,push"


def test_push_server_errors_are_retried(app, app_ctx, world):
    patient_actor, patient, _ = patient_with_plan(world, NOW, [item("12:00")], time_zone="Asia/Shanghai")
    with PushEndpoint() as fcm, at(NOW, patient_actor):
        app.config.update(FCM_ENDPOINT=fcm.url, FCM_PROJECT_ID="p", FCM_ACCESS_TOKEN="t")
        try:
            patient_actor.post("/api/v1/me/devices", json={"token": "device-token-cccc", "platform": "ios"})
            patient_actor.put("/api/v1/patients/me/notification-preferences", json={"channels": {"push": True}})
            row = rows(uuid.UUID(patient["id"]), "pending")[0]
            fcm.answers = [(503, {"error": {"status": "UNAVAILABLE"}})]
            dispatch(row.due_at)
            db.session.refresh(row)
            assert (row.status, row.last_error, row.channel) == ("pending", "push: HTTP 503", "inbox")
            dispatch(row.due_at)
            db.session.refresh(row)
            assert (row.status, row.channel, row.attempts) == ("sent", "inbox,push", 2)
        finally:
            app.config.update(FCM_PROJECT_ID="", FCM_ACCESS_TOKEN="")
    assert len(fcm.requests) == 2


def test_slow_delivery_hands_back_what_it_cannot_send_before_its_claim_could_expire(app, app_ctx, world):
    pid, due, now = uuid.UUID(world.a_id), utc(2020, 1, 1), utc(2020, 1, 1, 0, 1)  # before anything else is due
    assert world.patient_a.put("/api/v1/patients/me/notification-preferences",
                               json={"caregivers_receive": True}).status_code == 200  # the caregiver's row goes too
    for user in (world.patient_a.id, world.caregiver_a.id):
        enqueue(recipient_user_id=uuid.UUID(user), patient_id=pid, kind="plan_reminder", dedupe_key=f"slow:{user}",
                due_at=due, payload={}, now=due)
    app.config.update(DISPATCH_CLAIM_TIMEOUT_SECONDS=0)  # every moment is "too slow"
    try:
        outcome = dispatch(now)
    finally:
        app.config.update(DISPATCH_CLAIM_TIMEOUT_SECONDS=300)
    statuses = sorted(db.session.execute(select(Notification.status, Notification.attempts)
                                         .where(Notification.dedupe_key.like("slow:%"))).all())
    assert outcome["sent"] == 1 and statuses == [("pending", 0), ("sent", 1)]
    assert dispatch(now)["sent"] == 1  # the next tick sends the rest
    assert {s for s, in db.session.execute(select(Notification.status).where(
        Notification.dedupe_key.like("slow:%")))} == {"sent"}


# --- the inbox and snooze -----------------------------------------------------------------

def _delivered(world, when=NOW):
    patient_actor, patient, _ = patient_with_plan(world, when, [item("12:00")], time_zone="Asia/Shanghai")
    first = rows(uuid.UUID(patient["id"]), "pending")[0]
    dispatch(first.due_at)
    return patient_actor, patient, first


def test_inbox_lists_marks_read_and_counts_unread(app_ctx, world):
    patient_actor, patient, first = _delivered(world)
    with at(first.due_at + timedelta(minutes=1), patient_actor, world.patient_b, world.coord_a):
        listed = patient_actor.get("/api/v1/patients/me/notifications").get_json()
        assert listed["meta"]["total"] == 1
        entry = listed["items"][0]
        assert entry["kind"] == "plan_reminder" and entry["subject"].startswith("该做") and entry["read_at"] is None
        english = patient_actor.get("/api/v1/patients/me/notifications?lang=en").get_json()["items"][0]
        assert english["subject"].startswith("Time for")
        # the item's time (12:00 in the patient's zone) as each reader writes it; the payload keeps "12:00"
        assert "时间12:00" in entry["text"] and "at 12:00\u202fPM." in english["text"], (entry["text"], english["text"])
        assert entry["payload"]["time"] == english["payload"]["time"] == "12:00"
        assert patient_actor.get("/api/v1/patients/me/notifications/unread-count").get_json() == {"unread": 1}
        # the coordinator has no notifications of their own about this patient
        assert world.coord_a.get(f"/api/v1/patients/{patient['id']}/notifications").get_json()["meta"]["total"] == 0
        read = patient_actor.post(f"/api/v1/patients/me/notifications/{entry['id']}/read")
        assert read.status_code == 200 and read.get_json()["read_at"]
        assert patient_actor.get("/api/v1/patients/me/notifications?unread=true").get_json()["meta"]["total"] == 0
        assert patient_actor.post("/api/v1/patients/me/notifications/read").get_json() == {"marked": 0}
        assert world.patient_b.post(f"/api/v1/patients/me/notifications/{entry['id']}/read").status_code == 404
        mine = patient_actor.get("/api/v1/me/notifications?lang=en").get_json()
        assert [n["id"] for n in mine["items"]] == [entry["id"]] and mine["items"][0]["read_at"]
        assert world.patient_b.get("/api/v1/me/notifications").get_json()["meta"]["total"] == 0
        assert world.patient_b.post(f"/api/v1/me/notifications/{entry['id']}/read").status_code == 404
        assert patient_actor.post(f"/api/v1/me/notifications/{entry['id']}/read").status_code == 200


@pytest.mark.parametrize("until,minutes", [("30m", 30), ("60m", 60), ("later_today", 180)])
def test_snooze_reminds_again_and_a_session_cancels_the_snoozed_one_too(app_ctx, world, until, minutes):
    patient_actor, patient, first = _delivered(world)
    moment = first.due_at + timedelta(minutes=2)  # 12:02 in Shanghai
    with at(moment, patient_actor):
        response = patient_actor.post(f"/api/v1/patients/me/notifications/{first.id}/snooze", json={"until": until})
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["due_at"].startswith((moment + timedelta(minutes=minutes)).isoformat()[:16])
        assert patient_actor.get("/api/v1/patients/me/notifications/unread-count").get_json() == {"unread": 0}
        again = patient_actor.post(f"/api/v1/patients/me/notifications/{first.id}/snooze", json={"until": until})
        assert again.status_code == 201  # idempotent at the same moment
        patient_actor.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}", json={
            "item_key": first.payload["item_key"], "started_at": moment.isoformat(), "duration_minutes": 5})
    snoozed = db.session.scalar(select(Notification).where(Notification.dedupe_key.like(f"{first.dedupe_key}:snooze:%")))
    assert snoozed.status == "cancelled"


def _pending_snoozes(root: str) -> list:
    return sorted(db.session.scalars(select(Notification.due_at).where(
        Notification.dedupe_key.like(f"{root}:snooze:%"), Notification.status == "pending")))


def test_snoozing_a_reminder_again_does_not_queue_a_second_reminder(app_ctx, world):
    """A retried snooze (its answer lost, or a double tap a second apart) or a changed mind (30
    then 60 minutes) leaves one pending reminder, due when the latest snooze said."""
    url = f"/api/v1/patients/me/notifications/{world.notification_a}/snooze"
    first = db.session.get(Notification, uuid.UUID(world.notification_a))
    for seconds, until in ((60, "30m"), (61, "30m"), (120, "60m")):
        with at(first.created_at + timedelta(seconds=seconds), world.patient_a):
            response = world.patient_a.post(url, json={"until": until})
            assert response.status_code == 201, response.get_json()
    assert _pending_snoozes(first.dedupe_key) == [first.created_at + timedelta(seconds=120, minutes=60)]


def test_a_snoozed_reminder_delivered_can_be_snoozed_again_and_still_one_is_pending(app_ctx, world):
    """The snoozed copy, once delivered, is snoozed like any reminder; a later snooze of the
    original (or of the copy) then moves that pending one, it does not add another."""
    patient_actor, patient, first = _delivered(world)
    snooze = "/api/v1/patients/me/notifications/{}/snooze"
    with at(first.due_at + timedelta(minutes=2), patient_actor):
        copy = patient_actor.post(snooze.format(first.id), json={"until": "30m"}).get_json()
    dispatch(first.due_at + timedelta(minutes=32))
    with at(first.due_at + timedelta(minutes=33), patient_actor):
        listed = patient_actor.get("/api/v1/patients/me/notifications").get_json()["items"]
        assert [n["id"] for n in listed if n["read_at"] is None] == [copy["id"]]
        again = patient_actor.post(snooze.format(copy["id"]), json={"until": "30m"})
        assert again.status_code == 201 and again.get_json()["id"] != copy["id"], again.get_json()
    with at(first.due_at + timedelta(minutes=34), patient_actor):
        for notification_id in (first.id, copy["id"]):
            assert patient_actor.post(snooze.format(notification_id), json={"until": "60m"}).status_code == 201
    assert _pending_snoozes(first.dedupe_key) == [first.due_at + timedelta(minutes=94)]
    assert db.session.get(Notification, uuid.UUID(copy["id"])).status == "sent"


@pytest.mark.committing
def test_snoozes_sent_at_once_leave_one_pending_reminder(app):
    world = World(app.test_client()).build()
    url = f"/api/v1/patients/me/notifications/{world.notification_a}/snooze"
    headers = world.patient_a.headers
    answers = at_once([lambda until=until: app.test_client().post(url, json={"until": until}, headers=headers)
                       .status_code for until in ("30m", "30m", "60m", "60m")])
    assert answers == [201] * 4
    with app.app_context():
        root = db.session.get(Notification, uuid.UUID(world.notification_a)).dedupe_key
        assert len(_pending_snoozes(root)) == 1


def test_a_reminder_snoozed_after_its_session_was_logged_is_not_sent(app_ctx, world):
    """A session cancels what is pending for its occurrence, the snoozed copy too; a snooze made
    after the session (an old notification answered late) is refused: the exercise is done."""
    patient_actor, patient, first = _delivered(world)
    done = first.due_at + timedelta(minutes=5)
    with at(done, patient_actor):
        logged = patient_actor.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}", json={
            "item_key": first.payload["item_key"], "started_at": done.isoformat(), "duration_minutes": 5})
        assert logged.status_code == 201, logged.get_json()
    with at(done + timedelta(minutes=5), patient_actor):
        snoozed = patient_actor.post(f"/api/v1/patients/me/notifications/{first.id}/snooze", json={"until": "30m"})
        assert snoozed.status_code == 409 and snoozed.mimetype == "application/problem+json", snoozed.get_json()
    dispatch(done + timedelta(minutes=40))
    assert [r.dedupe_key for r in rows(uuid.UUID(patient["id"])) if ":snooze" in r.dedupe_key] == []


def test_snooze_later_today_is_refused_late_in_the_evening(app_ctx, world):
    patient_actor, patient, _ = patient_with_plan(world, NOW, [item("21:30")], time_zone="Asia/Shanghai")
    first = rows(uuid.UUID(patient["id"]), "pending")[0]
    dispatch(first.due_at)
    with at(first.due_at, patient_actor):
        response = patient_actor.post(f"/api/v1/patients/me/notifications/{first.id}/snooze", json={"until": "later_today"})
        assert response.status_code == 409 and response.mimetype == "application/problem+json"
        assert patient_actor.post(f"/api/v1/patients/me/notifications/{first.id}/snooze",
                                  json={"until": "60m"}).status_code == 201


def _caregiver_sent_a_reminder(world):
    """A patient (Asia/Shanghai) whose plan reminds at 12:00, sharing reminders by e-mail with a
    caregiver, and the caregiver's first reminder (Monday 12:00) delivered: (the patient's actor,
    patient id, the caregiver's actor, the caregiver's user id, that row)."""
    patient_actor, patient, _ = patient_with_plan(world, NOW, [item("12:00")], time_zone="Asia/Shanghai")
    pid = uuid.UUID(patient["id"])
    with at(NOW, patient_actor):
        caregiver = caregiver_for(world.client, patient_actor)
    with at(NOW, patient_actor, caregiver):
        assert patient_actor.put("/api/v1/patients/me/notification-preferences", json={
            "caregivers_receive": True, "channels": {"email": True}}).status_code == 200
    carer = uuid.UUID(caregiver.id)
    first = rows(pid, "pending", recipient=carer)[0]
    dispatch(first.due_at)
    return patient_actor, pid, caregiver, carer, first


def test_a_revoked_caregiver_is_not_sent_reminders_queued_before_the_revocation(app_ctx, world, smtp):
    patient_actor, pid, caregiver, carer, first = _caregiver_sent_a_reminder(world)  # Tuesday's is queued too
    assert len(smtp.to(caregiver.email)) == 1 and len(smtp.to(patient_actor.email)) == 1
    moment = first.due_at + timedelta(minutes=2)
    with at(moment, patient_actor, caregiver):
        snoozed = caregiver.post(f"/api/v1/patients/me/notifications/{first.id}/snooze", json={"until": "60m"})
        assert snoozed.status_code == 201, snoozed.get_json()
        revoke_caregiver(patient_actor, caregiver)
    assert {r.status for r in rows(pid, recipient=carer) if r.id != first.id} == {"cancelled"}  # snoozed, Tuesday's
    smtp.clear()
    dispatch(first.due_at + timedelta(days=1, minutes=1))  # the snooze and Tuesday's reminder are due
    assert smtp.to(caregiver.email) == []
    assert len(smtp.to(patient_actor.email)) == 1  # the patient's own still go
    assert [r.status for r in rows(pid, recipient=uuid.UUID(patient_actor.id))] == ["sent", "sent"]


def test_the_dispatcher_sends_nothing_about_a_patient_to_someone_no_longer_related(app_ctx, world, smtp):
    """A row that reaches the outbox for a recipient after their access ended (a materialiser run
    that read the caregivers before the revocation, say) is cancelled when due, not sent."""
    patient_actor, patient, _ = patient_with_plan(world, NOW, [item("12:00")], time_zone="Asia/Shanghai")
    pid = uuid.UUID(patient["id"])
    with at(NOW, patient_actor):
        caregiver = caregiver_for(world.client, patient_actor)
        assert patient_actor.put("/api/v1/patients/me/notification-preferences",
                                 json={"channels": {"email": True}}).status_code == 200
        revoke_caregiver(patient_actor, caregiver)
    for user in (patient_actor.id, caregiver.id):
        enqueue(recipient_user_id=uuid.UUID(user), patient_id=pid, kind="plan_reminder", dedupe_key=f"late:{user}",
                due_at=NOW, payload={}, now=NOW)
    db.session.commit()
    dispatch(NOW + timedelta(minutes=1))
    assert smtp.to(caregiver.email) == [] and len(smtp.to(patient_actor.email)) == 1
    late = {r.recipient_user_id: r for r in rows(pid) if r.dedupe_key.startswith("late:")}
    assert late[uuid.UUID(patient_actor.id)].status == "sent"
    dispatch(NOW + timedelta(hours=1))  # a later tick (and its reclaim) leaves it as it is
    void = late[uuid.UUID(caregiver.id)]
    db.session.refresh(void)
    assert (void.status, void.channel, void.sent_at, void.claim_token) == ("cancelled", None, None, None)
    assert smtp.to(caregiver.email) == []


def test_a_revoked_caregivers_own_inbox_no_longer_shows_what_it_got_about_the_patient(app_ctx, world, smtp):
    """/me/notifications lists what reached the account's inbox about any patient: about a
    patient the account no longer acts for, nothing, and it cannot be opened either."""
    patient_actor, _pid, caregiver, _carer, first = _caregiver_sent_a_reminder(world)
    moment = first.due_at + timedelta(minutes=1)
    with at(moment, caregiver):
        before = caregiver.get("/api/v1/me/notifications").get_json()
        assert [n["id"] for n in before["items"]] == [str(first.id)]
    with at(moment, patient_actor, caregiver):
        revoke_caregiver(patient_actor, caregiver)
        after = caregiver.get("/api/v1/me/notifications").get_json()
        assert (after["items"], after["meta"]["total"]) == ([], 0)
        opened = caregiver.post(f"/api/v1/me/notifications/{first.id}/read")
        assert opened.status_code == 404, opened.get_json()
        assert patient_actor.get("/api/v1/me/notifications").get_json()["meta"]["total"] == 1  # the patient's own


def test_what_a_caregiver_snoozed_is_not_sent_once_the_patient_withdraws_consent_or_opts_out(app_ctx, world, smtp):
    """A snoozed reminder is a row of its own, which the materialiser did not make: turning
    caregivers_receive off, or opting out of its kind, cancels it too (and the next day's)."""
    patient_actor, pid, caregiver, carer, first = _caregiver_sent_a_reminder(world)
    for hours, withdrawal in ((0, {"caregivers_receive": False}), (3, {"opted_out": ["plan_reminder"]})):
        moment = first.due_at + timedelta(hours=hours, minutes=2)
        with at(moment, patient_actor, caregiver):
            if withdrawal.get("opted_out"):  # consent again, then the kind opted out instead
                assert patient_actor.put("/api/v1/patients/me/notification-preferences",
                                         json={"caregivers_receive": True}).status_code == 200
            snoozed = caregiver.post(f"/api/v1/patients/me/notifications/{first.id}/snooze", json={"until": "60m"})
            assert snoozed.status_code == 201, snoozed.get_json()
            changed = patient_actor.put("/api/v1/patients/me/notification-preferences", json=withdrawal)
            assert changed.status_code == 200, changed.get_json()
        smtp.clear()
        dispatch(moment + timedelta(hours=2))
        assert smtp.to(caregiver.email) == [], withdrawal
        assert [r.status for r in rows(pid, recipient=carer) if r.status in ("pending", "sending")] == [], withdrawal


def test_a_caregiver_cannot_snooze_a_reminder_back_once_the_patient_withdrew_consent(app_ctx, world, smtp):
    patient_actor, pid, caregiver, carer, first = _caregiver_sent_a_reminder(world)
    moment = first.due_at + timedelta(minutes=2)
    with at(moment, patient_actor, caregiver):
        assert patient_actor.put("/api/v1/patients/me/notification-preferences",
                                 json={"caregivers_receive": False}).status_code == 200
        refused = caregiver.post(f"/api/v1/patients/me/notifications/{first.id}/snooze", json={"until": "30m"})
        assert assert_problem(refused, 409)["errors"] == {"until": ["Not shared with caregivers now."]}
    assert [r for r in rows(pid, recipient=carer) if r.status == "pending"] == []


def test_a_caregivers_snooze_of_a_kind_the_patient_no_longer_shares_is_refused_not_silently_dropped(
        app_ctx, world, smtp):
    """The patient shares reminders with caregivers, then opts out of plan reminders: a caregiver's
    snooze of one delivered before is refused (409), as when consent is withdrawn, not answered
    201 and then cancelled by the dispatcher as not shared."""
    patient_actor, pid, caregiver, carer, first = _caregiver_sent_a_reminder(world)
    moment = first.due_at + timedelta(minutes=2)
    with at(moment, patient_actor, caregiver):
        assert patient_actor.put("/api/v1/patients/me/notification-preferences",
                                 json={"opted_out": ["plan_reminder"]}).status_code == 200
        refused = caregiver.post(f"/api/v1/patients/me/notifications/{first.id}/snooze", json={"until": "30m"})
        assert assert_problem(refused, 409)["errors"] == {"until": ["Not shared with caregivers now."]}
        own = patient_actor.get("/api/v1/patients/me/notification-preferences").get_json()
        assert own["caregivers_receive"] is True and own["opted_out"] == ["plan_reminder"]
    assert [r for r in rows(pid, recipient=carer) if r.status == "pending"] == []


def _queued_late(recipients, pid, kind="plan_reminder") -> None:
    """What a materialiser run that read the preferences before they changed writes after:
    a row due now for each recipient about the patient."""
    for user in recipients:
        enqueue(recipient_user_id=uuid.UUID(user), patient_id=pid, kind=kind, dedupe_key=f"late:{user}",
                due_at=NOW + timedelta(hours=4), payload={}, now=NOW)
    db.session.commit()


@pytest.mark.parametrize("change", [{"caregivers_receive": False}, {"opted_out": ["plan_reminder"]}])
def test_the_dispatcher_sends_a_caregiver_nothing_the_patient_no_longer_shares(app_ctx, world, smtp, change):
    """A row for a caregiver that reaches the outbox after the patient stopped sharing it (consent
    withdrawn, or the kind opted out) is cancelled when due, with the reason, not sent."""
    patient_actor, pid, caregiver, carer, first = _caregiver_sent_a_reminder(world)
    with at(first.due_at, patient_actor):
        changed = patient_actor.put("/api/v1/patients/me/notification-preferences", json=change)
        assert changed.status_code == 200, changed.get_json()
    _queued_late([caregiver.id], pid)
    smtp.clear()
    dispatch(NOW + timedelta(hours=4, minutes=1))
    assert smtp.to(caregiver.email) == []
    [late] = [r for r in rows(pid, recipient=carer) if r.dedupe_key.startswith("late:")]
    assert (late.status, late.channel, late.sent_at, late.attempts) == ("cancelled", None, None, 0)
    assert late.last_error == "not sent: the patient does not share this reminder with caregivers"


def test_the_dispatcher_sends_a_caregiver_what_the_patient_shares(app_ctx, world, smtp):
    patient_actor, pid, caregiver, carer, first = _caregiver_sent_a_reminder(world)
    _queued_late([caregiver.id], pid)
    smtp.clear()
    dispatch(NOW + timedelta(hours=4, minutes=1))
    [late] = [r for r in rows(pid, recipient=carer) if r.dedupe_key.startswith("late:")]
    assert late.status == "sent" and len(smtp.to(caregiver.email)) == 1


def test_the_consent_check_at_send_time_runs_the_same_statements_for_one_caregiver_or_several(app_ctx, world, smtp):
    from tests.statements import statements_on
    counts = []
    for how_many in (1, 3):
        patient_actor, patient, _ = patient_with_plan(world, NOW, [item("12:00")], time_zone="Asia/Shanghai")
        pid = uuid.UUID(patient["id"])
        with at(NOW, patient_actor):
            caregivers = [caregiver_for(world.client, patient_actor, name=f"Carer {n}") for n in range(how_many)]
        db.session.execute(Notification.__table__.update().where(Notification.status == "pending")
                           .values(status="cancelled"))  # only the rows below are due
        _queued_late([c.id for c in caregivers], pid)
        with statements_on(db.session.get_bind()) as counted:
            dispatch(NOW + timedelta(hours=4, minutes=1))
        counts.append(counted.n)
        assert {r.status for r in rows(pid) if r.dedupe_key.startswith("late:")} == {"cancelled"}
    assert counts[0] == counts[1], counts


def test_devices_are_registered_listed_and_removed_by_their_account(world):
    body = {"token": "fcm-token-" + uuid.uuid4().hex, "platform": "android"}
    created = world.patient_a.post("/api/v1/me/devices", json=body)
    assert created.status_code == 201
    assert world.patient_a.post("/api/v1/me/devices", json=body).status_code == 200
    listed = world.patient_a.get("/api/v1/me/devices").get_json()
    assert [d["id"] for d in listed["items"]] == [created.get_json()["id"]] and "token" not in listed["items"][0]
    assert world.patient_b.delete(f"/api/v1/me/devices/{created.get_json()['id']}").status_code == 404
    assert world.patient_a.delete(f"/api/v1/me/devices/{created.get_json()['id']}").status_code == 204
    assert world.patient_a.get("/api/v1/me/devices").get_json()["meta"]["total"] == 0



@pytest.mark.committing
def test_one_device_removal_answers_204_once_when_sent_several_times_at_once(app):
    world = World(app.test_client()).build()
    created = world.patient_a.post("/api/v1/me/devices", json={"token": "fcm-token-" + uuid.uuid4().hex,
                                                               "platform": "android"})
    url = f"/api/v1/me/devices/{created.get_json()['id']}"
    statuses = at_once([lambda: app.test_client().delete(url, headers=world.patient_a.headers).status_code] * 4)
    assert sorted(statuses) == [204, 404, 404, 404], statuses


# --- the outbox interface and due notices from lower domains ------------------------------

def test_enqueue_is_insert_if_absent_and_cancel_touches_pending_only(app_ctx, world):
    pid, user = uuid.UUID(world.a_id), uuid.UUID(world.patient_a.id)
    args = dict(recipient_user_id=user, patient_id=pid, kind="plan_reminder", due_at=NOW, payload={}, now=NOW)
    assert enqueue(dedupe_key="k1", **args) is True
    assert enqueue(dedupe_key="k1", **args) is False
    assert enqueue(dedupe_key="k2", **args) is True
    dispatch(NOW)
    assert enqueue(dedupe_key="k3", **args) is True
    assert cancel_pending(patient_id=pid, kinds=["plan_reminder"], now=NOW) >= 1
    statuses = dict(db.session.execute(select(Notification.dedupe_key, Notification.status)
                                       .where(Notification.dedupe_key.in_(["k1", "k2", "k3"]))).all())
    assert statuses == {"k1": "sent", "k2": "sent", "k3": "cancelled"}


def test_due_notices_become_rows_for_each_recipient_out_of_quiet_hours(app_ctx, world, monkeypatch):
    patient_actor, patient, _ = patient_with_plan(world, NOW, [item("12:00")], time_zone="Asia/Shanghai")
    pid = uuid.UUID(patient["id"])
    late = DueNotice(pid, "plan_reminder", "test-notice:1", utc(2027, 5, 10, 15), {"exercise": "x"})  # 23:00
    monkeypatch.setattr(materialiser, "notice_sources", lambda: [lambda start, end: [late]])
    with at(NOW, patient_actor):
        patient_actor.put("/api/v1/patients/me/notification-preferences",
                          json={"quiet_hours": {"start": "22:00", "end": "07:00"}})
    [row] = [r for r in rows(pid, "pending") if r.occurrence_key == "test-notice:1"]
    assert row.due_at == utc(2027, 5, 10, 23)  # 07:00 the next morning
    assert row.dedupe_key == f"{patient_actor.id}:test-notice:1"
    monkeypatch.setattr(materialiser, "notice_sources", lambda: [lambda start, end: []])
    materialise(NOW, patient_ids=[pid])
    db.session.refresh(row)
    assert row.status == "cancelled"  # no longer reported as due: void


def test_every_kind_has_subject_and_text_in_both_languages():
    for kind, texts in catalogue().items():
        for language in ("en", "zh-CN"):
            assert texts[language]["subject"].strip() and texts[language]["text"].strip(), (kind, language)


def _run_once_before(engine, marker: str, action):
    """Run action (in its own thread, to its end) the first time this thread's connection is about
    to execute a statement containing marker: another request landing at that point."""
    import threading

    state = {"done": False}
    here = threading.get_ident()

    def hook(conn, cursor, statement, parameters, context, executemany):
        if not state["done"] and threading.get_ident() == here and marker in statement:
            state["done"] = True
            other = threading.Thread(target=action)
            other.start()
            other.join(timeout=60)

    event.listen(engine, "before_cursor_execute", hook)
    return lambda: event.remove(engine, "before_cursor_execute", hook)


@pytest.mark.committing
def test_a_push_token_handed_over_while_its_old_account_logs_out_is_registered(app):
    """A family phone: the patient logs out and the caregiver logs in on it. The app registers the
    phone's token for the caregiver while the patient's logout is deleting the token's old
    registration (PostgreSQL: the insert-if-absent found the row, the logout deleted it, and the
    registration read none: a 500, and the caregiver's phone got no pushes). It is registered."""
    from tests.factories import World

    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: the logout waits for the registration")
    world = World(app.test_client()).build()
    token = "fcm-shared-family-phone"
    assert world.patient_a.post("/api/v1/me/devices", json={"token": token, "platform": "android"}).status_code == 201
    patient_headers = world.patient_a.headers
    stop = _run_once_before(engine, "FROM device_tokens",
                            lambda: app.test_client().post("/api/v1/auth/logout", headers=patient_headers))
    try:
        response = world.caregiver_a.post("/api/v1/me/devices", json={"token": token, "platform": "android"})
    finally:
        stop()
    assert response.status_code in (200, 201), (response.status_code, response.get_data(as_text=True)[:300])
    assert [d["id"] for d in world.caregiver_a.get("/api/v1/me/devices").get_json()["items"]] == [response.get_json()["id"]]


@pytest.mark.committing
@pytest.mark.parametrize("snoozed_before", [False, True])
def test_a_snooze_at_once_with_the_session_it_reminds_of_leaves_nothing_pending(app, snoozed_before):
    """The snooze checks that no session satisfies the reminder, then queues its copy; the
    session's write cancels what is pending of its occurrence. At once (PostgreSQL), the snooze
    read before the session committed and wrote after its cancel: a new copy, or one the write
    cancelled brought back, would remind of an exercise logged already. Here the snooze comes
    right after the write's cancel, and the write waits up to a second for it before committing."""
    from app.sessions.signals import session_saving
    client = app.test_client()
    world = World(client).build()
    with app.app_context():
        patient_actor, patient, first = _delivered(world)
        occurrence = first.occurrence_key
    moment = first.due_at + timedelta(minutes=5)
    url = f"/api/v1/patients/me/notifications/{first.id}/snooze"
    cancelled, snoozed = threading.Event(), threading.Event()

    def write_waits_for_the_snooze(_app, session=None, **_kwargs):
        cancelled.set()
        snoozed.wait(timeout=1)

    def snooze(c):
        cancelled.wait(timeout=5)
        try:
            return c.post(url, json={"until": "30m"}, headers=headers).status_code
        finally:
            snoozed.set()

    def log(c):
        return c.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}", headers=headers, json={
            "item_key": first.payload["item_key"], "started_at": moment.isoformat(), "duration_minutes": 5}).status_code

    with at(moment, patient_actor):
        headers = patient_actor.headers
        if snoozed_before:
            assert client.post(url, json={"until": "30m"}, headers=headers).status_code == 201
        session_saving.connect(write_waits_for_the_snooze)
        try:
            logged, answered = at_once([partial(log, app.test_client()), partial(snooze, app.test_client())])
        finally:
            session_saving.disconnect(write_waits_for_the_snooze)
    assert logged == 201 and answered in (201, 409), (logged, answered)
    with app.app_context():
        pending = db.session.scalars(select(Notification.dedupe_key).where(
            Notification.occurrence_key == occurrence, Notification.status == "pending")).all()
    assert pending == [], (answered, pending)


@pytest.mark.parametrize("snoozing", ["copy", "original"])
def test_a_snooze_moves_the_reminder_of_a_copy_waiting_for_a_retry(app, app_ctx, world, smtp, snoozing):
    """The snoozed copy reached the inbox, its e-mail failed and waits for a retry; the patient
    snoozes it (or the original) again for an hour: one reminder is pending, due in an hour on
    every channel, and the retry of the one answered is not sent meanwhile."""
    patient_actor, patient, first = _delivered(world)
    with at(NOW, patient_actor):
        patient_actor.put("/api/v1/patients/me/notification-preferences", json={"channels": {"email": True}})
    snooze = "/api/v1/patients/me/notifications/{}/snooze"
    with at(first.due_at + timedelta(minutes=2), patient_actor):
        copy = patient_actor.post(snooze.format(first.id), json={"until": "30m"}).get_json()
    saved = app.config["MAIL_PORT"]
    app.config.update(MAIL_PORT=1)  # nothing listens there
    try:
        dispatch(first.due_at + timedelta(minutes=32))
    finally:
        app.config.update(MAIL_PORT=saved)
    retrying = db.session.get(Notification, uuid.UUID(copy["id"]))
    assert (retrying.status, retrying.channel, retrying.attempts) == ("pending", "inbox", 1)
    moment = first.due_at + timedelta(minutes=33)
    with at(moment, patient_actor):
        again = patient_actor.post(snooze.format(copy["id"] if snoozing == "copy" else first.id), json={"until": "60m"})
        assert again.status_code == 201, again.get_json()
        assert again.get_json()["due_at"].startswith((moment + timedelta(minutes=60)).isoformat()[:16])
    assert _pending_snoozes(first.dedupe_key) == [moment + timedelta(minutes=60)]
    smtp.clear()
    assert dispatch(moment + timedelta(minutes=5))["sent"] == 0 and smtp.messages == []  # the retry's time
    dispatch(moment + timedelta(minutes=60))
    assert len(smtp.to(patient_actor.email)) == 1
    assert _pending_snoozes(first.dedupe_key) == []


def _follow_up_delivered(app_ctx, coord, patient_id):
    now = utcnow()
    enqueue(recipient_user_id=uuid.UUID(coord.id), patient_id=uuid.UUID(patient_id), kind="contact_follow_up",
            dedupe_key=f"follow-up:{coord.id}", due_at=now, now=now,
            payload={"follow_up_on": now.date().isoformat(), "contact_id": str(uuid.uuid4())})
    db.session.commit()
    dispatch(now)


def test_a_coordinators_inbox_is_in_the_accounts_language(app_ctx, world):
    """A zh-CN coordinator reads the follow-up reminder in Chinese in GET /me/notifications (as its
    e-mail went), with no ?lang nor Accept-Language; ?lang still wins."""
    coord = world.coord_a
    assert world.admin.patch(f"/api/v1/users/{coord.id}", json={"language": "zh-CN"}).status_code == 200
    _follow_up_delivered(app_ctx, coord, world.a_id)
    [item] = coord.get("/api/v1/me/notifications?kind=contact_follow_up").get_json()["items"]
    assert "随访" in item["text"], item["text"]
    [english] = coord.get("/api/v1/me/notifications?kind=contact_follow_up&lang=en").get_json()["items"]
    assert "随访" not in english["text"], english["text"]


def test_a_coordinators_inbox_about_a_patient_is_in_the_coordinators_language(app_ctx, world):
    """GET /patients/{id}/notifications for a coordinator lists their own notifications about the
    patient: in the coordinator's language (English, never set), not the patient's (zh-CN)."""
    coord = world.coord_a
    _follow_up_delivered(app_ctx, coord, world.a_id)
    [item] = coord.get(f"/api/v1/patients/{world.a_id}/notifications").get_json()["items"]
    assert "随访" not in item["text"] and item["kind"] == "contact_follow_up", item["text"]
    assert world.admin.patch(f"/api/v1/users/{coord.id}", json={"language": "zh-CN"}).status_code == 200
    [item] = coord.get(f"/api/v1/patients/{world.a_id}/notifications").get_json()["items"]
    assert "随访" in item["text"], item["text"]
