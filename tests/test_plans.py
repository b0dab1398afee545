import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.common.clock import local_today
from app.extensions import db
from app.patients.models import Patient
from tests.factories import at, enrolled_patient
from tests.test_errors import assert_problem

# 2027-03-01 is a Monday. Noon UTC is evening in Shanghai and midday in London.
MONDAY = datetime(2027, 3, 1, 12, 0, tzinfo=timezone.utc)


def plans_url(ref):
    return f"/api/v1/patients/{ref}/plans"


@pytest.fixture
def lumbar(client, world):
    """A patient injured at L1 (no dysreflexia precaution), on coordinator A's caseload."""
    return enrolled_patient(client, world.coord_a, neurological_level="L1", time_zone="Europe/London")


def item(exercise="passive-standing", **kw):
    body = {"exercise": exercise, "minutes": 60, "sessions_per_week": 5}
    body.update(kw)
    if "days_of_week" in kw:
        body.pop("sessions_per_week")
    return body


def test_exercises_and_templates_are_bilingual_with_sources(world):
    exercises = world.coord_a.get("/api/v1/exercises?lang=en&per_page=100").get_json()["items"]
    slugs = {e["slug"] for e in exercises}
    assert {"passive-standing", "fes-cycling", "standing-vibration", "passive-range-of-motion",
            "upper-body-exercise", "pressure-relief"} <= slugs
    assert all(e["default_dose"]["source"] and e["instructions"] for e in exercises)
    fes = world.patient_a.get("/api/v1/exercises/fes-cycling").get_json()  # patient A prefers zh-CN
    assert fes["language"] == "zh-CN" and {m["key"] for m in fes["measures"]} == {"resistance_nm", "cadence_rpm", "distance_km"}
    by_id = world.coord_a.get(f"/api/v1/exercises/{fes['id']}?lang=en").get_json()
    assert by_id["slug"] == "fes-cycling" and by_id["name"] == "FES cycling"
    assert_problem(world.coord_a.get("/api/v1/exercises/nope"), 404)
    templates = world.coord_a.get("/api/v1/plan-templates?lang=en").get_json()["items"]
    standing = next(t for t in templates if t["slug"] == "standing-for-bone")
    assert "Alekna 2008" in standing["source"] and standing["items"][0]["minutes"] == 60
    assert {"standing-for-bone", "fes-cycling", "combined-programme", "gentle-start"} <= {t["slug"] for t in templates}


def test_template_assignment_needs_dysreflexia_acknowledged_at_t6_and_above(world):
    url = plans_url(world.a_id)  # patient A: T4
    refused = world.coord_a.post(url, json={"template": "standing-for-bone"})
    problem = assert_problem(refused, 409)
    assert [w["code"] for w in problem["warnings"]] == ["autonomic_dysreflexia"]
    created = world.coord_a.post(url, json={"template": "standing-for-bone",
                                            "acknowledge_warnings": ["autonomic_dysreflexia"]})
    assert created.status_code == 201
    plan = created.get_json()
    assert plan["name"] == "站立护骨计划" and plan["status"] == "active"
    version = plan["version_in_force"]
    assert version["warnings_acknowledged"] == ["autonomic_dysreflexia"]
    assert version["items"][0]["sessions_per_week"] == 5 and version["items"][0]["exercise_slug"] == "passive-standing"
    education = world.patient_a.get("/api/v1/patients/me/education").get_json()
    assert education["items"][0]["slug"] == "safety-standing-and-fes" and education["items"][0]["recommended"]


def test_item_by_item_for_a_low_injury_has_no_warning(world, lumbar):
    patient, profile = lumbar
    body = {"name": "Home", "items": [
        item(),
        item("fes-cycling", minutes=30, days_of_week=["mon", "wed", "fri"], time_of_day="16:00", notes="low resistance"),
    ]}
    created = world.coord_a.post(plans_url(profile["id"]), json=body)
    assert created.status_code == 201, created.get_json()
    items = created.get_json()["version_in_force"]["items"]
    assert items[1]["days_of_week"] == ["mon", "wed", "fri"] and items[1]["time_of_day"] == "16:00"
    assert patient.get(plans_url("me")).get_json()["meta"]["total"] == 1


def test_a_plan_item_naming_its_exercise_by_an_upper_case_uuid_is_accepted(world, lumbar):
    """Clients that print UUIDs in upper case (Swift's uuidString, .NET) name an exercise by its
    id: the plan and a new version of it take it as the exercise it is."""
    url = plans_url(lumbar[1]["id"])
    exercise = world.coord_a.get("/api/v1/exercises/fes-cycling").get_json()
    created = world.coord_a.post(url, json={"items": [item(exercise["id"].upper(), minutes=20)]})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["version_in_force"]["items"][0]["exercise_id"] == exercise["id"]
    plan_url = f"{url}/{created.get_json()['id']}"
    changed = world.coord_a.post(f"{plan_url}/versions", if_match_of=plan_url, json={"items": [
        item(exercise["id"].upper(), minutes=25), item("passive-standing")]})
    assert changed.status_code == 201, changed.get_json()
    assert [i["exercise_slug"] for i in changed.get_json()["versions"][-1]["items"]] == ["fes-cycling", "passive-standing"]


@pytest.mark.parametrize("exercise,warned", [("passive-standing", True), ("standing-vibration", True),
                                              ("fes-cycling", True), ("passive-range-of-motion", True),
                                              ("upper-body-exercise", False)])
def test_recent_fracture_contraindicates_loading_the_limb(client, world, exercise, warned):
    three_months_ago = (local_today("Asia/Shanghai") - timedelta(days=90)).isoformat()  # the patient's zone
    _, profile = enrolled_patient(client, world.coord_a, neurological_level="L2",
                                  known_fractures=[{"site": "distal femur", "date": three_months_ago}])
    body = {"items": [item(exercise)]}
    response = world.coord_a.post(plans_url(profile["id"]), json=body)
    if not warned:
        assert response.status_code == 201
        return
    assert assert_problem(response, 409)["warnings"][0]["requires"] == "override"
    acknowledged_only = world.coord_a.post(plans_url(profile["id"]), json=body | {"acknowledge_warnings": ["recent_fracture"]})
    assert_problem(acknowledged_only, 409)
    overridden = world.coord_a.post(plans_url(profile["id"]), json=body | {
        "acknowledge_warnings": ["recent_fracture"], "override_reason": "Cleared by orthopaedics on review"})
    assert overridden.status_code == 201
    assert overridden.get_json()["version_in_force"]["override_reason"] == "Cleared by orthopaedics on review"
    override = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "override"))
    assert override.detail == "recent_fracture" and str(override.patient_id) == profile["id"]


def test_a_recent_fracture_stored_without_a_site_still_warns_by_its_date(client, world):
    """A profile change once stored a fracture without its site (a change now refuses one); the
    warning names such a record by its date, and the plan is assigned with the override."""
    recent = (local_today("Asia/Shanghai") - timedelta(days=10)).isoformat()
    _, profile = enrolled_patient(client, world.coord_a, neurological_level="L2")
    patient = db.session.get(Patient, uuid.UUID(profile["id"]))
    patient.known_fractures = [{"date": recent}]
    db.session.commit()
    body = {"template": "standing-for-bone"}
    [warning] = assert_problem(world.coord_a.post(plans_url(profile["id"]), json=body), 409)["warnings"]
    assert warning["code"] == "recent_fracture" and f": {recent}." in warning["message"], warning
    overridden = world.coord_a.post(plans_url(profile["id"]), json=body | {
        "acknowledge_warnings": ["recent_fracture"], "override_reason": "Orthopaedics cleared standing"})
    assert overridden.status_code == 201, overridden.get_json()


def test_old_fracture_does_not_warn(client, world):
    _, profile = enrolled_patient(client, world.coord_a, neurological_level="L2",
                                  known_fractures=[{"site": "proximal tibia", "date": "2020-01-01"}])
    assert world.coord_a.post(plans_url(profile["id"]), json={"items": [item()]}).status_code == 201


@pytest.mark.parametrize("body,field", [
    ({"items": [{"exercise": "passive-standing", "minutes": 60, "sessions_per_week": 5, "days_of_week": ["mon"]}]}, "items"),
    ({"items": [{"exercise": "passive-standing", "minutes": 60}]}, "items"),
    ({"items": [item(minutes=0)]}, "items"),
    ({"items": [item(time_of_day="25:00")]}, "items"),
    ({"items": [item(days_of_week=["mon", "mon"])]}, "items"),
    ({"items": [item()], "template": "gentle-start"}, "items"),
    ({}, "items"),
    ({"items": [item()], "start_date": "2000-01-01"}, "start_date"),
    ({"template": "no-such-template"}, "template"),
])
def test_plan_validation(world, lumbar, body, field):
    response = world.coord_a.post(plans_url(lumbar[1]["id"]), json=body)
    assert field in assert_problem(response, 422)["errors"]


def test_unknown_exercise_is_reported_by_item_index(world, lumbar):
    response = world.coord_a.post(plans_url(lumbar[1]["id"]), json={"items": [item(), item("juggling")]})
    assert assert_problem(response, 422)["errors"]["items"]["1"]["exercise"]


def test_versions_keep_history_and_answer_past_dates(world, lumbar):
    url = plans_url(lumbar[1]["id"])
    with at(MONDAY, world.coord_a):
        plan = world.coord_a.post(url, json={"items": [item(minutes=30)]}).get_json()
        key = plan["version_in_force"]["items"][0]["item_key"]
        changed = world.coord_a.post(f"{url}/{plan['id']}/versions", if_match_of=f"{url}/{plan['id']}", json={
            "effective_from": "2027-03-08", "change_note": "build up",
            "items": [item(minutes=45, item_key=key), item("pressure-relief", minutes=2, days_of_week=["mon"])]})
        assert changed.status_code == 201, changed.get_json()
        body = changed.get_json()
        assert [v["number"] for v in body["versions"]] == [1, 2]
        assert body["version_in_force"]["number"] == 1  # today is still version 1
        later = world.coord_a.get(f"{url}/{plan['id']}?on=2027-03-09").get_json()["version_in_force"]
        assert later["number"] == 2 and later["items"][0]["item_key"] == key and later["items"][0]["minutes"] == 45
        earlier = world.coord_a.get(f"{url}/{plan['id']}?on=2027-03-02").get_json()["version_in_force"]
        assert earlier["items"][0]["minutes"] == 30
        before = world.coord_a.get(f"{url}/{plan['id']}?on=2027-02-28").get_json()["version_in_force"]
        assert before is None
        backwards = world.coord_a.post(f"{url}/{plan['id']}/versions", if_match_of=f"{url}/{plan['id']}", json={
            "effective_from": "2027-03-04", "items": [item()]})
        assert "effective_from" in assert_problem(backwards, 422)["errors"]
        stranger_key = world.coord_a.post(f"{url}/{plan['id']}/versions", if_match_of=f"{url}/{plan['id']}", json={
            "effective_from": "2027-03-08", "items": [item(item_key="00000000-0000-0000-0000-000000000001")]})
        assert_problem(stranger_key, 422)
        # Same-day replacement: the later number wins on that date.
        again = world.coord_a.post(f"{url}/{plan['id']}/versions", if_match_of=f"{url}/{plan['id']}", json={
            "effective_from": "2027-03-08", "items": [item(minutes=50, item_key=key)]}).get_json()
        assert again["versions"][-1]["number"] == 3
        on_ninth = world.coord_a.get(f"{url}/{plan['id']}?on=2027-03-08").get_json()["version_in_force"]
        assert on_ninth["number"] == 3


def test_pause_resume_and_end(world, lumbar):
    url = plans_url(lumbar[1]["id"])
    with at(MONDAY, world.coord_a):
        plan = world.coord_a.post(url, json={"items": [item()]}).get_json()
        paused = world.coord_a.post(f"{url}/{plan['id']}/pause", if_match_of=f"{url}/{plan['id']}", json={"reason": "hospital stay"})
        assert paused.get_json()["status"] == "paused"
        assert_problem(world.coord_a.post(f"{url}/{plan['id']}/pause", if_match_of=f"{url}/{plan['id']}", json={"reason": "again"}), 409)
        assert world.coord_a.get(f"{url}?status=paused").get_json()["meta"]["total"] == 1
        assert world.coord_a.get(f"{url}?status=active").get_json()["meta"]["total"] == 0
    with at(MONDAY + timedelta(days=5), world.coord_a):
        resumed = world.coord_a.post(f"{url}/{plan['id']}/resume", if_match_of=f"{url}/{plan['id']}", json={}).get_json()
        assert resumed["status"] == "active"
        assert resumed["pauses"] == [{"id": resumed["pauses"][0]["id"], "start_date": "2027-03-01",
                                      "end_date": "2027-03-05", "reason": "hospital stay"}]
        assert_problem(world.coord_a.post(f"{url}/{plan['id']}/resume", if_match_of=f"{url}/{plan['id']}", json={}), 409)
        ended = world.coord_a.post(f"{url}/{plan['id']}/end", if_match_of=f"{url}/{plan['id']}", json={"on": "2027-03-09", "reason": "goal met"}).get_json()
        assert ended["ended_on"] == "2027-03-08" and ended["status"] == "active"
        assert_problem(world.coord_a.post(f"{url}/{plan['id']}/end", if_match_of=f"{url}/{plan['id']}", json={"reason": "again"}), 409)
    with at(MONDAY + timedelta(days=8), world.coord_a):
        assert world.coord_a.get(f"{url}/{plan['id']}").get_json()["status"] == "ended"
        assert_problem(world.coord_a.post(f"{url}/{plan['id']}/versions", if_match_of=f"{url}/{plan['id']}", json={"items": [item()]}), 409)
        assert world.coord_a.get(f"{url}?status=ended").get_json()["meta"]["total"] == 1


def test_a_plan_with_an_end_date_ahead_can_still_be_paused_while_it_runs(world):
    """The programme ends at the end of next month; meanwhile the patient goes to hospital."""
    plan_url = f"{plans_url(world.a_id)}/{world.plan_a['id']}"
    today = local_today(world.profile_a["time_zone"])
    ended = world.coord_a.post(f"{plan_url}/end", json={"on": (today + timedelta(days=40)).isoformat(),
                                                         "reason": "programme ends"}, if_match_of=plan_url)
    assert ended.status_code == 200, ended.get_json()
    assert ended.get_json()["status"] == "active"

    paused = world.coord_a.post(f"{plan_url}/pause", json={"reason": "hospital stay"}, if_match_of=plan_url)

    assert paused.status_code == 200, paused.get_json()
    assert paused.get_json()["status"] == "paused"


def test_a_plan_ending_ahead_is_paused_resumed_and_changed_until_its_last_day(world, lumbar):
    """Ends on 2027-03-11: 03-10 is its last day, and it runs until then."""
    url = plans_url(lumbar[1]["id"])
    with at(MONDAY, world.coord_a):
        plan_url = f"{url}/{world.coord_a.post(url, json={'items': [item()]}).get_json()['id']}"
        paused = world.coord_a.post(f"{plan_url}/pause", if_match_of=plan_url, json={"reason": "hospital stay"})
        assert paused.status_code == 200, paused.get_json()
        ended = world.coord_a.post(f"{plan_url}/end", if_match_of=plan_url, json={"on": "2027-03-11", "reason": "programme ends"})
        assert ended.get_json()["ended_on"] == "2027-03-10" and ended.get_json()["status"] == "paused"
    with at(MONDAY + timedelta(days=2), world.coord_a):
        resumed = world.coord_a.post(f"{plan_url}/resume", if_match_of=plan_url, json={})
        assert resumed.status_code == 200, resumed.get_json()
        assert resumed.get_json()["status"] == "active"
        assert resumed.get_json()["pauses"][0]["end_date"] == "2027-03-02"
        changed = world.coord_a.post(f"{plan_url}/versions", if_match_of=plan_url, json={
            "effective_from": "2027-03-10", "items": [item(minutes=45)]})
        assert changed.status_code == 201, changed.get_json()
        after_end = assert_problem(world.coord_a.post(f"{plan_url}/versions", if_match_of=plan_url, json={
            "effective_from": "2027-03-11", "items": [item(minutes=30)]}), 422)
        assert "effective_from" in after_end["errors"]
        late_pause = assert_problem(world.coord_a.post(f"{plan_url}/pause", if_match_of=plan_url, json={
            "start_date": "2027-03-11", "reason": "holiday"}), 422)
        assert "start_date" in late_pause["errors"]
        assert_problem(world.coord_a.post(f"{plan_url}/end", if_match_of=plan_url, json={"reason": "again"}), 409)
    with at(MONDAY + timedelta(days=9), world.coord_a):  # 03-10, its last day
        last_day = world.coord_a.post(f"{plan_url}/pause", if_match_of=plan_url, json={"reason": "unwell"})
        assert last_day.status_code == 200, last_day.get_json()
        assert last_day.get_json()["status"] == "paused"
    with at(MONDAY + timedelta(days=10), world.coord_a):  # 03-11: it has ended
        assert world.coord_a.get(plan_url).get_json()["status"] == "ended"
        assert "ended" in assert_problem(world.coord_a.post(f"{plan_url}/resume", if_match_of=plan_url, json={}), 409)["detail"]
        assert_problem(world.coord_a.post(f"{plan_url}/pause", if_match_of=plan_url, json={"reason": "again"}), 409)
        assert_problem(world.coord_a.post(f"{plan_url}/versions", if_match_of=plan_url, json={"items": [item()]}), 409)


def test_patient_and_caregiver_read_but_do_not_write(world):
    url = plans_url(world.a_id)
    plan = world.coord_a.post(url, json={"template": "gentle-start", "acknowledge_warnings": ["autonomic_dysreflexia"]}).get_json()
    assert world.patient_a.get(plans_url("me")).get_json()["items"][0]["id"] == plan["id"]
    assert world.caregiver_a.get(f"{plans_url('me')}/{plan['id']}").status_code == 200
    assert_problem(world.patient_a.post(plans_url("me"), json={"template": "gentle-start"}), 403)
    assert_problem(world.caregiver_a.post(f"{plans_url('me')}/{plan['id']}/pause", json={"reason": "tired"}), 403)
    assert_problem(world.patient_b.get(f"{url}/{plan['id']}"), 404)
    assert_problem(world.coord_none.get(f"{url}/{plan['id']}"), 404)
    assert_problem(world.coord_b.post(f"{url}/{plan['id']}/end", json={"reason": "nope"}), 404)
    # Another patient's plan id under one's own patient id is not found either.
    assert_problem(world.patient_b.get(f"{plans_url('me')}/{plan['id']}"), 404)


def test_safety_warning_texts_are_data_in_every_language(world):
    from app.common.i18n import LANGUAGES
    from app.plans.safety import warning_texts
    from app.plans.schemas import WARNING_CODES

    assert set(warning_texts()["warnings"]) == set(WARNING_CODES)
    assert all(set(texts) == set(LANGUAGES) for texts in warning_texts()["warnings"].values())
    assert set(warning_texts()["safety_module_note"]) == set(LANGUAGES)
    values = {"level": "T4", "min_level": "T6", "months": 6, "sites": "distal femur (2027-01-02)",
              "exercises": "passive-standing"}
    for texts in warning_texts()["warnings"].values():
        assert all(text.format(**values) for text in texts.values())
    url = plans_url(world.a_id)  # T4: autonomic dysreflexia applies
    chinese = world.coord_a.post(url, json={"template": "gentle-start"}, headers={"Accept-Language": "zh-CN"})
    english = world.coord_a.post(url, json={"template": "gentle-start"})
    [zh] = assert_problem(chinese, 409)["warnings"]
    [en] = assert_problem(english, 409)["warnings"]
    assert (zh["code"], en["code"]) == ("autonomic_dysreflexia", "autonomic_dysreflexia")
    assert "自主神经反射异常" in zh["message"] and "T4" in zh["message"]
    assert "autonomic dysreflexia" in en["message"] and "T4" in en["message"]
