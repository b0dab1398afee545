"""End to end, the way the app and a coordinator use the API on the first day."""
import uuid
from datetime import datetime, timezone

import time_machine

from app.cli import DEMO_PASSWORD, create_demo_accounts
from app.education.seed import load_education
from app.exercises.seed import load_exercises
from app.plans.seed import load_plan_templates
from tests.factories import PASSWORD, bearer, login


@time_machine.travel(datetime(2027, 3, 3, 4, 0, tzinfo=timezone.utc), tick=False)  # noon in Shanghai
def test_first_day(client, app):
    with app.app_context():
        load_education()
        load_exercises()
        load_plan_templates()
        create_demo_accounts()
    coordinator = bearer(login(client, "coordinator@demo.standstrong.local", DEMO_PASSWORD)["access_token"])

    created = client.post("/api/v1/patients", headers=coordinator, json={
        "display_name": "Wang Fang", "date_of_birth": "1975-04-09", "sex": "female", "injury_date": "2025-12-01",
        "neurological_level": "T8", "ais_grade": "B", "time_zone": "Asia/Shanghai", "language": "zh-CN"})
    assert created.status_code == 201
    patient_id, code = created.get_json()["patient"]["id"], created.get_json()["invitation"]["code"]

    activated = client.post("/api/v1/auth/activate", json={"code": code, "email": "wang.fang@example.org",
                                                           "password": PASSWORD})
    assert activated.status_code == 201
    patient = bearer(activated.get_json()["access_token"])
    me = client.get("/api/v1/me", headers=patient).get_json()
    assert me["role"] == "patient" and me["patient"]["id"] == patient_id
    assert [p["id"] for p in client.get("/api/v1/patients", headers=patient).get_json()["items"]] == [patient_id]

    # The coordinator sees the new patient beside the demo ones; the demo patients do not see her.
    caseload = client.get("/api/v1/patients?q=Wang", headers=coordinator).get_json()["items"]
    assert [p["id"] for p in caseload] == [patient_id]
    li = bearer(login(client, "patient.li@demo.standstrong.local", DEMO_PASSWORD)["access_token"])
    assert client.get(f"/api/v1/patients/{patient_id}", headers=li).status_code == 404

    plan = client.post(f"/api/v1/patients/{patient_id}/plans", headers=coordinator,
                       json={"template": "standing-for-bone"})
    assert plan.status_code == 201  # T8: below T6, no dysreflexia warning
    agenda = client.get("/api/v1/patients/me/agenda", headers=patient).get_json()
    item = agenda["items"][0]
    # 5 a week from a Wednesday: this week plans 5 x 5/7, rounded, = 4.
    assert item["exercise"]["name"] == "被动站立" and (item["planned_this_week"], item["remaining_this_week"]) == (4, 4)

    session = {"item_key": item["item_key"], "duration_minutes": 60, "measures": {"angle_degrees": 75},
               "started_at": "2027-03-03T02:30:00+00:00"}
    assert client.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}", headers=patient, json=session).status_code == 201
    done = client.get("/api/v1/patients/me/agenda", headers=patient).get_json()["items"][0]
    assert done["done"] is True and done["remaining_this_week"] == 3

    adherence = client.get(f"/api/v1/patients/{patient_id}/adherence?window=7", headers=coordinator).get_json()
    assert adherence["completed_sessions"] == 1 and adherence["days_with_data_last_30"] == 1
    education = client.get("/api/v1/education/modules?per_page=1", headers=patient)
    assert education.headers["Content-Language"] == "zh-CN"
