"""Builds accounts and patients through the API, the way the app and a coordinator would."""
import contextlib
import itertools
import threading
import uuid
from datetime import datetime, timedelta, timezone

import time_machine
from sqlalchemy import select

from app.auth.service import create_user
from app.common.clock import local_date, local_today
from app.education.seed import load_education
from app.exercises.seed import load_exercises
from app.extensions import db
from app.plans.seed import load_plan_templates
from app.reminders.dispatch import dispatch
from app.reminders.models import Notification
from app.reminders.service import enqueue
from app.rules.models import Flag, active_key

PASSWORD = "correct-horse-battery-staple-42"
_counter = itertools.count(1)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


class Actor:
    def __init__(self, client, email, password=PASSWORD, tokens=None):
        self.client = client
        self.email = email
        self.password = password
        self.tokens = tokens or login(client, email, password)
        self.id = self.tokens["user"]["id"]

    def relogin(self):
        """New tokens at the current (possibly travelled) time."""
        self.tokens = login(self.client, self.email, self.password)
        return self

    @property
    def headers(self):
        return bearer(self.tokens["access_token"])

    def _send(self, method, url, headers=None, if_match_of=None, **kw):
        """if_match_of: a resource URL to read first, to send its ETag as If-Match (a change of it)."""
        headers = {**self.headers, **(headers or {})}
        if if_match_of:
            read = self.client.get(if_match_of, headers=self.headers)
            assert read.status_code == 200 and read.headers.get("ETag"), (if_match_of, read.status_code)
            headers["If-Match"] = read.headers["ETag"]
        return getattr(self.client, method)(url, headers=headers, **kw)

    def get(self, url, **kw):
        return self._send("get", url, **kw)

    def post(self, url, json=None, **kw):
        return self._send("post", url, json=json, **kw)

    def put(self, url, json=None, **kw):
        return self._send("put", url, json=json, **kw)

    def patch(self, url, json=None, **kw):
        return self._send("patch", url, json=json, **kw)

    def delete(self, url, **kw):
        return self._send("delete", url, **kw)


def login(client, email, password=PASSWORD) -> dict:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def staff(client, role: str, name: str | None = None) -> Actor:
    email = f"{role}{next(_counter)}-{uuid.uuid4().hex[:6]}@clinic.example.org"
    with client.application.app_context():
        create_user(email=email, password=PASSWORD, role=role, display_name=name or email)
    return Actor(client, email)


def patient_body(**overrides) -> dict:
    body = {
        "display_name": f"Patient {uuid.uuid4().hex[:8]}",
        "date_of_birth": "1980-02-03",
        "sex": "female",
        "injury_date": "2024-06-01",
        "neurological_level": "T4",
        "ais_grade": "A",
        "time_zone": "Asia/Shanghai",
        "language": "zh-CN",
        "contact_email": "someone@example.org",
    }
    body.update(overrides)
    return body


def create_patient(coordinator: Actor, **overrides) -> dict:
    response = coordinator.post("/api/v1/patients", json=patient_body(**overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def activate(client, code: str, email: str | None = None, display_name=None) -> Actor:
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.org"
    body = {"code": code, "email": email, "password": PASSWORD}
    if display_name:
        body["display_name"] = display_name
    response = client.post("/api/v1/auth/activate", json=body)
    assert response.status_code == 201, response.get_json()
    return Actor(client, email, tokens=response.get_json())


def enrolled_patient(client, coordinator: Actor, **overrides) -> tuple[Actor, dict]:
    created = create_patient(coordinator, **overrides)
    return activate(client, created["invitation"]["code"]), created["patient"]


def caregiver_for(client, patient: Actor, name="Carer") -> Actor:
    response = patient.post("/api/v1/patients/me/caregivers/invitations", json={"relationship_note": "son"})
    assert response.status_code == 201, response.get_json()
    return activate(client, response.get_json()["code"], display_name=name)


def revoke_caregiver(patient: Actor, caregiver: Actor) -> None:
    """The patient revokes the caregiver's link, as the app does: found in their caregivers list."""
    listed = patient.get("/api/v1/patients/me/caregivers").get_json()["items"]
    [link] = [entry["id"] for entry in listed if entry["caregiver_id"] == caregiver.id]
    response = patient.delete(f"/api/v1/patients/me/caregivers/{link}")
    assert response.status_code == 204, response.get_json()


class World:
    def __init__(self, client):
        self.client = client

    def build(self):
        c = self.client
        self.admin = staff(c, "admin")
        self.coord_a = staff(c, "coordinator", "Coordinator A")
        self.coord_b = staff(c, "coordinator", "Coordinator B")
        self.coord_none = staff(c, "coordinator", "Coordinator of nobody")
        self.patient_a, self.profile_a = enrolled_patient(c, self.coord_a, display_name="Alice Marker-A")
        self.patient_b, self.profile_b = enrolled_patient(c, self.coord_b, display_name="Bob Marker-B",
                                                          time_zone="Europe/London", language="en")
        self.caregiver_a = caregiver_for(c, self.patient_a)
        self.a_id = self.profile_a["id"]
        self.b_id = self.profile_b["id"]
        with c.application.app_context():
            load_education()
            load_exercises()
            load_plan_templates()
        plan = self.coord_a.post(f"/api/v1/patients/{self.a_id}/plans", json={
            "template": "combined-programme", "acknowledge_warnings": ["autonomic_dysreflexia"]})
        assert plan.status_code == 201, plan.get_json()
        self.plan_a = plan.get_json()
        self.session_a = str(uuid.uuid4())
        logged = self.patient_a.put(f"/api/v1/patients/me/sessions/{self.session_a}", json=session_body(self))
        assert logged.status_code == 201, logged.get_json()
        self.notification_a = self._delivered_notification()
        self._bone_records()
        self.flag_a = self._open_flag()
        self.resource_ids = {"flag_id": self.flag_a,"slug": "keep-going", "plan_id": self.plan_a["id"], "session_id": self.session_a,
                             "notification_id": self.notification_a,
                             "result_id": self.dxa_result_a["id"], "followup_id": self.followup_a["id"],
                             "treatment_id": self.treatment_a["id"], "dose_id": self.dose_a["id"]}
        return self

    def _bone_records(self):
        """A DXA result with a planned follow-up, and a denosumab treatment with one dose, for patient A."""
        base = f"/api/v1/patients/{self.a_id}"
        today = local_today(self.profile_a["time_zone"])
        self.dxa_result_a = _created(self.coord_a.post(f"{base}/dxa/results", json={
            "scan_date": (today - timedelta(days=30)).isoformat(), "site": "distal_femur", "side": "left",
            "bmd": 0.712, "centre": "Walk Centre", "machine": "Hologic A"}))
        followups = self.coord_a.get(f"{base}/dxa/followups").get_json()["items"]
        self.followup_a = followups[0]
        self.treatment_a = _created(self.coord_a.post(f"{base}/medications", json={
            "medicine": "denosumab", "started_on": (today - timedelta(days=60)).isoformat()}))
        self.dose_a = _created(self.coord_a.post(f"{base}/medications/{self.treatment_a['id']}/doses", json={
            "given_on": (today - timedelta(days=60)).isoformat()}))["dose"]

    def _open_flag(self) -> str:
        """An open lapse flag of patient A (as a sweep opens one), for the routes that act on flags."""
        now = datetime.now(timezone.utc)
        today = local_date(now, self.profile_a["time_zone"])
        with self.client.application.app_context():
            flag = Flag(patient_id=uuid.UUID(self.a_id), rule_id="lapse", severity="warning", status="open",
                        active_key=active_key(self.a_id, "lapse"), opened_at=now, last_seen_at=now,
                        evidence={"days": 3, "last_session_date": (today - timedelta(days=3)).isoformat(),
                                  "as_of": today.isoformat()})
            db.session.add(flag)
            db.session.commit()
            return str(flag.id)

    def _delivered_notification(self) -> str:
        """One reminder in patient A's in-app inbox."""
        now = datetime.now(timezone.utc)
        with self.client.application.app_context():
            enqueue(recipient_user_id=uuid.UUID(self.patient_a.id), patient_id=uuid.UUID(self.a_id),
                    kind="plan_reminder", dedupe_key=f"world:{self.a_id}", due_at=now, now=now,
                    payload={"exercise": {"en": "Standing", "zh-CN": "站立"}, "minutes": 30, "time": "10:00"})
            db.session.commit()
            dispatch(now)
            return str(db.session.scalar(select(Notification.id).where(Notification.dedupe_key == f"world:{self.a_id}")))


def _created(response) -> dict:
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@contextlib.contextmanager
def at(moment, *actors):
    """Travel to moment (time stands still there) with fresh tokens for the actors."""
    saved = [actor.tokens for actor in actors]
    try:
        with time_machine.travel(moment, tick=False):
            for actor in actors:
                actor.relogin()
            yield
    finally:
        for actor, tokens in zip(actors, saved):
            actor.tokens = tokens


def session_body(world, **overrides) -> dict:
    """A valid session for patient A's first plan item, started ten minutes ago."""
    body = {"item_key": world.plan_a["versions"][0]["items"][0]["item_key"],
            "started_at": (datetime.now(timezone.utc) - timedelta(minutes=10)).isoformat(),
            "duration_minutes": 30}
    body.update(overrides)
    return body


def long_date_in(day, language: str) -> str:
    """A date as a reader of language reads it in a text ("Mar 2, 2027", "2027年3月2日"), written
    out here by hand so that a test does not take the app's own formatting on trust."""
    if language == "zh-CN":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day:%b} {day.day}, {day.year}"


def at_once(calls):
    """Run the calls in threads released together (a barrier); their results, in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results
