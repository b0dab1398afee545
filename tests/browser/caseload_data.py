"""A small caseload for the browser journey, made through the API as a coordinator and their
patients would (tests/factories.py): coordinator A's three patients, with six weeks of sessions,
DXA scans and the flags the rules raise from what the patients logged."""
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.factories import World, at, enrolled_patient, patient_body
from tests.plan_history import EVERY_DAY

PLAN_WEEKS = 6


@dataclass
class Programme:
    profile: dict
    plan: dict

    @property
    def id(self) -> str:
        return self.profile["id"]


def local_today(zone: ZoneInfo) -> date:
    """The patients' today: after 16:00 UTC it is already tomorrow in Shanghai."""
    return datetime.now(zone).date()


def programme(client, coordinator, name, *, done_days_ago, symptoms=None, dxa=(), **profile) -> Programme:
    """A patient enrolled six weeks ago on a daily 30-minute FES cycling plan who logged a session
    on each of done_days_ago (the API takes sessions up to 30 days back); symptoms: {days_ago: [...]}."""
    zone = ZoneInfo(profile.get("time_zone", patient_body()["time_zone"]))
    today = local_today(zone)
    start = today - timedelta(weeks=PLAN_WEEKS)
    with at(datetime.combine(start, time(1, 0), UTC), coordinator):
        patient, created = enrolled_patient(client, coordinator, display_name=name, **profile)
        plan = coordinator.post(f"/api/v1/patients/{created['id']}/plans", json={
            "start_date": start.isoformat(), "acknowledge_warnings": ["autonomic_dysreflexia"],
            "items": [{"exercise": "fes-cycling", "minutes": 30, "days_of_week": EVERY_DAY}]})
        assert plan.status_code == 201, plan.get_json()
        plan = plan.get_json()
    patient.relogin()
    key = plan["versions"][0]["items"][0]["item_key"]
    for days_ago in sorted(done_days_ago, reverse=True):
        started = datetime.combine(today - timedelta(days=days_ago), time(10, 0), zone)  # the patient's days
        body = {"item_key": key, "started_at": started.isoformat(), "duration_minutes": 30 if days_ago % 4 else 20,
                "symptoms": (symptoms or {}).get(days_ago, [])}
        logged = patient.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}", json=body)
        assert logged.status_code == 201, logged.get_json()
    for scan_date, bmd in dxa:
        result = coordinator.post(f"/api/v1/patients/{created['id']}/dxa/results", json={
            "scan_date": scan_date.isoformat(), "site": "distal_femur", "side": "left", "bmd": bmd,
            "centre": "Walk Centre", "machine": "Hologic A"})
        assert result.status_code == 201, result.get_json()
    return Programme(created, plan)


class ConsoleWorld:
    """World (tests/factories.py: coordinators A and B, patient A with an open lapse warning) and two
    more patients of coordinator A: Wang Fang, who reported signs of autonomic dysreflexia (an urgent
    flag) and skin redness (a warning) and whose knee BMD is falling; Chen Jing, on track, no flag."""

    def __init__(self, client):
        self.world = World(client).build()
        coordinator = self.world.coord_a
        today = local_today(ZoneInfo(patient_body()["time_zone"]))
        self.urgent = programme(
            client, coordinator, "Wang Fang", done_days_ago=[1, 2, 4, 6, 9, 11, 14, 17, 21, 25],
            symptoms={2: ["pressure_redness_or_broken_skin"], 1: ["pounding_headache"]},
            dxa=[(today - timedelta(days=730), 0.802), (today - timedelta(days=365), 0.741),
                 (today - timedelta(days=20), 0.668)])
        self.calm = programme(client, coordinator, "Chen Jing", done_days_ago=range(1, 29), neurological_level="T10",
                              dxa=[(today - timedelta(days=400), 0.911), (today - timedelta(days=35), 0.902)])
        flags = coordinator.get(f"/api/v1/patients/{self.urgent.id}/flags").get_json()["items"]
        self.urgent_flag = next(f["id"] for f in flags if f["severity"] == "urgent")
        self.warning_flag = next(f["id"] for f in flags if f["rule_id"] == "skin_breakdown")

    def flag(self, flag_id) -> dict:
        response = self.world.coord_a.get(f"/api/v1/patients/{self.urgent.id}/flags?limit=100")
        assert response.status_code == 200, response.get_json()
        return next(flag for flag in response.get_json()["items"] if flag["id"] == flag_id)
