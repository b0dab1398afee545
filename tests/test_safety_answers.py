"""Safety answers after a session (blood pressure first, the clinic's emergency number) and the
contraindications checked when a plan is assigned (recent fracture, blood clot)."""
import re
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from app.common import clinical
from app.common.clock import local_today
from app.sessions import content
from tests.factories import at, enrolled_patient
from tests.test_errors import assert_problem

NOW = datetime(2027, 3, 3, 10, 0, tzinfo=timezone.utc)


def log(actor, *symptoms, lang="en"):
    data = {"exercise": "passive-standing", "started_at": (NOW - timedelta(hours=1)).isoformat(),
            "duration_minutes": 30, "symptoms": list(symptoms)}
    with at(NOW, actor):
        response = actor.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}", json=data,
                             headers={"Accept-Language": lang})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def tetraplegic(client, world):
    return enrolled_patient(client, world.coord_a, neurological_level="C6", language="en",
                            time_zone="Europe/London")[0]


@pytest.fixture
def paraplegic(client, world):
    return enrolled_patient(client, world.coord_a, neurological_level="L1", language="en",
                            time_zone="Europe/London")[0]


def test_dizziness_asks_for_blood_pressure_first_then_high_or_low_steps(tetraplegic):
    out = log(tetraplegic, "dizziness")
    assert out["needs_review"] is True
    [alert] = out["safety_alerts"]
    assert alert["code"] == "check_blood_pressure" and "measure your blood pressure" in alert["steps"][0]
    high, low = alert["branches"]
    assert (high["when"], high["answer"], low["when"], low["answer"]) == (
        "high", "autonomic_dysreflexia", "low", "orthostatic_hypotension")
    assert "20 mmHg or more above your usual" in high["condition"] and high["steps"][0].startswith("Stop the session. Sit up")
    assert "Tilt the table or frame back" in low["steps"][0] and "by 10" in low["condition"]
    assert high["card"] and "AUTONOMIC DYSREFLEXIA" in high["card"] and low["card"] is None


def test_blurred_vision_is_not_read_as_dysreflexia_alone(tetraplegic):
    # A pounding headache with blurred vision: still one answer, and it measures first.
    out = log(tetraplegic, "pounding_headache", "blurred_vision")
    assert [a["code"] for a in out["safety_alerts"]] == ["check_blood_pressure"]
    headache_only = log(tetraplegic, "pounding_headache")
    assert [a["code"] for a in headache_only["safety_alerts"]] == ["autonomic_dysreflexia"]


def test_dysreflexia_answer_has_the_full_steps_the_card_and_the_number(tetraplegic):
    [alert] = log(tetraplegic, "flushing_or_sweating")["safety_alerts"]
    steps = " ".join(alert["steps"])
    for words in ("Stay upright until your blood pressure is back", "Without one: empty your bladder with a catheter now",
                  "check for a full bowel", "then your skin", "go to emergency care even if it settles again",
                  "say it is autonomic dysreflexia, ask to stay sitting up", "call your local emergency number"):
        assert words in steps, words
    assert alert["emergency_number"] is None and "sitting up" in alert["card"]
    assert "Consortium for Spinal Cord Medicine 2021" in alert["source"] and ".md" not in alert["source"]
    assert all(r["citation"] and r["url"] for r in alert["references"])


def test_below_the_dysreflexia_level_dizziness_gets_the_low_pressure_answer(paraplegic):
    out = log(paraplegic, "dizziness", "pounding_headache")
    assert [a["code"] for a in out["safety_alerts"]] == ["orthostatic_hypotension", "dysreflexia_signs_below_level"]
    assert "Measure your blood pressure" in out["safety_alerts"][0]["steps"][1]
    faint = log(paraplegic, "faint_or_weak_when_upright")
    assert [a["code"] for a in faint["safety_alerts"]] == ["orthostatic_hypotension"]


def test_below_the_dysreflexia_level_a_headache_still_gets_an_answer_emergency_signs_first(paraplegic):
    # Dysreflexia is uncommon below T6 but reported; a sudden severe headache can be a stroke or a bleed.
    [alert] = log(paraplegic, "pounding_headache")["safety_alerts"]
    steps = alert["steps"]
    assert alert["code"] == "dysreflexia_signs_below_level" and alert["severity"] == "warning"
    assert steps[0].startswith("Stop the session. Call your local emergency number now if the headache came on suddenly")
    assert "Measure again after 5 minutes of rest" in steps[1]
    assert "uncommon with an injury below T6, but it can happen" in steps[2] and "still 20 mmHg or more" in steps[2]
    assert "If it stays high or keeps rising, or you cannot reach your care team, call your local emergency number" in steps[3]
    assert {r["key"] for r in alert["references"]} == {"cscm-ad-2021", "nhs-headaches", "nhs-stroke-symptoms"}
    [chinese] = log(paraplegic, "flushing_or_sweating", lang="zh-CN")["safety_alerts"]
    assert chinese["code"] == "dysreflexia_signs_below_level" and chinese["language"] == "zh-CN"
    assert any("T6以下" in step and "20 mmHg" in step for step in chinese["steps"])


def test_urgent_answers_come_before_warnings_whatever_order_the_symptoms_were_reported(paraplegic):
    out = log(paraplegic, "pressure_redness_or_broken_skin", "pounding_headache", "chest_pain_or_breathless")
    assert [a["code"] for a in out["safety_alerts"]] == [
        "chest_pain_or_breathlessness", "skin_injury", "dysreflexia_signs_below_level"]


def test_swelling_gets_checked_the_same_day_for_fracture_or_clot(paraplegic):
    [alert] = log(paraplegic, "swelling_warmth_or_deformity")["safety_alerts"]
    steps = " ".join(alert["steps"])
    assert "same day" in steps and "deep vein thrombosis" in steps and "heterotopic ossification" in steps


def test_skin_redness_is_a_warning_with_one_rule_for_pressure(paraplegic):
    [alert] = log(paraplegic, "pressure_redness_or_broken_skin")["safety_alerts"]
    assert alert["severity"] == "warning" and "30 minutes" in alert["steps"][1] and "2 hours" in alert["steps"][1]


def test_chest_pain_or_breathlessness_calls_for_an_ambulance_at_any_level(paraplegic, tetraplegic):
    for patient in (paraplegic, tetraplegic):
        [alert] = log(patient, "chest_pain_or_breathless")["safety_alerts"]
        assert alert["code"] == "chest_pain_or_breathlessness" and alert["severity"] == "urgent"
        assert alert["steps"][0].startswith("Stop the session and call your local emergency number now")
        assert "lungs" in alert["steps"][1]


def test_dysreflexia_defers_to_a_personal_plan_without_dosing(tetraplegic):
    [alert] = log(tetraplegic, "pounding_headache")["safety_alerts"]
    steps = " ".join(alert["steps"])
    assert "personal dysreflexia plan or a medicine for it, follow that plan" in steps
    assert not re.search(r"\d+\s*(mg|microgram|µg|tablet)", steps, re.I)


@pytest.fixture
def clinic_file(tmp_path, monkeypatch):
    path = tmp_path / "clinic.yaml"
    path.write_text('emergency_number: "999"\n', encoding="utf-8")
    monkeypatch.setenv("CLINIC_SETTINGS_FILE", str(path))
    clinical.clinic_settings.cache_clear()
    yield path
    monkeypatch.delenv("CLINIC_SETTINGS_FILE")
    clinical.clinic_settings.cache_clear()


def test_the_emergency_number_is_the_clinics_whatever_the_language(tetraplegic, clinic_file):
    english = log(tetraplegic, "pounding_headache", lang="en")["safety_alerts"][0]
    assert english["emergency_number"] == "999" and any("call 999" in s for s in english["steps"])
    chinese = log(tetraplegic, "pounding_headache", lang="zh-CN")["safety_alerts"][0]
    assert chinese["emergency_number"] == "999" and any("拨打999" in s for s in chinese["steps"])


@pytest.mark.parametrize("setting", ["", "emergency_number: null", 'emergency_number: ""',
                                     "emergency_number: {en: '911', zh-CN: '120'}", "emergency_number: call us"])
def test_without_a_valid_clinic_number_no_number_is_guessed(tetraplegic, clinic_file, setting):
    clinic_file.write_text(setting + "\n", encoding="utf-8")
    clinical.clinic_settings.cache_clear()
    english = log(tetraplegic, "pounding_headache", lang="en")["safety_alerts"][0]
    assert english["emergency_number"] is None
    assert any("call your local emergency number" in s for s in english["steps"])
    chinese = content.alert_view("possible_fracture", "zh-CN")
    assert chinese["emergency_number"] is None and any("立即拨打当地急救电话" in s for s in chinese["steps"])
    assert not any(n in " ".join(english["steps"] + chinese["steps"]) for n in ("120", "911", "999", "112"))


def test_the_shipped_settings_assume_no_country():
    clinical.clinic_settings.cache_clear()
    assert clinical.emergency_number() is None
    assert "your local emergency number" in " ".join(content.alert_view("orthostatic_hypotension", "en")["steps"])


def test_the_months_before_a_date_are_calendar_months():
    assert clinical.months_before(date(2027, 3, 31), 1) == date(2027, 2, 28)
    assert clinical.months_before(date(2027, 1, 15), 3) == date(2026, 10, 15)
    assert clinical.months_before(date(2024, 2, 29), 12) == date(2023, 2, 28)


# --- plans: contraindications --------------------------------------------------------------

def plans_url(ref):
    return f"/api/v1/patients/{ref}/plans"


@pytest.mark.parametrize("exercise,warned", [("passive-standing", True), ("fes-cycling", True),
                                              ("standing-vibration", True), ("passive-range-of-motion", False),
                                              ("upper-body-exercise", False)])
def test_a_recent_blood_clot_contraindicates_standing_and_fes(client, world, exercise, warned):
    six_weeks_ago = (local_today("Asia/Shanghai") - timedelta(weeks=6)).isoformat()  # the patient's zone
    _, profile = enrolled_patient(client, world.coord_a, neurological_level="L2",
                                  known_clots=[{"site": "left calf (deep vein thrombosis)", "date": six_weeks_ago}])
    assert profile["known_clots"][0]["date"] == six_weeks_ago
    body = {"items": [{"exercise": exercise, "minutes": 30, "sessions_per_week": 3}]}
    response = world.coord_a.post(plans_url(profile["id"]), json=body)
    if not warned:
        assert response.status_code == 201
        return
    [warning] = assert_problem(response, 409)["warnings"]
    assert warning["code"] == "recent_clot" and warning["requires"] == "override" and warning["exercises"] == [exercise]
    assert "3 months" in warning["message"]
    cleared = world.coord_a.post(plans_url(profile["id"]), json=body | {
        "acknowledge_warnings": ["recent_clot"], "override_reason": "Anticoagulated, cleared by the treating doctor"})
    assert cleared.status_code == 201
    assert cleared.get_json()["version_in_force"]["warnings_acknowledged"] == ["recent_clot"]


def test_an_old_clot_does_not_warn(client, world):
    _, profile = enrolled_patient(client, world.coord_a, neurological_level="L2",
                                  known_clots=[{"site": "right calf", "date": "2020-05-01"}])
    body = {"items": [{"exercise": "fes-cycling", "minutes": 30, "sessions_per_week": 3}]}
    assert world.coord_a.post(plans_url(profile["id"]), json=body).status_code == 201
