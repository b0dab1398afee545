"""The bone rules end to end: DXA results, follow-ups and doses through the API (app/dxa,
app/medications), flags raised on their signals and by the sweep, and cleared when resolved."""
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from dateutil.relativedelta import relativedelta

pytest.importorskip("app.dxa.service", reason="DXA and medications (issue 10b) are not merged yet")

from app.common.clock import local_today  # noqa: E402
from app.rules import service as rules  # noqa: E402
from tests.factories import enrolled_patient, long_date_in  # noqa: E402


def today() -> date:
    """The bone patients' today (Europe/London) as the app reckons it, when the test runs."""
    return local_today("Europe/London")


def days_ago(n: int) -> str:
    return (today() - timedelta(days=n)).isoformat()


@pytest.fixture
def bone(client, world):
    """A patient of coordinator A (London, L1) on a plan of standing (and FES) from today."""
    def make(exercises=("passive-standing", "fes-cycling")):
        _patient, profile = enrolled_patient(client, world.coord_a, neurological_level="L1",
                                             time_zone="Europe/London", language="en")
        url = f"/api/v1/patients/{profile['id']}"
        items = [{"exercise": e, "minutes": 30, "days_of_week": ["mon", "wed", "fri"]} for e in exercises]
        assert world.coord_a.post(f"{url}/plans", json={"items": items}).status_code == 201
        return url
    return make


def flags(world, url, query="status=active"):
    return {f["rule_id"]: f for f in world.coord_a.get(f"{url}/flags?{query}").get_json()["items"]}


def post(world, url, path, body, expect=201):
    response = world.coord_a.post(f"{url}/{path}", json=body)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


@pytest.fixture
def sweep(app):
    def run(url):
        with app.app_context():
            return rules.sweep(datetime.now(timezone.utc), [uuid.UUID(url.rsplit("/", 1)[1])])
    return run


def test_knee_bmd_below_threshold_while_standing_and_loss_beyond_lsc_on_the_result(world, bone, sweep):
    url = bone()
    post(world, url, "dxa/results", {"scan_date": days_ago(400), "site": "proximal_tibia", "side": "left", "bmd": 0.70})
    # the protocol planned the next scan a year after this one: 35 days ago, so overdue
    assert set(flags(world, url)) == {"dxa_followup_overdue"}
    post(world, url, "dxa/results", {"scan_date": days_ago(20), "site": "proximal_tibia", "side": "left", "bmd": 0.59})
    found = flags(world, url)  # raised (and the follow-up's flag cleared) when the result was written
    assert set(found) == {"knee_bmd_low_while_loading", "dxa_loss_beyond_lsc"}
    assert flags(world, url, "status=resolved")["dxa_followup_overdue"]["outcome"] == "condition_cleared"
    knee = found["knee_bmd_low_while_loading"]
    assert knee["evidence"]["lowest_bmd"] == 0.59 and knee["evidence"]["exercise_kinds"] == ["standing"]
    assert knee["title"] == "Knee BMD 0.59 g/cm² while the plan prescribes standing"
    loss = found["dxa_loss_beyond_lsc"]["evidence"]["sites"][0]
    assert loss["delta_g_cm2"] == -0.11 and loss["lsc"] == pytest.approx(0.0831, abs=0.0005)  # 0.030 x 2.77


def test_knee_at_the_threshold_or_without_loading_raises_nothing(world, bone, sweep):
    at_threshold = bone()
    post(world, at_threshold, "dxa/results", {"scan_date": days_ago(20), "site": "distal_femur", "side": "left",
                                              "bmd": 0.60})
    fes_only = bone(exercises=("fes-cycling",))
    post(world, fes_only, "dxa/results", {"scan_date": days_ago(20), "site": "distal_femur", "side": "left",
                                          "bmd": 0.50})
    sweep(at_threshold), sweep(fes_only)
    assert flags(world, at_threshold) == {} and flags(world, fes_only) == {}  # a first scan: no change yet


def test_dxa_follow_up_overdue_by_more_than_thirty_days(world, bone, sweep):
    just = bone()
    post(world, just, "dxa/followups", {"kind": "interval", "due_date": days_ago(30)})
    late = bone()
    post(world, late, "dxa/followups", {"kind": "interval", "due_date": days_ago(31)})
    sweep(just), sweep(late)
    assert "dxa_followup_overdue" not in flags(world, just)
    assert flags(world, late)["dxa_followup_overdue"]["evidence"]["days_overdue"] == 31


def test_denosumab_beyond_seven_months_is_urgent_and_a_dose_clears_it(world, bone, sweep):
    url = bone()
    treatment = post(world, url, "medications", {"medicine": "denosumab", "started_on": days_ago(400)})
    seven_months_ago = today() - relativedelta(months=7)
    post(world, url, f"medications/{treatment['id']}/doses", {"given_on": seven_months_ago.isoformat()})
    sweep(url)
    assert flags(world, url)["dose_overdue"]["severity"] == "warning"  # seven months today: not beyond yet
    other = bone()
    t2 = post(world, other, "medications", {"medicine": "denosumab", "started_on": days_ago(400)})
    post(world, other, f"medications/{t2['id']}/doses", {"given_on": (seven_months_ago - timedelta(days=1)).isoformat()})
    sweep(other)
    urgent = flags(world, other)["dose_overdue"]
    assert urgent["severity"] == "urgent" and urgent["evidence"]["medicine"] == "denosumab"
    post(world, other, f"medications/{t2['id']}/doses", {"given_on": today().isoformat()})  # dose_recorded
    assert "dose_overdue" not in flags(world, other)
    resolved = flags(world, other, "status=resolved")["dose_overdue"]
    assert resolved["outcome"] == "condition_cleared"


def test_caseload_timeline_and_fhir_show_scans_and_doses(world, bone, sweep):
    from fhir.resources.R4B.bundle import Bundle

    url = bone()
    pid = url.rsplit("/", 1)[1]
    post(world, url, "dxa/results", {"scan_date": days_ago(400), "site": "distal_femur", "side": "left", "bmd": 0.70,
                                     "t_score": -2.9})
    treatment = post(world, url, "medications", {"medicine": "zoledronic_acid", "started_on": days_ago(300)})
    post(world, url, f"medications/{treatment['id']}/doses", {"given_on": days_ago(300)})
    rows = world.coord_a.get("/api/v1/caseload?overdue=true&per_page=100").get_json()["items"]
    row = next(r for r in rows if r["patient"]["id"] == pid)
    assert row["dxa_overdue"] is True and row["next_dxa_due"] == days_ago(35)
    assert row["next_dose_due"] == (today() - timedelta(days=300) + relativedelta(months=12)).isoformat()
    assert row["dose_overdue"] is False
    kinds = [e["kind"] for e in world.coord_a.get(f"{url}/timeline?kind=dxa_result&kind=dose").get_json()["items"]]
    assert sorted(kinds) == ["dose", "dxa_result"]
    [followup] = world.coord_a.get(f"{url}/dxa/followups").get_json()["items"]
    booked = world.coord_a.patch(f"{url}/dxa/followups/{followup['id']}", json={
        "appointment": {"date": (today() + timedelta(days=10)).isoformat(), "time": "09:30", "place": "Room 3"}})
    assert booked.status_code == 200, booked.get_json()
    data = world.coord_a.get(f"{url}/fhir").get_json()
    bundle = Bundle.model_validate(data)
    types = [e.resource.get_resource_type() for e in bundle.entry]
    assert types.count("MedicationStatement") == 1 and types.count("Observation") == 1
    appointment = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Appointment")
    assert appointment["status"] == "booked" and appointment["start"].startswith(f"{today() + timedelta(days=10)}T09:30")
    dxa_obs = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Observation")
    assert dxa_obs["valueQuantity"]["value"] == 0.70
    assert dxa_obs["component"][0]["code"]["coding"][0]["code"] == "80948-3"


def test_a_dose_overdue_flag_names_the_medicine_in_the_readers_language(app, world, bone, sweep):
    """Its title said "denosumab dose overdue" (the code) in every language, in the API's flags
    and in the urgent message to the care team; the console already named the medicine."""
    from sqlalchemy import select

    from app.extensions import db
    from app.reminders.models import Notification

    url = bone()
    treatment = post(world, url, "medications", {"medicine": "denosumab", "started_on": days_ago(400)})
    post(world, url, f"medications/{treatment['id']}/doses",
         {"given_on": (today() - relativedelta(months=8)).isoformat()})
    sweep(url)
    en = flags(world, url, "status=active&lang=en")["dose_overdue"]
    zh = flags(world, url, "status=active&lang=zh-CN")["dose_overdue"]
    assert en["severity"] == "urgent" and en["title"].startswith("Denosumab dose overdue by "), en["title"]
    assert zh["title"].startswith("地舒单抗 用药已逾期"), zh["title"]
    with app.app_context():
        payloads = db.session.scalars(select(Notification.payload).where(
            Notification.patient_id == uuid.UUID(url.rsplit("/", 1)[1]), Notification.kind == "rule_flag_urgent")).all()
    assert payloads and all(p["rule_title"]["en"].startswith("Denosumab dose overdue") and
                            p["rule_title"]["zh-CN"].startswith("地舒单抗") for p in payloads), payloads


def test_a_knee_flag_names_the_loading_exercises_in_the_readers_language(world, bone, sweep):
    """Its explanation said the kinds' codes ("…prescribes standing, vibration", "计划中包含standing")
    in the API's flags; the console already named them. One list of names: seed/exercises/kinds.yaml."""
    url = bone(exercises=("passive-standing", "standing-vibration"))
    post(world, url, "dxa/results", {"scan_date": days_ago(20), "site": "distal_femur", "side": "left", "bmd": 0.55})
    sweep(url)
    en = flags(world, url, "status=active&lang=en")["knee_bmd_low_while_loading"]
    zh = flags(world, url, "status=active&lang=zh-CN")["knee_bmd_low_while_loading"]
    assert en["evidence"]["exercise_kinds"] == ["standing", "vibration"]  # the evidence keeps the codes
    assert "while the plan prescribes standing and vibration: review" in en["explanation"], en["explanation"]
    assert "计划中包含站立训练和振动训练" in zh["explanation"], zh["explanation"]
    # the title (all the care team's message carries) names what this patient's plan prescribes
    assert en["title"] == "Knee BMD 0.55 g/cm² while the plan prescribes standing and vibration"
    assert zh["title"] == "膝部骨密度 0.55 g/cm²，同时计划中包含站立训练和振动训练"
    assert "standing" not in zh["explanation"] + zh["title"] and "vibration" not in zh["explanation"]


def test_every_exercise_kind_has_a_name_in_every_language():
    from app.common.i18n import LANGUAGES
    from app.exercises.kinds import kind_names
    from app.exercises.models import KINDS

    assert set(kind_names()) == set(KINDS)
    assert all(kind_names()[kind].get(language) for kind in KINDS for language in LANGUAGES)


def test_an_overdue_scan_flag_names_the_kind_of_scan_in_the_readers_language(world, bone, sweep):
    """Its explanation said the kind's code ("原定于 … 的interval检查"); the console already named it.
    And its due date as ISO ("原定于 2026-10-28"): it is written in the reader's language too."""
    url = bone()
    post(world, url, "dxa/results", {"scan_date": days_ago(400), "site": "proximal_tibia", "side": "left", "bmd": 0.70})
    en = flags(world, url, "status=active&lang=en")["dxa_followup_overdue"]
    zh = flags(world, url, "status=active&lang=zh-CN")["dxa_followup_overdue"]
    kind = en["evidence"]["kind"]
    names = {"baseline": ("baseline", "基线"), "repeat": ("repeat", "重复"), "interval": ("interval", "定期")}[kind]
    assert en["explanation"].startswith(f"The {names[0]} scan was due on "), en["explanation"]
    assert f"的{names[1]}检查尚未完成或预约" in zh["explanation"] and kind not in zh["explanation"], zh["explanation"]
    due = date.fromisoformat(en["evidence"]["due_date"])  # the evidence keeps ISO: data for the app
    assert en["explanation"].startswith(f"The {names[0]} scan was due on {long_date_in(due, 'en')} and"), en["explanation"]
    assert zh["explanation"].startswith(f"原定于 {long_date_in(due, 'zh-CN')} 的"), zh["explanation"]


def test_every_kind_of_scan_site_and_side_has_its_name_in_every_language():
    from app.common.i18n import LANGUAGES
    from app.dxa.content import protocol
    from app.dxa.models import FOLLOWUP_KINDS, SIDES, SITES

    for table, codes in (("kind_in_text", FOLLOWUP_KINDS), ("site_names", SITES),
                         ("site_on_side", set(SIDES) - {"none"})):
        names = protocol()[table]
        assert set(names) == set(codes) and all(names[c].get(lang) for c in codes for lang in LANGUAGES), table


def test_a_bone_loss_flag_names_the_sites_in_the_readers_language(world, bone, sweep):
    """Its explanation said the sites' codes ("distal_femur (left)") in both languages; the console
    already named them ("Distal femur, left", "股骨远端（左）")."""
    url = bone()
    post(world, url, "dxa/results", {"scan_date": days_ago(400), "site": "distal_femur", "side": "left", "bmd": 0.80})
    post(world, url, "dxa/results", {"scan_date": days_ago(20), "site": "distal_femur", "side": "left", "bmd": 0.65})
    en = flags(world, url, "status=active&lang=en")["dxa_loss_beyond_lsc"]
    zh = flags(world, url, "status=active&lang=zh-CN")["dxa_loss_beyond_lsc"]
    assert en["explanation"] == "The latest scan shows a real loss at: Distal femur, left.", en["explanation"]
    assert zh["explanation"] == "最近一次检查显示以下部位有真实的骨量丢失：股骨远端（左）。", zh["explanation"]
