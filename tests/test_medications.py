"""Bone treatments: next due date per medicine, overdue reads for rules, due_notices, texts."""
import re
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import yaml
from dateutil.relativedelta import relativedelta

from app.common.clock import local_moment, local_today
from app.config import BASE_DIR
from app.dxa import service as dxa
from app.medications import service as medications
from app.medications.signals import dose_recorded, treatment_changed
from tests.factories import World, at_once, enrolled_patient
from tests.test_errors import assert_problem


def today() -> date:
    """The `fresh` patient's today (Asia/Shanghai, UTC+8) as the app reckons it, when the test runs
    (not when the module was imported: a run may cross midnight there)."""
    return local_today("Asia/Shanghai")


@pytest.fixture
def fresh(client, world):
    patient, profile = enrolled_patient(client, world.coord_a, time_zone="Asia/Shanghai", language="zh-CN")
    return patient, profile["id"]


def start(coord, pid, **body):
    response = coord.post(f"/api/v1/patients/{pid}/medications", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def dose(coord, pid, treatment_id, given_on: date, expect=201):
    response = coord.post(f"/api/v1/patients/{pid}/medications/{treatment_id}/doses",
                          json={"given_on": given_on.isoformat()})
    assert response.status_code == expect, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("medicine,months", [("denosumab", 6), ("zoledronic_acid", 12)])
def test_next_due_follows_the_last_dose(world, fresh, medicine, months):
    _, pid = fresh
    began = today() - timedelta(days=400)
    treatment = start(world.coord_a, pid, medicine=medicine, started_on=began.isoformat())
    assert treatment["next_due_on"] == began.isoformat() and treatment["overdue"] is True
    assert treatment["schedule"] == "interval" and treatment["interval_months"] == months
    first = dose(world.coord_a, pid, treatment["id"], began)
    assert first["treatment"]["next_due_on"] == (began + relativedelta(months=months)).isoformat()
    last = today() - timedelta(days=10)
    second = dose(world.coord_a, pid, treatment["id"], last)["treatment"]
    assert second["last_dose_on"] == last.isoformat()
    assert second["next_due_on"] == (last + relativedelta(months=months)).isoformat()
    assert second["overdue"] is False and second["days_overdue"] == 0
    # A dose recorded in error is removed: the schedule goes back to the earlier dose.
    doses = world.coord_a.get(f"/api/v1/patients/{pid}/medications/{treatment['id']}/doses").get_json()
    assert [d["given_on"] for d in doses["items"]] == [last.isoformat(), began.isoformat()]
    removed = world.coord_a.delete(f"/api/v1/patients/{pid}/medications/{treatment['id']}/doses/{doses['items'][0]['id']}")
    assert removed.status_code == 204
    after = world.coord_a.get(f"/api/v1/patients/{pid}/medications/{treatment['id']}").get_json()
    assert after["next_due_on"] == (began + relativedelta(months=months)).isoformat()


def test_medicine_names_follow_the_language(world, fresh):
    patient, pid = fresh
    start(world.coord_a, pid, medicine="denosumab", started_on=today().isoformat())
    assert patient.get("/api/v1/patients/me/medications").get_json()["items"][0]["medicine_name"] == "地舒单抗"
    assert patient.get("/api/v1/patients/me/medications?lang=en").get_json()["items"][0]["medicine_name"] == "Denosumab"


def test_teriparatide_is_a_daily_course_with_an_end_date(world, fresh):
    _, pid = fresh
    base = f"/api/v1/patients/{pid}/medications"
    missing = world.coord_a.post(base, json={"medicine": "teriparatide", "started_on": today().isoformat()})
    assert missing.status_code == 422 and "end_date" in missing.get_json()["errors"]
    end = today() + timedelta(days=300)
    course = start(world.coord_a, pid, medicine="teriparatide", started_on=today().isoformat(), end_date=end.isoformat())
    assert course["schedule"] == "daily_course" and course["next_due_on"] is None and course["status"] == "active"
    assert dose(world.coord_a, pid, course["id"], today(), expect=422)
    assert world.coord_a.patch(f"{base}/{course['id']}", json={"end_date": None}).status_code == 422


def test_stopping_a_treatment_ends_its_schedule(world, fresh):
    _, pid = fresh
    base = f"/api/v1/patients/{pid}/medications"
    treatment = start(world.coord_a, pid, medicine="denosumab", started_on=(today() - timedelta(days=30)).isoformat())
    dose(world.coord_a, pid, treatment["id"], today() - timedelta(days=30))
    clash = world.coord_a.post(base, json={"medicine": "denosumab", "started_on": today().isoformat()})
    assert clash.status_code == 409
    stopped = world.coord_a.patch(f"{base}/{treatment['id']}", json={"end_date": today().isoformat()})
    assert stopped.status_code == 200 and stopped.get_json()["next_due_on"] is None
    assert stopped.get_json()["status"] == "active"  # its last day is today
    assert world.coord_a.get(f"{base}?active=false").get_json()["items"] == []
    before_last_dose = world.coord_a.patch(f"{base}/{treatment['id']}",
                                           json={"end_date": (today() - timedelta(days=40)).isoformat()})
    assert before_last_dose.status_code == 422
    yesterday = world.coord_a.patch(f"{base}/{treatment['id']}", json={"end_date": (today() - timedelta(days=1)).isoformat()})
    assert yesterday.get_json()["status"] == "ended"
    assert [t["id"] for t in world.coord_a.get(f"{base}?active=false").get_json()["items"]] == [treatment["id"]]
    assert world.coord_a.post(base, json={"medicine": "denosumab", "started_on": today().isoformat()}).status_code == 201


def test_reopening_an_ended_treatment_while_its_successor_runs_is_refused(world):
    """Course 1 ended, course 2 started: reopening course 1 (end_date null) would leave two active
    treatments of one medicine, two schedules of reminders, calendar events and overdue checks
    for one injection. Refused as a second one is on create."""
    base = f"/api/v1/patients/{world.a_id}/medications"
    today = local_today(world.profile_a["time_zone"])
    first = world.treatment_a["id"]
    ended = world.coord_a.patch(f"{base}/{first}", json={"end_date": (today - timedelta(days=1)).isoformat()})
    assert ended.status_code == 200, ended.get_json()
    second = world.coord_a.post(base, json={"medicine": "denosumab", "started_on": today.isoformat()})
    assert second.status_code == 201, second.get_json()

    reopened = world.coord_a.patch(f"{base}/{first}", json={"end_date": None})
    extended = world.coord_a.patch(f"{base}/{first}", json={"end_date": (today + timedelta(days=30)).isoformat()})

    active = world.coord_a.get(f"{base}?active=true&medicine=denosumab").get_json()["items"]
    assert_problem(reopened, 409)
    assert_problem(extended, 409)
    assert [t["id"] for t in active] == [second.get_json()["id"]]


@pytest.mark.committing
def test_a_reopening_and_a_new_treatment_at_once_leave_one_active(app):
    world = World(app.test_client()).build()
    base = f"/api/v1/patients/{world.a_id}/medications"
    today = local_today(world.profile_a["time_zone"])
    headers = world.coord_a.headers
    ended = world.treatment_a["id"]
    for attempt in range(5):  # a race: several tries, so that one run shows it
        stopped = world.coord_a.patch(f"{base}/{ended}", json={"end_date": (today - timedelta(days=1)).isoformat()})
        assert stopped.status_code == 200, (attempt, stopped.get_json())
        reopen, create = at_once([
            lambda: app.test_client().patch(f"{base}/{ended}", json={"end_date": None}, headers=headers),
            lambda: app.test_client().post(base, json={"medicine": "denosumab",
                                                       "started_on": (today - timedelta(days=10)).isoformat()},
                                           headers=headers)])
        assert sorted([reopen.status_code, create.status_code]) in ([200, 409], [201, 409]), attempt
        active = world.coord_a.get(f"{base}?active=true&medicine=denosumab").get_json()["items"]
        assert len(active) == 1, (attempt, active)
        ended = active[0]["id"]


def test_bad_doses_are_refused(world, fresh):
    _, pid = fresh
    treatment = start(world.coord_a, pid, medicine="zoledronic_acid", started_on=(today() - timedelta(days=5)).isoformat())
    dose(world.coord_a, pid, treatment["id"], today() + timedelta(days=2), expect=422)   # future
    dose(world.coord_a, pid, treatment["id"], today() - timedelta(days=6), expect=422)   # before the start
    dose(world.coord_a, pid, treatment["id"], today() - timedelta(days=1))
    dose(world.coord_a, pid, treatment["id"], today() - timedelta(days=1), expect=409)   # twice
    assert world.coord_a.post(f"/api/v1/patients/{pid}/medications", json={
        "medicine": "aspirin", "started_on": today().isoformat()}).status_code == 422


def test_only_the_care_team_records(world):
    base = f"/api/v1/patients/{world.a_id}/medications"
    assert world.patient_a.post(base, json={"medicine": "denosumab", "started_on": today().isoformat()}).status_code == 403
    assert world.caregiver_a.post(f"{base}/{world.treatment_a['id']}/doses",
                                  json={"given_on": today().isoformat()}).status_code == 403
    assert world.patient_a.get(f"/api/v1/patients/me/medications/{world.treatment_a['id']}").status_code == 200


def test_an_overdue_dose_is_visible_to_rules_and_in_the_list(app, world, fresh):
    _, pid = fresh
    last = today() - timedelta(days=200)
    treatment = start(world.coord_a, pid, medicine="denosumab", started_on=last.isoformat())
    dose(world.coord_a, pid, treatment["id"], last)
    due = last + relativedelta(months=6)
    overdue = world.coord_a.get(f"/api/v1/patients/{pid}/medications?overdue=true").get_json()["items"]
    assert [t["id"] for t in overdue] == [treatment["id"]] and overdue[0]["days_overdue"] >= (today() - due).days
    with app.app_context():
        now = datetime.now(timezone.utc)
        rows = medications.dose_status([uuid.UUID(pid), uuid.UUID(world.a_id)], now, overdue_only=True)
        mine = [r for r in rows if str(r["patient_id"]) == pid]
        assert len(mine) == 1
        assert (mine[0]["medicine"], mine[0]["last_dose_on"], mine[0]["next_due_on"]) == ("denosumab", last, due)
        assert mine[0]["days_overdue"] > 0
        # Patient A's denosumab (dose 60 days ago) is not overdue.
        assert all(str(r["patient_id"]) != world.a_id for r in rows)


def test_doses_and_treatment_changes_are_announced(world, fresh):
    _, pid = fresh
    seen = []

    def on_dose(sender, dose, treatment, change):
        seen.append(("dose", str(dose.id), change))

    def on_treatment(sender, treatment, change):
        seen.append(("treatment", str(treatment.id), change))

    dose_recorded.connect(on_dose)
    treatment_changed.connect(on_treatment)
    try:
        treatment = start(world.coord_a, pid, medicine="zoledronic_acid", started_on=today().isoformat())
        recorded = dose(world.coord_a, pid, treatment["id"], today())
        world.coord_a.patch(f"/api/v1/patients/{pid}/medications/{treatment['id']}", json={"end_date": today().isoformat()})
    finally:
        dose_recorded.disconnect(on_dose)
        treatment_changed.disconnect(on_treatment)
    assert seen == [("treatment", treatment["id"], "created"), ("dose", recorded["dose"]["id"], "created"),
                    ("treatment", treatment["id"], "updated")]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/Los_Angeles"])
def test_due_notices_14_days_1_day_and_on_the_day(app, client, world, zone):
    _, profile = enrolled_patient(client, world.coord_a, time_zone=zone, language="en")
    pid = profile["id"]
    given = today() - timedelta(days=100)
    treatment = start(world.coord_a, pid, medicine="denosumab", started_on=given.isoformat())
    dose(world.coord_a, pid, treatment["id"], given)
    due = given + relativedelta(months=6)
    expected = {14: "medication_due_in_14_days", 1: "medication_due_tomorrow", 0: "medication_due_today"}
    with app.app_context():
        for days, kind in expected.items():
            at = local_moment(due - timedelta(days=days), "09:00", zone)
            mine = [n for n in medications.due_notices(at - timedelta(minutes=1), at + timedelta(minutes=1))
                    if str(n.patient_id) == pid]
            assert [(n.kind, n.due_at, n.occurrence_key) for n in mine] == [
                (kind, at, f"medication-dose:{treatment['id']}:{due.isoformat()}:{days}d")]
            assert mine[0].payload == {"treatment_id": treatment["id"], "medicine": "denosumab",
                                       "medicine_name": {"en": "Denosumab", "zh-CN": "地舒单抗"},
                                       "date": due.isoformat()}
        whole = [n for n in medications.due_notices(datetime.combine(today(), datetime.min.time(), timezone.utc),
                                                    datetime.combine(due + timedelta(days=2), datetime.min.time(),
                                                                     timezone.utc))
                 if str(n.patient_id) == pid]
        assert sorted(n.kind for n in whole) == sorted(expected.values())


def test_a_course_end_reminds_14_days_and_1_day_before(app, world, fresh):
    _, pid = fresh
    end = today() + timedelta(days=60)
    course = start(world.coord_a, pid, medicine="teriparatide", started_on=today().isoformat(), end_date=end.isoformat())
    with app.app_context():
        notices = [n for n in medications.due_notices(datetime.now(timezone.utc), datetime.combine(
            end + timedelta(days=2), datetime.min.time(), timezone.utc)) if str(n.patient_id) == pid]
    assert sorted((n.kind, n.due_at) for n in notices) == [
        ("medication_course_ends_in_14_days", local_moment(end - timedelta(days=14), "09:00", "Asia/Shanghai")),
        ("medication_course_ends_tomorrow", local_moment(end - timedelta(days=1), "09:00", "Asia/Shanghai")),
    ]
    assert {n.occurrence_key.rsplit(":", 1)[0] for n in notices} == {
        f"medication-course-end:{course['id']}:{end.isoformat()}"}


FOLLOWUP_TEXTS = BASE_DIR / "seed" / "reminders" / "followups.yaml"
DOSING_WORDS = re.compile(r"\b(mg|dose of|take \d|inject \d|units?)\b|毫克|剂量", re.IGNORECASE)


def test_every_follow_up_reminder_has_both_languages_and_fills_from_its_payload(app, client, world):
    texts = yaml.safe_load(FOLLOWUP_TEXTS.read_text(encoding="utf-8"))
    for kind, entry in texts.items():
        assert set(entry) == {"en", "zh-CN"}, kind
        for language in ("en", "zh-CN"):
            assert set(entry[language]) == {"subject", "text"}, (kind, language)
            assert not DOSING_WORDS.search(entry[language]["text"]), (kind, language)
    # Every notice either domain produces has its texts, and its payload fills them.
    _, profile = enrolled_patient(client, world.coord_a, time_zone="Europe/London", language="en")
    pid = profile["id"]
    world.coord_a.put(f"/api/v1/patients/{pid}/dxa/protocol",
                      json={"medically_stable_on": (today() + timedelta(days=20)).isoformat()})
    followup = world.coord_a.get(f"/api/v1/patients/{pid}/dxa/followups").get_json()["items"][0]
    world.coord_a.patch(f"/api/v1/patients/{pid}/dxa/followups/{followup['id']}", json={
        "appointment": {"date": (today() + timedelta(days=30)).isoformat(), "time": "11:00", "place": "Room 1"}})
    _, other = enrolled_patient(client, world.coord_a, time_zone="Asia/Shanghai", language="zh-CN")
    world.coord_a.put(f"/api/v1/patients/{other['id']}/dxa/protocol",
                      json={"medically_stable_on": (today() + timedelta(days=3)).isoformat()})
    start(world.coord_a, pid, medicine="zoledronic_acid", started_on=(today() + timedelta(days=20)).isoformat())
    start(world.coord_a, pid, medicine="teriparatide", started_on=today().isoformat(),
          end_date=(today() + timedelta(days=25)).isoformat())
    window = (datetime.now(timezone.utc), datetime.now(timezone.utc) + timedelta(days=40))
    with app.app_context():
        notices = [n for n in dxa.due_notices(*window) + medications.due_notices(*window)
                   if str(n.patient_id) in (pid, other["id"])]
    kinds = {n.kind for n in notices}
    assert set(texts) == kinds
    assert {"dxa_followup_due", "dxa_appointment_in_14_days", "dxa_appointment_tomorrow", "medication_due_in_14_days",
            "medication_due_tomorrow", "medication_due_today", "medication_course_ends_in_14_days",
            "medication_course_ends_tomorrow"} <= kinds
    for notice in notices:
        for language in ("en", "zh-CN"):
            for part in ("subject", "text"):
                # As app/reminders renders: a per-language value is taken in the reader's language.
                values = {k: v[language] if isinstance(v, dict) else v for k, v in notice.payload.items()}
                filled = texts[notice.kind][language][part].format(**values)
                assert "{" not in filled and "None" not in filled, (notice.kind, filled)


def test_a_treatment_before_the_patients_birth_is_refused(world, fresh):
    """As for DXA scans: a treatment cannot start before birth, nor a date of birth move after a
    treatment on record."""
    from tests.test_errors import assert_problem

    _, pid = fresh
    url = f"/api/v1/patients/{pid}"
    birth = date.fromisoformat(world.coord_a.get(url).get_json()["date_of_birth"])
    base = f"{url}/medications"
    early = world.coord_a.post(base, json={"medicine": "zoledronic_acid", "started_on": (birth - timedelta(days=1)).isoformat()})
    assert "started_on" in assert_problem(early, 422)["errors"]
    start(world.coord_a, pid, medicine="zoledronic_acid", started_on=(birth + timedelta(days=10)).isoformat())
    later_birth = world.coord_a.patch(url, if_match_of=url, json={"date_of_birth": (birth + timedelta(days=11)).isoformat()})
    assert "date_of_birth" in assert_problem(later_birth, 422)["errors"]
