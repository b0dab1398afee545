"""DXA: change against the least significant change, the knee threshold, explanations, the
monitoring protocol's follow-ups, and the reminders due_notices reports."""
import threading
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import yaml
from dateutil.relativedelta import relativedelta
from sqlalchemy import event, func, select

from app.common import clinical
from app.common.clock import local_moment, local_today
from app.dxa import service as dxa
from app.dxa.models import DxaFollowUp, DxaResult
from app.dxa.signals import dxa_result_written
from app.extensions import db
from app.reminders.models import Notification
from tests.factories import World, at, at_once, enrolled_patient, long_date_in


def today(zone: str = "Europe/London") -> date:
    """The patient's today as the app reckons it, when the test runs (not when the module was
    imported): `fresh`, the patient most tests use, lives in Europe/London."""
    return local_today(zone)


def days_ago(n: int) -> str:
    return (today() - timedelta(days=n)).isoformat()


def post_result(coord, patient_id, **fields):
    body = {"scan_date": days_ago(400), "site": "distal_femur", "side": "left", "bmd": 0.800}
    body.update(fields)
    response = coord.post(f"/api/v1/patients/{patient_id}/dxa/results", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def fresh(client, world):
    """A new patient of coordinator A with no DXA history (Europe/London, English)."""
    patient, profile = enrolled_patient(client, world.coord_a, time_zone="Europe/London", language="en")
    return patient, profile["id"]


# --- change against the least significant change ------------------------------------------------

@pytest.mark.parametrize("side,previous,current,judgement", [
    ("left", 0.800, 0.732, "no_real_change"),   # -0.068 g/cm2, just inside the LSC 0.069 (0.025 x 2.77)
    ("right", 0.800, 0.731, "real_loss"),       # -0.069: a change equal to the LSC is significant
    ("left", 0.700, 0.768, "no_real_change"),   # +0.068
    ("right", 0.700, 0.769, "real_gain"),       # +0.069
])
def test_knee_change_is_judged_against_the_lsc_in_g_cm2(world, fresh, side, previous, current, judgement):
    _, pid = fresh
    first = post_result(world.coord_a, pid, side=side, bmd=previous, scan_date=days_ago(400))
    assert first["change"] is None and first["high_fracture_risk"] is False
    second = post_result(world.coord_a, pid, side=side, bmd=current, scan_date=days_ago(30))
    change = second["change"]
    assert change["previous_result_id"] == first["id"]
    assert change["previous_scan_date"] == days_ago(400)
    assert change["delta_g_cm2"] == pytest.approx(round(current - previous, 3))
    assert change["percent"] == pytest.approx(round((current - previous) / previous * 100, 1))
    assert change["lsc"] == {"value": 0.069, "unit": "g/cm2",
                             "source": clinical.thresholds()["lsc_distal_femur_g_cm2"]["source"]}
    assert change["judgement"] == judgement
    assert change["significant"] is (judgement != "no_real_change")


def test_proximal_tibia_has_its_own_lsc(world, fresh):
    _, pid = fresh
    post_result(world.coord_a, pid, site="proximal_tibia", bmd=0.900, scan_date=days_ago(400))
    inside = post_result(world.coord_a, pid, site="proximal_tibia", bmd=0.818, scan_date=days_ago(30))  # -0.082 < 0.083
    assert inside["change"]["judgement"] == "no_real_change"
    assert inside["change"]["lsc"]["value"] == 0.083


def test_hip_change_is_judged_in_percent(world, fresh):
    _, pid = fresh
    # Total hip: LSC 5.0% (1.8% precision x 2.77, rounded): -4.9% is inside, -5.0% is not.
    post_result(world.coord_a, pid, site="total_hip", side="left", bmd=1.000, scan_date=days_ago(400))
    post_result(world.coord_a, pid, site="total_hip", side="right", bmd=1.000, scan_date=days_ago(400))
    inside = post_result(world.coord_a, pid, site="total_hip", side="left", bmd=0.951, scan_date=days_ago(30))
    outside = post_result(world.coord_a, pid, site="total_hip", side="right", bmd=0.950, scan_date=days_ago(30))
    assert inside["change"]["lsc"]["unit"] == "%" and inside["change"]["lsc"]["value"] == 5.0
    assert (inside["change"]["judgement"], outside["change"]["judgement"]) == ("no_real_change", "real_loss")


def test_only_the_same_site_and_side_is_compared_and_the_previous_is_the_latest_earlier(world, fresh):
    _, pid = fresh
    oldest = post_result(world.coord_a, pid, bmd=0.900, scan_date=days_ago(800))
    middle = post_result(world.coord_a, pid, bmd=0.850, scan_date=days_ago(400))
    post_result(world.coord_a, pid, side="right", bmd=0.500, scan_date=days_ago(300))
    latest = post_result(world.coord_a, pid, bmd=0.845, scan_date=days_ago(30))
    assert latest["change"]["previous_result_id"] == middle["id"]
    listed = world.coord_a.get(f"/api/v1/patients/{pid}/dxa/results?side=left").get_json()
    assert [r["id"] for r in listed["items"]] == [latest["id"], middle["id"], oldest["id"]]
    assert listed["items"][1]["change"]["previous_result_id"] == oldest["id"]


def test_scans_on_different_machines_are_not_compared(world, fresh):
    _, pid = fresh
    post_result(world.coord_a, pid, bmd=0.900, machine="Hologic Horizon A", scan_date=days_ago(400))
    other = post_result(world.coord_a, pid, bmd=0.700, machine="GE Lunar iDXA", scan_date=days_ago(30))
    assert other["change"]["judgement"] == "not_comparable"


def test_a_centre_may_use_its_own_precision(world, fresh, tmp_path, monkeypatch):
    _, pid = fresh
    data = yaml.safe_load(clinical.DEFAULT_PATH.read_text(encoding="utf-8"))
    data["dxa_centre_lsc"]["value"] = {
        "Shanghai Rehab Centre": {"distal_femur": {"precision": 0.02, "unit": "g/cm2", "source": "own study"}},
        "Beijing Bone Lab": {"distal_femur": {"lsc": 0.061, "unit": "g/cm2", "source": "own LSC"}}}
    path = tmp_path / "thresholds.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("CLINICAL_THRESHOLDS_FILE", str(path))
    clinical.thresholds.cache_clear()
    try:
        post_result(world.coord_a, pid, bmd=0.800, scan_date=days_ago(400), centre="Shanghai Rehab Centre")
        here = post_result(world.coord_a, pid, bmd=0.740, scan_date=days_ago(30), centre="  shanghai rehab  centre")
        post_result(world.coord_a, pid, side="right", bmd=0.800, scan_date=days_ago(400), centre="Elsewhere")
        elsewhere = post_result(world.coord_a, pid, side="right", bmd=0.740, scan_date=days_ago(30), centre="Elsewhere")
        post_result(world.coord_a, pid, site="proximal_tibia", bmd=0.800, scan_date=days_ago(400))
        beijing_tibia = post_result(world.coord_a, pid, site="proximal_tibia", bmd=0.740, scan_date=days_ago(30),
                                    centre="Beijing Bone Lab")  # no tibia value of its own: the default
        post_result(world.coord_a, pid, side="none", bmd=0.800, scan_date=days_ago(400))
        beijing_femur = post_result(world.coord_a, pid, side="none", bmd=0.740, scan_date=days_ago(30),
                                    centre="Beijing Bone Lab")
    finally:
        monkeypatch.undo()
        clinical.thresholds.cache_clear()
    assert here["change"]["lsc"] == {"value": 0.0554, "unit": "g/cm2", "source": "own study"}
    assert here["change"]["judgement"] == "real_loss"          # -0.060 >= 0.0554
    assert elsewhere["change"]["judgement"] == "no_real_change"  # -0.060 < 0.069 (default)
    assert beijing_tibia["change"]["lsc"]["value"] == 0.083
    assert beijing_femur["change"]["lsc"] == {"value": 0.061, "unit": "g/cm2", "source": "own LSC"}
    assert beijing_femur["change"]["judgement"] == "no_real_change"  # -0.060 < 0.061


# --- knee threshold and explanations -------------------------------------------------------------

@pytest.mark.parametrize("site,bmd,risky", [
    ("distal_femur", 0.599, True), ("distal_femur", 0.600, False), ("proximal_tibia", 0.55, True),
    ("total_hip", 0.40, False), ("lumbar_spine", 0.50, False),
])
def test_knee_bmd_below_060_is_high_fracture_risk(world, fresh, site, bmd, risky):
    _, pid = fresh
    side = "none" if site == "lumbar_spine" else "left"
    result = post_result(world.coord_a, pid, site=site, side=side, bmd=bmd)
    assert result["high_fracture_risk"] is risky
    assert ("0.60 g/cm²" in result["explanation"]) is risky


def test_high_risk_filter(world, fresh):
    _, pid = fresh
    low = post_result(world.coord_a, pid, bmd=0.55)
    post_result(world.coord_a, pid, side="right", bmd=0.75)
    listed = world.coord_a.get(f"/api/v1/patients/{pid}/dxa/results?high_fracture_risk=true").get_json()
    assert [r["id"] for r in listed["items"]] == [low["id"]]


def test_the_patient_reads_their_results_explained_in_their_language(world):
    base = f"/api/v1/patients/{world.a_id}/dxa/results"
    post_result(world.coord_a, world.a_id, bmd=0.800, side="right", scan_date=days_ago(400))
    post_result(world.coord_a, world.a_id, bmd=0.590, side="right", scan_date=days_ago(20))
    own = world.patient_a.get("/api/v1/patients/me/dxa/results?side=right")
    assert own.status_code == 200
    latest = own.get_json()["items"][0]
    assert latest["language"] == "zh-CN"  # patient A's language
    assert "下降了 0.210 g/cm²" in latest["explanation"] and "低于 0.60 g/cm²" in latest["explanation"]
    english = world.caregiver_a.get("/api/v1/patients/me/dxa/results?side=right&lang=en").get_json()["items"][0]
    assert "fell by 0.210 g/cm² (26.3%)" in english["explanation"] and "below 0.60 g/cm²" in english["explanation"]
    # the previous scan's date as its reader writes it, not ISO (which the change's data keeps)
    previous = today() - timedelta(days=400)
    assert latest["change"]["previous_scan_date"] == previous.isoformat()
    assert f"与 {long_date_in(previous, 'zh-CN')} 的检查相比" in latest["explanation"], latest["explanation"]
    assert f"Since your scan on {long_date_in(previous, 'en')}," in english["explanation"], english["explanation"]
    assert previous.isoformat() not in latest["explanation"] + english["explanation"]
    assert world.patient_a.post(base, json={"scan_date": days_ago(1), "site": "distal_femur", "bmd": 0.7}).status_code == 403
    assert world.caregiver_a.delete(f"{base}/{latest['id']}").status_code == 403


def test_every_explanation_exists_in_both_languages():
    from app.dxa.content import explanations

    texts = explanations()
    for key, value in texts.items():
        entries = value.values() if key == "sites" else [value]
        for entry in entries:
            assert set(entry) == {"en", "zh-CN"}, key


def test_bad_results_are_refused(world, fresh):
    _, pid = fresh
    base = f"/api/v1/patients/{pid}/dxa/results"
    future = (today() + timedelta(days=2)).isoformat()
    assert world.coord_a.post(base, json={"scan_date": future, "site": "distal_femur", "bmd": 0.7}).status_code == 422
    assert world.coord_a.post(base, json={"scan_date": days_ago(1), "site": "knee", "bmd": 0.7}).status_code == 422
    assert world.coord_a.post(base, json={"scan_date": days_ago(1), "site": "distal_femur", "bmd": 0.7,
                                          "colour": "red"}).status_code == 422
    post_result(world.coord_a, pid, scan_date=days_ago(1))
    again = world.coord_a.post(base, json={"scan_date": days_ago(1), "site": "distal_femur", "side": "left", "bmd": 0.7})
    assert again.status_code == 409 and again.mimetype == "application/problem+json"


def test_writes_and_deletes_announce_themselves(app, world, fresh):
    _, pid = fresh
    seen = []

    def receiver(sender, result, change):
        seen.append((str(result.id), change))

    dxa_result_written.connect(receiver)
    try:
        created = post_result(world.coord_a, pid)
        assert world.coord_a.delete(f"/api/v1/patients/{pid}/dxa/results/{created['id']}").status_code == 204
    finally:
        dxa_result_written.disconnect(receiver)
    assert seen == [(created["id"], "created"), (created["id"], "deleted")]
    assert world.coord_a.get(f"/api/v1/patients/{pid}/dxa/results/{created['id']}").status_code == 404


# --- protocol and follow-ups ---------------------------------------------------------------------

def _followups(actor, pid, query=""):
    response = actor.get(f"/api/v1/patients/{pid}/dxa/followups{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_follow_ups_follow_the_protocol(world, fresh):
    patient, pid = fresh
    base = f"/api/v1/patients/{pid}/dxa"
    stable, treated = today() - timedelta(days=500), today() - timedelta(days=420)
    protocol = world.coord_a.put(f"{base}/protocol", json={
        "medically_stable_on": stable.isoformat(), "treatment_started_on": treated.isoformat(), "interval_months": 18})
    assert protocol.status_code == 200, protocol.get_json()
    body = protocol.get_json()
    assert body["next_followup"]["kind"] == "baseline" and body["next_followup"]["due_date"] == stable.isoformat()
    assert body["next_followup"]["overdue"] is True
    assert "CAN-SCIP" in body["source"] and body["steps"]["repeat"]["after_months"] == 12

    # Baseline: three sites on one day complete it once; the repeat is 12 months after treatment start.
    baseline_day = today() - timedelta(days=480)
    for site in ("total_hip", "distal_femur", "proximal_tibia"):
        post_result(world.coord_a, pid, site=site, scan_date=baseline_day.isoformat())
    items = _followups(world.coord_a, pid)
    assert [(f["kind"], f["status"]) for f in items] == [("repeat", "due"), ("baseline", "done")]
    assert items[1]["completed_on"] == baseline_day.isoformat()
    assert items[0]["due_date"] == (treated + relativedelta(months=12)).isoformat()

    # Booked, then done at the appointment: the next is every 18 months from that scan.
    repeat_id = items[0]["id"]
    appointment = (today() + timedelta(days=3)).isoformat()
    booked = world.coord_a.patch(f"{base}/followups/{repeat_id}", json={
        "appointment": {"date": appointment, "time": "10:30", "place": "Radiology, 2nd floor"}})
    assert booked.status_code == 200 and booked.get_json()["status"] == "booked"
    assert booked.get_json()["appointment"]["starts_at"].startswith(appointment)
    scan_day = today() - timedelta(days=1)
    post_result(world.coord_a, pid, site="total_hip", scan_date=scan_day.isoformat())
    items = _followups(world.coord_a, pid)
    assert [(f["kind"], f["status"]) for f in items][:2] == [("interval", "due"), ("repeat", "done")]
    assert items[0]["due_date"] == (scan_day + relativedelta(months=18)).isoformat()

    # The patient reads; only the care team writes.
    assert [f["id"] for f in _followups(patient, "me")] == [f["id"] for f in items]
    assert patient.patch(f"/api/v1/patients/me/dxa/followups/{items[0]['id']}",
                         json={"status": "cancelled"}).status_code == 403


def test_interval_must_stay_within_one_to_two_years(world, fresh):
    _, pid = fresh
    response = world.coord_a.put(f"/api/v1/patients/{pid}/dxa/protocol", json={"interval_months": 36})
    assert response.status_code == 422 and "interval_months" in response.get_json()["errors"]


def test_missed_is_owed_again_and_closed_follow_ups_stay_closed(world, fresh):
    _, pid = fresh
    base = f"/api/v1/patients/{pid}/dxa"
    world.coord_a.put(f"{base}/protocol", json={"medically_stable_on": days_ago(10)})
    first = _followups(world.coord_a, pid)[0]
    missed = world.coord_a.patch(f"{base}/followups/{first['id']}", json={"status": "missed"})
    assert missed.status_code == 200 and missed.get_json()["status"] == "missed"
    items = _followups(world.coord_a, pid, "?status=due")
    assert len(items) == 1 and items[0]["kind"] == "baseline" and items[0]["due_date"] == today().isoformat()
    again = world.coord_a.patch(f"{base}/followups/{first['id']}", json={"status": "due"})
    assert again.status_code == 409
    assert world.coord_a.patch(f"{base}/followups/{items[0]['id']}", json={"status": "booked"}).status_code == 422
    assert world.coord_a.post(f"{base}/followups", json={"kind": "interval", "due_date": days_ago(-30)}).status_code == 409
    cancelled = world.coord_a.patch(f"{base}/followups/{items[0]['id']}", json={"status": "cancelled"})
    assert cancelled.get_json()["status"] == "cancelled"
    assert _followups(world.coord_a, pid, "?status=due&status=booked") == []
    extra = world.coord_a.post(f"{base}/followups", json={
        "kind": "interval", "due_date": days_ago(-30),
        "appointment": {"date": days_ago(-20), "time": "08:00", "place": "Clinic B"}})
    assert extra.status_code == 201 and extra.get_json()["status"] == "booked"


# --- a result deleted: the follow-ups go back to what the remaining scans make them ---------------

def _followup_rows(actor, pid):
    return sorted((f["id"], f["kind"], f["status"], f["due_date"], f["completed_on"])
                  for f in _followups(actor, pid))


def _delete_result(coord, pid, result_id):
    response = coord.delete(f"/api/v1/patients/{pid}/dxa/results/{result_id}")
    assert response.status_code == 204, response.get_json()


def _pending_followup_reminders(app, pid) -> list[str]:
    """The occurrence keys of the patient's pending DXA follow-up reminders, once the
    materialiser has run for the patient now."""
    from app.reminders.materialise import materialise

    with app.app_context():
        materialise(datetime.now(timezone.utc), patient_ids=[uuid.UUID(pid)])
        return sorted(db.session.scalars(select(Notification.occurrence_key).where(
            Notification.patient_id == uuid.UUID(pid), Notification.kind == "dxa_followup_due",
            Notification.status == "pending")))


def test_deleting_a_result_entered_in_error_reopens_the_follow_up_it_closed(app, world):
    """A scan for today entered on the wrong patient and deleted at once: the follow-up it closed
    is open again as it was (the scan the patient still owes), the next one it planned is gone;
    the patient is reminded of the one owed on its due date and the overdue rule sees it."""
    from app.reminders.dispatch import dispatch
    from app.reminders.materialise import materialise

    pid, zone = world.a_id, world.profile_a["time_zone"]
    before = _followup_rows(world.coord_a, pid)
    entered = post_result(world.coord_a, pid, scan_date=today(zone).isoformat(), bmd=0.70)
    assert _followup_rows(world.coord_a, pid) != before  # the result closed the follow-up, planned a next

    _delete_result(world.coord_a, pid, entered["id"])

    assert _followup_rows(world.coord_a, pid) == before
    for actor, ref in ((world.coord_a, pid), (world.patient_a, "me")):
        assert actor.get(f"/api/v1/patients/{ref}/dxa/protocol").get_json()["next_followup"]["id"] \
            == world.followup_a["id"]
    due = date.fromisoformat(world.followup_a["due_date"])
    reminder_at = local_moment(due, "09:00", zone)
    with app.app_context():
        with at(reminder_at - timedelta(minutes=5)):
            materialise(reminder_at - timedelta(minutes=5), patient_ids=[uuid.UUID(pid)])
        with at(reminder_at):
            dispatch(reminder_at)
        overdue = dxa.overdue_followups([uuid.UUID(pid)], 30, reminder_at + timedelta(days=40))
    assert [str(o["followup_id"]) for o in overdue] == [world.followup_a["id"]]
    with at(reminder_at + timedelta(minutes=1), world.patient_a):
        inbox = world.patient_a.get("/api/v1/patients/me/notifications?kind=dxa_followup_due").get_json()["items"]
    assert len(inbox) == 1, inbox
    with app.app_context():
        assert db.session.scalar(select(Notification.occurrence_key).where(
            Notification.patient_id == uuid.UUID(pid), Notification.kind == "dxa_followup_due")) \
            == f"dxa-followup-due:{world.followup_a['id']}:{due.isoformat()}"


def test_the_reminder_of_the_follow_up_a_deleted_result_closed_comes_back(app, world, fresh):
    """Baseline owed (overdue: reminded at the next nine o'clock); a scan five days ago closes it
    and plans the repeat (also overdue, so reminded next); the scan deleted, the baseline's
    reminder is pending again and the repeat's is cancelled."""
    _, pid = fresh
    world.coord_a.put(f"/api/v1/patients/{pid}/dxa/protocol", json={
        "medically_stable_on": days_ago(60), "treatment_started_on": days_ago(400)})
    [baseline] = _followups(world.coord_a, pid)
    owed = [f"dxa-followup-due:{baseline['id']}:{days_ago(60)}"]
    assert _pending_followup_reminders(app, pid) == owed
    entered = post_result(world.coord_a, pid, scan_date=days_ago(5))
    [repeat] = _followups(world.coord_a, pid, "?status=due")
    assert (repeat["kind"], repeat["due_date"]) == ("repeat", days_ago(4))
    assert _pending_followup_reminders(app, pid) == [f"dxa-followup-due:{repeat['id']}:{days_ago(4)}"]

    _delete_result(world.coord_a, pid, entered["id"])

    assert [(f["id"], f["status"], f["completed_on"]) for f in _followups(world.coord_a, pid)] \
        == [(baseline["id"], "due", None)]
    assert _pending_followup_reminders(app, pid) == owed


def test_a_result_deleted_beside_another_of_the_same_scan_changes_no_follow_up(world, fresh):
    _, pid = fresh
    post_result(world.coord_a, pid, scan_date=days_ago(400))
    hip = post_result(world.coord_a, pid, site="total_hip", side="left", scan_date=days_ago(30))
    post_result(world.coord_a, pid, site="distal_femur", side="left", scan_date=days_ago(30))
    before = _followup_rows(world.coord_a, pid)

    _delete_result(world.coord_a, pid, hip["id"])  # the scan of 30 days ago keeps its knee

    assert _followup_rows(world.coord_a, pid) == before


def test_a_deleted_result_before_a_later_one_replans_from_the_scans_left(world, fresh):
    """Scans 400 and 30 days ago: the next is the interval after the second. The first deleted,
    the one left is the first scan: the next is the repeat 12 months after it, as recording only
    it would have planned; the follow-up the later scan closed stays closed."""
    _, pid = fresh
    first = post_result(world.coord_a, pid, scan_date=days_ago(400))
    post_result(world.coord_a, pid, scan_date=days_ago(30))
    [closed] = _followups(world.coord_a, pid, "?status=done")
    assert (closed["kind"], closed["completed_on"]) == ("repeat", days_ago(30))

    _delete_result(world.coord_a, pid, first["id"])

    items = _followups(world.coord_a, pid)
    assert [(f["kind"], f["status"], f["due_date"]) for f in items][0] == (
        "repeat", "due", (today() - timedelta(days=30) + relativedelta(months=12)).isoformat())
    assert [(f["id"], f["status"], f["completed_on"]) for f in items][1:] == [(closed["id"], "done", days_ago(30))]


def test_a_deleted_result_keeps_the_next_follow_up_once_it_is_booked(world, fresh):
    """The next scan booked since: the booking is the patient's, so it stays the open follow-up;
    the one the deleted result closed cannot be open beside it and is cancelled, so the scan
    that never happened is no longer counted."""
    _, pid = fresh
    post_result(world.coord_a, pid, scan_date=days_ago(400))
    [first_repeat] = _followups(world.coord_a, pid)
    wrong = post_result(world.coord_a, pid, scan_date=days_ago(30))
    [planned] = _followups(world.coord_a, pid, "?status=due")
    _book(world.coord_a, pid, planned["id"], today() + timedelta(days=20))

    _delete_result(world.coord_a, pid, wrong["id"])

    assert [(f["id"], f["status"], f["completed_on"]) for f in _followups(world.coord_a, pid)] == [
        (planned["id"], "booked", None), (first_repeat["id"], "cancelled", None)]
    # The scan of 30 days ago is gone: a follow-up may be due before it again.
    moved = world.coord_a.patch(f"/api/v1/patients/{pid}/dxa/followups/{planned['id']}",
                                json={"due_date": days_ago(100)})
    assert moved.status_code == 200, moved.get_json()


@pytest.mark.parametrize("earliest_first", [True, False])
def test_every_result_deleted_in_either_order_gives_back_the_baseline_owed(world, fresh, earliest_first):
    """Two scans entered on the wrong patient (the baseline 450 days ago, a repeat 30 days ago)
    and deleted, in either order: the patient owes the baseline again, as before anything was
    entered, not a repeat planned from a scan that no longer exists beside a cancelled baseline."""
    _, pid = fresh
    world.coord_a.put(f"/api/v1/patients/{pid}/dxa/protocol", json={
        "medically_stable_on": days_ago(600), "treatment_started_on": days_ago(500)})
    before = _followup_rows(world.coord_a, pid)
    assert [(kind, status) for _, kind, status, *_ in before] == [("baseline", "due")]
    first = post_result(world.coord_a, pid, scan_date=days_ago(450))
    second = post_result(world.coord_a, pid, scan_date=days_ago(30))

    for entered in (first, second) if earliest_first else (second, first):
        _delete_result(world.coord_a, pid, entered["id"])

    assert _followup_rows(world.coord_a, pid) == before


def test_a_deleted_scan_between_two_others_hands_what_it_closed_to_the_next(world, fresh):
    """Scans 700, 400 and 30 days ago: the repeat closed by the second, the interval after it by
    the third, the next interval due. The second deleted, the third is the repeat scan: the repeat
    is closed by it, the interval planned after the deleted scan is cancelled (no scan took it)
    and the next interval, still what the scans left plan, keeps its id."""
    _, pid = fresh
    post_result(world.coord_a, pid, scan_date=days_ago(700))
    middle = post_result(world.coord_a, pid, scan_date=days_ago(400))
    post_result(world.coord_a, pid, scan_date=days_ago(30))
    by_kind = {f["kind"]: f for f in _followups(world.coord_a, pid, "?status=done")}
    [next_one] = _followups(world.coord_a, pid, "?status=due")

    _delete_result(world.coord_a, pid, middle["id"])

    assert _followup_rows(world.coord_a, pid) == sorted([
        (by_kind["repeat"]["id"], "repeat", "done", by_kind["repeat"]["due_date"], days_ago(30)),
        (by_kind["interval"]["id"], "interval", "cancelled", by_kind["interval"]["due_date"], None),
        (next_one["id"], "interval", "due", next_one["due_date"], None)])


def test_an_older_scan_entered_late_and_deleted_leaves_the_open_follow_up_as_it_is(world, fresh):
    """Scans 400 and 30 days ago, the interval after the latest due. A scan of 200 days ago
    entered late changes no follow-up (it is history); deleted as a mistake, it changes none
    either: the open follow-up keeps its id, so the coordinator can still book the one on screen."""
    _, pid = fresh
    post_result(world.coord_a, pid, scan_date=days_ago(400))
    post_result(world.coord_a, pid, scan_date=days_ago(30))
    before = _followup_rows(world.coord_a, pid)
    late = post_result(world.coord_a, pid, scan_date=days_ago(200))
    assert _followup_rows(world.coord_a, pid) == before
    [open_id] = [f["id"] for f in _followups(world.coord_a, pid, "?status=due")]

    _delete_result(world.coord_a, pid, late["id"])

    assert _followup_rows(world.coord_a, pid) == before
    booked = world.coord_a.patch(f"/api/v1/patients/{pid}/dxa/followups/{open_id}", json={
        "appointment": {"date": days_ago(-20), "time": "10:00", "place": "Room 3"}})
    assert booked.status_code == 200, booked.get_json()


# --- due_notices: 14 days and 1 day before an appointment, and due unbooked ------------------------

def _book(coord, pid, followup_id, day: date, time: str = "10:00"):
    response = coord.patch(f"/api/v1/patients/{pid}/dxa/followups/{followup_id}",
                           json={"appointment": {"date": day.isoformat(), "time": time, "place": "Room 3"}})
    assert response.status_code == 200, response.get_json()


def _around(moment: datetime):
    return moment - timedelta(minutes=1), moment + timedelta(minutes=1)


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Shanghai"])
def test_due_notices_fire_at_nine_local_14_days_and_1_day_before(app, client, world, zone):
    _, profile = enrolled_patient(client, world.coord_a, time_zone=zone, language="en")
    pid = profile["id"]
    base = f"/api/v1/patients/{pid}/dxa"
    world.coord_a.put(f"{base}/protocol", json={"medically_stable_on": (today(zone) + timedelta(days=100)).isoformat()})
    followup = _followups(world.coord_a, pid)[0]
    appointment = today(zone) + timedelta(days=120)
    _book(world.coord_a, pid, followup["id"], appointment, "14:15")
    with app.app_context():
        for days, kind in ((14, "dxa_appointment_in_14_days"), (1, "dxa_appointment_tomorrow")):
            at = local_moment(appointment - timedelta(days=days), "09:00", zone)
            mine = [n for n in dxa.due_notices(*_around(at)) if str(n.patient_id) == pid]
            assert len(mine) == 1, (days, mine)
            notice = mine[0]
            assert (notice.kind, notice.due_at) == (kind, at)
            assert notice.occurrence_key == f"dxa-appointment:{followup['id']}:{appointment.isoformat()}:{days}d"
            assert notice.payload == {"followup_id": followup["id"], "date": appointment.isoformat(),
                                      "time": "14:15", "place": "Room 3", "days_before": days}
            after = [n for n in dxa.due_notices(at + timedelta(minutes=1), at + timedelta(hours=6))
                     if str(n.patient_id) == pid]
            assert after == []
        # The booked follow-up's due date reminds no one: it is booked.
        due_at = local_moment(today(zone) + timedelta(days=100), "09:00", zone)
        assert [n for n in dxa.due_notices(*_around(due_at)) if str(n.patient_id) == pid] == []


def test_an_appointment_reminder_reads_its_date_and_time_in_the_patients_language(app, client, world):
    """The inbox read "检查安排在 2027-06-02 09:30" (the payload's ISO date) in every language.
    The date and time are the appointment's own (local to the patient); the payload keeps ISO.
    (CLDR puts a narrow no-break space between an English time and its AM/PM.)"""
    from app.reminders.dispatch import dispatch
    from app.reminders.materialise import materialise

    zone = "Asia/Shanghai"
    patient, profile = enrolled_patient(client, world.coord_a, time_zone=zone, language="zh-CN")
    pid = profile["id"]
    world.coord_a.put(f"/api/v1/patients/{pid}/dxa/protocol",
                      json={"medically_stable_on": (today(zone) + timedelta(days=100)).isoformat()})
    appointment = today(zone) + timedelta(days=120)
    _book(world.coord_a, pid, _followups(world.coord_a, pid)[0]["id"], appointment, "09:30")
    due_at = local_moment(appointment - timedelta(days=14), "09:00", zone)
    with app.app_context():
        with at(due_at - timedelta(minutes=5)):
            materialise(due_at - timedelta(minutes=5), patient_ids=[uuid.UUID(pid)])
        with at(due_at):
            dispatch(due_at)
    with at(due_at + timedelta(minutes=1), patient):
        zh = patient.get("/api/v1/patients/me/notifications?kind=dxa_appointment_in_14_days").get_json()["items"]
        en = patient.get("/api/v1/patients/me/notifications?kind=dxa_appointment_in_14_days&lang=en").get_json()["items"]
    assert len(zh) == len(en) == 1, (zh, en)
    assert f"检查安排在 {long_date_in(appointment, 'zh-CN')} 09:30，地点：Room 3" in zh[0]["text"], zh[0]["text"]
    assert f"scan is on {long_date_in(appointment, 'en')} at 9:30\u202fAM, Room 3" in en[0]["text"], en[0]["text"]
    assert appointment.isoformat() not in zh[0]["text"] + en[0]["text"]
    with app.app_context():
        [row] = db.session.scalars(select(Notification).where(
            Notification.patient_id == uuid.UUID(pid), Notification.kind == "dxa_appointment_in_14_days")).all()
        assert (row.payload["date"], row.payload["time"]) == (appointment.isoformat(), "09:30")


def test_due_notices_across_a_daylight_saving_change(app, client, world):
    """New York springs forward on 2027-03-14: 14 days before is EST, 1 day before is EDT."""
    _, profile = enrolled_patient(client, world.coord_a, time_zone="America/New_York", language="en")
    pid = profile["id"]
    with app.app_context():
        patient_followup = DxaFollowUp(patient_id=uuid.UUID(pid), kind="baseline", due_date=date(2027, 3, 1),
                                       status="booked", appointment_date=date(2027, 3, 20),
                                       appointment_time="10:00", appointment_place="Room 3",
                                       created_at=datetime(2026, 11, 1, tzinfo=timezone.utc),
                                       updated_at=datetime(2026, 11, 1, tzinfo=timezone.utc))
        db.session.add(patient_followup)
        db.session.flush()
        notices = [n for n in dxa.due_notices(datetime(2027, 3, 1, tzinfo=timezone.utc),
                                              datetime(2027, 3, 21, tzinfo=timezone.utc))
                   if str(n.patient_id) == pid]
        assert sorted((n.kind, n.due_at) for n in notices) == [
            ("dxa_appointment_in_14_days", datetime(2027, 3, 6, 14, 0, tzinfo=timezone.utc)),
            ("dxa_appointment_tomorrow", datetime(2027, 3, 19, 13, 0, tzinfo=timezone.utc)),
        ]


def test_a_follow_up_falling_due_unbooked_reminds_on_its_due_date(app, client, world):
    _, profile = enrolled_patient(client, world.coord_a, time_zone="Asia/Shanghai", language="zh-CN")
    pid = profile["id"]
    due = today("Asia/Shanghai") + timedelta(days=40)
    world.coord_a.put(f"/api/v1/patients/{pid}/dxa/protocol", json={"medically_stable_on": due.isoformat()})
    followup = _followups(world.coord_a, pid)[0]
    at = local_moment(due, "09:00", "Asia/Shanghai")
    with app.app_context():
        mine = [n for n in dxa.due_notices(*_around(at)) if str(n.patient_id) == pid]
        assert [(n.kind, n.occurrence_key, n.due_at) for n in mine] == [
            ("dxa_followup_due", f"dxa-followup-due:{followup['id']}:{due.isoformat()}", at)]
        assert mine[0].payload == {"followup_id": followup["id"], "due_date": due.isoformat(), "kind": "baseline"}
    _book(world.coord_a, pid, followup["id"], due + timedelta(days=5))
    with app.app_context():
        assert [n for n in dxa.due_notices(*_around(at)) if str(n.patient_id) == pid] == []


def test_a_follow_up_created_already_overdue_reminds_at_the_next_nine_oclock(app, client, world):
    _, profile = enrolled_patient(client, world.coord_a, time_zone="Europe/London", language="en")
    pid = profile["id"]
    world.coord_a.put(f"/api/v1/patients/{pid}/dxa/protocol", json={"medically_stable_on": days_ago(60)})
    followup = _followups(world.coord_a, pid)[0]
    now = datetime.now(timezone.utc)
    with app.app_context():
        mine = [n for n in dxa.due_notices(now - timedelta(minutes=5), now + timedelta(hours=25))
                if str(n.patient_id) == pid]
    assert len(mine) == 1 and mine[0].kind == "dxa_followup_due"
    assert mine[0].payload["followup_id"] == followup["id"] and now < mine[0].due_at <= now + timedelta(hours=24)


def test_due_notices_use_a_fixed_number_of_queries(app, client, world):
    start = datetime.combine(today() + timedelta(days=10), datetime.min.time(), tzinfo=timezone.utc)

    def queries_for(n_patients):
        for _ in range(n_patients):
            _, profile = enrolled_patient(client, world.coord_a, time_zone="Europe/London", language="en")
            world.coord_a.put(f"/api/v1/patients/{profile['id']}/dxa/protocol",
                              json={"medically_stable_on": (today() + timedelta(days=10)).isoformat()})
        with app.app_context():
            count = []
            engine = db.session.get_bind()
            listener = lambda *args: count.append(1)  # noqa: E731
            event.listen(engine, "before_cursor_execute", listener)
            try:
                notices = dxa.due_notices(start, start + timedelta(days=2))
            finally:
                event.remove(engine, "before_cursor_execute", listener)
            return len(count), len(notices)

    few = queries_for(1)
    many = queries_for(5)
    assert few[0] == many[0] and many[1] >= few[1] + 5


def test_reads_for_rules(app, world, fresh):
    _, pid = fresh
    post_result(world.coord_a, pid, bmd=0.800, scan_date=days_ago(400))
    post_result(world.coord_a, pid, bmd=0.700, scan_date=days_ago(30))
    world.coord_a.put(f"/api/v1/patients/{pid}/dxa/protocol", json={"interval_months": 12})
    with app.app_context():
        latest = dxa.latest_results([uuid.UUID(pid), uuid.UUID(world.a_id)])
        mine = [r for r in latest if str(r["patient_id"]) == pid]
        assert len(mine) == 1 and mine[0]["change"]["judgement"] == "real_loss"
        later = datetime.now(timezone.utc) + timedelta(days=400)
        overdue = dxa.overdue_followups([uuid.UUID(pid)], 30, later)
        assert [(o["kind"], o["days_overdue"] > 30) for o in overdue] == [("interval", True)]
        assert dxa.overdue_followups([uuid.UUID(pid)], 30, datetime.now(timezone.utc)) == []


@pytest.mark.committing
def test_two_identical_results_at_once_store_one(app):
    client = app.test_client()
    world = World(client).build()
    url = f"/api/v1/patients/{world.a_id}/dxa/results"
    body = {"scan_date": days_ago(3), "site": "proximal_tibia", "side": "right", "bmd": 0.66}
    barrier = threading.Barrier(2)
    statuses = []

    def send():
        local = app.test_client()
        barrier.wait()
        statuses.append(local.post(url, json=body, headers=world.coord_a.headers).status_code)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DxaResult).where(
            DxaResult.patient_id == uuid.UUID(world.a_id), DxaResult.site == "proximal_tibia")) == 1
        open_followups = db.session.scalar(select(func.count()).select_from(DxaFollowUp).where(
            DxaFollowUp.patient_id == uuid.UUID(world.a_id), DxaFollowUp.status.in_(("due", "booked"))))
        assert open_followups == 1


@pytest.mark.committing
def test_one_deletion_answers_204_once_when_sent_several_times_at_once(app):
    """Four requests at once delete one result: one 204 and three 404s, and one "deleted" is
    announced (each request had read the row before the first one committed)."""
    world = World(app.test_client()).build()
    results = f"/api/v1/patients/{world.a_id}/dxa/results"
    deleted = []

    def receiver(sender, result, change):
        if change == "deleted":
            deleted.append(result.id)

    dxa_result_written.connect(receiver)
    try:
        for attempt in range(5):  # a race: several tries, so that one run shows it
            created = world.coord_a.post(results, json={
                "scan_date": days_ago(40 + attempt), "site": "lumbar_spine", "bmd": 0.9})
            assert created.status_code == 201, created.get_json()
            url = f"{results}/{created.get_json()['id']}"
            statuses = at_once([lambda: app.test_client().delete(url, headers=world.coord_a.headers).status_code] * 4)
            assert sorted(statuses) == [204, 404, 404, 404], (attempt, statuses)
            assert deleted.count(uuid.UUID(created.get_json()["id"])) == 1, attempt
    finally:
        dxa_result_written.disconnect(receiver)


def test_follow_up_changes_are_announced(world, fresh):
    from app.dxa.signals import followup_changed

    _, pid = fresh
    seen = []

    def receiver(sender, followup, change):
        seen.append((followup.status, change))

    followup_changed.connect(receiver)
    try:
        world.coord_a.put(f"/api/v1/patients/{pid}/dxa/protocol", json={"medically_stable_on": days_ago(-5)})
        followup = _followups(world.coord_a, pid)[0]
        _book(world.coord_a, pid, followup["id"], today() + timedelta(days=6))
    finally:
        followup_changed.disconnect(receiver)
    assert seen == [("due", "created"), ("booked", "updated")]


def test_a_dxa_scan_before_the_patients_birth_and_a_stable_date_before_the_injury_are_refused(world, fresh):
    """Dates that cannot be are refused with the field named: a scan before birth, medically
    stable before the injury, treatment before birth, a follow-up due before the scan it follows;
    also when the other date is the stored one (the profile's birth or injury date changed after)."""
    from tests.test_errors import assert_problem

    _, pid = fresh
    coord = world.coord_a
    base = f"/api/v1/patients/{pid}/dxa"
    profile_url = f"/api/v1/patients/{pid}"
    profile = coord.get(profile_url).get_json()
    birth, injury = date.fromisoformat(profile["date_of_birth"]), date.fromisoformat(profile["injury_date"])

    def refused(response, field):
        body = assert_problem(response, 422)
        assert field in body["errors"], body
        return body

    before_birth = (birth - timedelta(days=1)).isoformat()
    refused(coord.post(f"{base}/results", json={"scan_date": before_birth, "site": "total_hip", "bmd": 0.8}),
            "scan_date")
    refused(coord.put(f"{base}/protocol", json={"medically_stable_on": (injury - timedelta(days=1)).isoformat()}),
            "medically_stable_on")
    refused(coord.put(f"{base}/protocol", json={"treatment_started_on": before_birth}), "treatment_started_on")
    assert coord.get(f"{base}/results").get_json()["items"] == []
    assert coord.get(f"{base}/protocol").get_json()["medically_stable_on"] is None
    # The edges are possible: a scan on the day of birth, stable on the day of the injury.
    post_result(coord, pid, site="total_hip", side="none", scan_date=birth.isoformat())
    stable = coord.put(f"{base}/protocol", json={"medically_stable_on": injury.isoformat()})
    assert stable.status_code == 200, stable.get_json()

    # A follow-up is the scan after the latest: it cannot be due before it.
    scan_day = today() - timedelta(days=30)
    post_result(coord, pid, site="total_hip", side="none", scan_date=scan_day.isoformat())
    open_followup = _followups(coord, pid, "?status=due")[0]
    early = (scan_day - timedelta(days=1)).isoformat()
    refused(coord.patch(f"{base}/followups/{open_followup['id']}", json={"due_date": early}), "due_date")
    assert coord.patch(f"{base}/followups/{open_followup['id']}", json={"status": "cancelled"}).status_code == 200
    refused(coord.post(f"{base}/followups", json={"kind": "interval", "due_date": early}), "due_date")

    # The stored date bounds a partial update of the profile: born after a scan, injured after
    # being stable.
    refused(coord.patch(profile_url, if_match_of=profile_url,
                        json={"date_of_birth": (birth + timedelta(days=1)).isoformat()}), "date_of_birth")
    refused(coord.patch(profile_url, if_match_of=profile_url,
                        json={"injury_date": (injury + timedelta(days=1)).isoformat()}), "injury_date")
    refused(coord.patch(profile_url, if_match_of=profile_url,
                        json={"known_fractures": [{"site": "distal femur", "date": before_birth}]}), "known_fractures")
    unchanged = coord.get(profile_url).get_json()
    assert (unchanged["date_of_birth"], unchanged["injury_date"]) == (profile["date_of_birth"], profile["injury_date"])
    assert coord.patch(profile_url, if_match_of=profile_url,
                       json={"injury_date": (injury - timedelta(days=1)).isoformat()}).status_code == 200
