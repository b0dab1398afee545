"""The flag lifecycle through the API and the sweep: open with evidence, one active flag per
patient and rule, escalation, acknowledge, resolve, auto-resolve, re-open, pause; safety on write."""
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.audit.models import AuditEvent
from app.extensions import db
from app.rules import service
from app.rules.models import Flag, active_key
from tests.factories import at, enrolled_patient, long_date_in
from tests.statements import statements_on

UTC = timezone.utc
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def utc(*args):
    return datetime(*args, tzinfo=UTC)


class Patient:
    """A London patient (T4, so dysreflexia applies) on a daily plan from Monday 1 March 2027."""

    def __init__(self, client, world, level="T4"):
        self.world, self.coord, self.app = world, world.coord_a, client.application
        self.patient, self.profile = enrolled_patient(client, world.coord_a, neurological_level=level,
                                                      time_zone="Europe/London", language="en")
        self.id = self.profile["id"]
        self.url = f"/api/v1/patients/{self.id}"
        with at(utc(2027, 2, 27, 12), self.coord):
            response = self.coord.post(f"{self.url}/plans", json={
                "start_date": "2027-03-01", "items": [{"exercise": "fes-cycling", "minutes": 30, "days_of_week": EVERY_DAY}],
                "acknowledge_warnings": ["autonomic_dysreflexia"]})
            assert response.status_code == 201, response.get_json()
        self.plan = response.get_json()
        self.key = self.plan["versions"][0]["items"][0]["item_key"]

    def log(self, when, **extra):
        body = {"item_key": self.key, "started_at": when.isoformat(), "duration_minutes": 30, **extra}
        with at(when + timedelta(minutes=40), self.patient):
            response = self.patient.put(f"{self.url}/sessions/{uuid.uuid4()}", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def sweep(self, now):
        with at(now), self.app.app_context():
            return service.sweep(now, [uuid.UUID(self.id)])

    def flags(self, now, query="", expect=200):
        with at(now, self.coord):
            response = self.coord.get(f"{self.url}/flags?{query}")
        assert response.status_code == expect, response.get_json()
        return response.get_json()["items"]

    def post(self, now, path, body):
        with at(now, self.coord):
            return self.coord.post(f"{self.url}/flags/{path}", json=body)


@pytest.fixture
def p(client, world):
    return Patient(client, world)


def lapse(items):
    return [f for f in items if f["rule_id"] == "lapse"]


def test_lapse_opens_with_evidence_escalates_clears_and_reopens(p):
    p.log(utc(2027, 3, 1, 10))
    p.log(utc(2027, 3, 2, 10))
    assert p.sweep(utc(2027, 3, 4, 12))["opened"] == 0  # 2 days: nothing yet
    p.sweep(utc(2027, 3, 5, 12))
    [flag] = lapse(p.flags(utc(2027, 3, 5, 12)))
    assert (flag["severity"], flag["status"], flag["evidence"]["days"]) == ("warning", "open", 3)
    assert flag["evidence"]["last_session_date"] == "2027-03-02"
    assert flag["title"] == "No session for 3 days" and "Mar 2, 2027" in flag["explanation"]
    assert "MedBridge" in flag["source"]
    p.sweep(utc(2027, 3, 5, 13))  # again: still one flag
    p.sweep(utc(2027, 3, 16, 12))  # 14 days: the same flag, now urgent
    [urgent] = lapse(p.flags(utc(2027, 3, 16, 12)))
    assert (urgent["id"], urgent["severity"], urgent["evidence"]["days"]) == (flag["id"], "urgent", 14)
    p.log(utc(2027, 3, 16, 14))
    assert p.sweep(utc(2027, 3, 16, 15))["resolved"] >= 1
    [cleared] = lapse(p.flags(utc(2027, 3, 16, 15)))
    assert (cleared["status"], cleared["outcome"], cleared["resolved_by"]) == ("resolved", "condition_cleared",
                                                                              "system:rules")
    p.sweep(utc(2027, 3, 19, 12))  # recurs: a new episode that points at the last one
    reopened = lapse(p.flags(utc(2027, 3, 19, 12), "status=active"))
    assert len(reopened) == 1 and reopened[0]["reopened_from_id"] == flag["id"] and reopened[0]["id"] != flag["id"]
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == uuid.UUID(p.id),
                                                                 AuditEvent.action.like("flag_%"))).all()
    assert {"flag_opened", "flag_severity_changed", "flag_resolved", "flag_reopened"} <= set(actions)


def test_acknowledge_resolve_and_the_quiet_period(p):
    p.log(utc(2027, 3, 1, 10))
    p.sweep(utc(2027, 3, 4, 12))
    [flag] = lapse(p.flags(utc(2027, 3, 4, 12)))
    ack = p.post(utc(2027, 3, 4, 13), f"{flag['id']}/acknowledge", {})
    assert ack.status_code == 200 and ack.get_json()["status"] == "acknowledged"
    assert p.post(utc(2027, 3, 4, 13), f"{flag['id']}/acknowledge", {}).status_code == 200  # again: no change
    bad = p.post(utc(2027, 3, 4, 13), f"{flag['id']}/resolve", {"outcome": "shrugged", "note": "x"})
    assert bad.status_code == 422
    done = p.post(utc(2027, 3, 4, 14), f"{flag['id']}/resolve", {"outcome": "contacted_patient", "note": "Away, back Monday"})
    body = done.get_json()
    assert done.status_code == 200 and (body["status"], body["outcome"]) == ("resolved", "contacted_patient")
    assert body["resolved_by"] == p.coord.id and body["resolution_note"] == "Away, back Monday"
    assert p.post(utc(2027, 3, 4, 14), f"{flag['id']}/resolve", {"outcome": "other", "note": "x"}).status_code == 409
    assert p.post(utc(2027, 3, 4, 14), f"{flag['id']}/acknowledge", {}).status_code == 409
    p.sweep(utc(2027, 3, 6, 12))  # still lapsed, but reviewed two days ago and no worse: quiet
    assert not lapse(p.flags(utc(2027, 3, 6, 12), "status=active"))
    p.sweep(utc(2027, 3, 15, 12))  # 14 days: urgent now, worse than what was reviewed
    [again] = lapse(p.flags(utc(2027, 3, 15, 12), "status=active"))
    assert again["severity"] == "urgent" and again["reopened_from_id"] == flag["id"]


def test_pause_suppresses_and_resolves_the_adherence_flags(p):
    p.log(utc(2027, 3, 1, 10))
    p.sweep(utc(2027, 3, 5, 12))
    assert lapse(p.flags(utc(2027, 3, 5, 12), "status=active"))
    with at(utc(2027, 3, 5, 13), p.coord):
        assert p.coord.post(f"{p.url}/plans/{p.plan['id']}/pause", json={"reason": "hospital stay"},
                            if_match_of=f"{p.url}/plans/{p.plan['id']}").status_code == 200
    p.sweep(utc(2027, 3, 12, 12))
    [paused] = lapse(p.flags(utc(2027, 3, 12, 12)))
    assert (paused["status"], paused["outcome"]) == ("resolved", "plan_paused")
    assert not p.flags(utc(2027, 3, 12, 12), "status=active")  # nothing else raised while paused
    with at(utc(2027, 3, 12, 13), p.coord):
        assert p.coord.post(f"{p.url}/plans/{p.plan['id']}/resume", json={},
                            if_match_of=f"{p.url}/plans/{p.plan['id']}").status_code == 200
    p.sweep(utc(2027, 3, 13, 12))  # paused days do not count as lapsed
    assert not lapse(p.flags(utc(2027, 3, 13, 12), "status=active"))


def test_dysreflexia_signs_raise_an_urgent_flag_on_write(p):
    p.log(utc(2027, 3, 2, 10), symptoms=["pounding_headache"])
    [flag] = p.flags(utc(2027, 3, 2, 11))
    assert (flag["rule_id"], flag["severity"], flag["status"]) == ("dysreflexia_signs", "urgent", "open")
    assert flag["evidence"]["symptoms"] == ["pounding_headache"] and "Pounding headache" in flag["explanation"]
    p.log(utc(2027, 3, 2, 15), symptoms=["flushing_or_sweating"])  # while open: the same flag, new evidence
    [same] = p.flags(utc(2027, 3, 2, 16))
    assert same["id"] == flag["id"] and same["evidence"]["sessions"] == 2
    p.sweep(utc(2027, 3, 2, 17))  # the backstop sweep finds nothing new
    p.sweep(utc(2027, 3, 9, 12))  # a safety flag never resolves by itself
    assert p.flags(utc(2027, 3, 9, 12))[0]["status"] == "open"
    p.post(utc(2027, 3, 9, 12), f"{flag['id']}/resolve", {"outcome": "referred", "note": "GP saw him"})
    p.sweep(utc(2027, 3, 9, 13))
    assert not p.flags(utc(2027, 3, 9, 13), "status=active&rule=dysreflexia_signs")
    p.log(utc(2027, 3, 9, 14), symptoms=["pounding_headache"])  # a new episode: raised again at once
    [new] = p.flags(utc(2027, 3, 9, 15), "status=active&rule=dysreflexia_signs")
    assert new["reopened_from_id"] == flag["id"]


def test_below_t6_headache_is_not_dysreflexia_but_still_reaches_the_coordinator(client, world):
    lumbar = Patient(client, world, level="L1")
    lumbar.log(utc(2027, 3, 2, 10), symptoms=["pounding_headache"])
    [flag] = lumbar.flags(utc(2027, 3, 2, 11))
    assert (flag["rule_id"], flag["severity"]) == ("blood_pressure_signs", "warning")


def test_every_safety_answer_that_tells_the_patient_to_act_raises_a_flag(client, world, p):
    # T4: dizziness is measured first (too high or too low), an urgent flag; chest pain, an ambulance.
    p.log(utc(2027, 3, 2, 10), symptoms=["dizziness"])
    p.log(utc(2027, 3, 2, 12), symptoms=["chest_pain_or_breathless"])
    found = {f["rule_id"]: f["severity"] for f in p.flags(utc(2027, 3, 2, 13))}
    assert found == {"blood_pressure_check": "urgent", "chest_pain_or_breathlessness": "urgent"}
    lumbar = Patient(client, world, level="L1")
    lumbar.log(utc(2027, 3, 2, 10), symptoms=["faint_or_weak_when_upright"])
    assert [f["rule_id"] for f in lumbar.flags(utc(2027, 3, 2, 11))] == ["blood_pressure_signs"]
    # every alert a safety answer can carry is watched by some rule
    from app.rules.definitions import enabled_rules
    from app.sessions.content import safety_answers
    watched = {a for r in enabled_rules() if r.evaluator == "session_alert" for a in r.parameters["alerts"]}
    assert watched == set(safety_answers())


def test_pain_twice_fracture_and_skin_on_write(p):
    p.log(utc(2027, 3, 2, 10), pain=7)
    p.log(utc(2027, 3, 3, 10), pain=6)
    assert p.flags(utc(2027, 3, 3, 11)) == []
    p.log(utc(2027, 3, 8, 10), pain=8)
    p.log(utc(2027, 3, 8, 12), symptoms=["swelling_warmth_or_deformity", "pressure_redness_or_broken_skin"])
    found = {f["rule_id"]: f for f in p.flags(utc(2027, 3, 8, 13))}
    assert set(found) == {"repeated_pain", "possible_fracture", "skin_breakdown"}
    assert found["repeated_pain"]["evidence"]["dates"] == ["2027-03-02", "2027-03-08"]
    assert found["skin_breakdown"]["severity"] == "warning"


def test_one_active_flag_per_patient_and_rule_is_a_constraint(p, app):
    p.log(utc(2027, 3, 2, 10), symptoms=["pounding_headache"])
    flag = db.session.scalar(select(Flag).where(Flag.patient_id == uuid.UUID(p.id)))
    twin = Flag(patient_id=flag.patient_id, rule_id=flag.rule_id, severity="urgent", status="open",
                active_key=active_key(flag.patient_id, flag.rule_id), evidence={}, opened_at=flag.opened_at,
                last_seen_at=flag.opened_at)
    db.session.add(twin)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_sweep_statements_do_not_grow_with_the_patients(client, world, app):
    patients = [Patient(client, world) for _ in range(2)]
    for s in patients:
        s.log(utc(2027, 3, 1, 10), pain=8)
    more = [Patient(client, world) for _ in range(4)]
    for s in more:
        s.log(utc(2027, 3, 1, 10), pain=8)

    def statements(ids):
        # 9 days without a session: warnings, so no urgent message (each one is an outbox insert)
        with statements_on(db.session.get_bind()) as counted, at(utc(2027, 3, 10, 12)), app.app_context():
            totals = service.sweep(utc(2027, 3, 10, 12), ids)
        return counted.n, totals

    few, few_totals = statements([uuid.UUID(s.id) for s in patients])
    many, many_totals = statements([uuid.UUID(s.id) for s in patients + more])
    assert few_totals["opened"] == 2 * 3 and many_totals["opened"] == 4 * 3  # lapse, low 7d + 30d rates
    assert few == many, (few, many)


@pytest.mark.committing
def test_concurrent_sweeps_open_one_flag(client, app):
    from tests.factories import World

    world = World(client).build()
    s = Patient(client, world)
    s.log(utc(2027, 3, 1, 10))
    now = utc(2027, 3, 6, 12)
    errors, barrier = [], threading.Barrier(4)

    def run():
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                service.sweep(now, [uuid.UUID(s.id)])
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    with at(now):
        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    with app.app_context():
        rows = db.session.scalars(select(Flag).where(Flag.patient_id == uuid.UUID(s.id), Flag.rule_id == "lapse")).all()
        assert len(rows) == 1 and rows[0].status == "open"


def test_the_sweep_and_digest_are_registered_jobs(app, p):
    from app.common.db import writing
    from app.scheduler import registered_jobs

    jobs = registered_jobs(app)  # what `flask scheduler run` runs
    assert jobs["rules.sweep"].leader_only and jobs["rules.digest"].leader_only  # one process runs them
    assert jobs["rules.sweep"].trigger.interval == timedelta(minutes=15)
    assert str(jobs["rules.digest"].trigger.fields[5]) == "7"  # 07:00 UTC
    p.log(utc(2027, 3, 1, 10))
    with at(utc(2027, 3, 5, 12)), app.app_context(), writing():  # as the scheduler's runner calls it
        totals = jobs["rules.sweep"].func(utc(2027, 3, 5, 12))
    assert totals["opened"] >= 1
    assert lapse(p.flags(utc(2027, 3, 5, 12)))[0]["status"] == "open"
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "flag_opened",
                                                     AuditEvent.patient_id == uuid.UUID(p.id)))
    assert (row.actor_role, row.actor_name) == ("system", "system:rules")


def test_only_the_patients_coordinators_see_and_act_on_their_flags(world):
    flag, url = world.flag_a, f"/api/v1/patients/{world.a_id}/flags"
    assert flag in {f["id"] for f in world.coord_a.get("/api/v1/flags").get_json()["items"]}
    assert flag not in {f["id"] for f in world.coord_b.get("/api/v1/flags").get_json()["items"]}
    assert world.coord_none.get("/api/v1/flags").get_json()["items"] == []
    for other in (world.coord_b, world.coord_none):  # not their caseload: as if there were no patient
        assert other.get(url).status_code == 404
        assert other.post(f"{url}/{flag}/acknowledge", json={}).status_code == 404
        assert other.post(f"{url}/{flag}/resolve", json={"outcome": "other", "note": "x"}).status_code == 404
        assert world.a_id not in other.get("/api/v1/caseload/export.csv").get_data(as_text=True)
    for related in (world.patient_a, world.caregiver_a):  # the patient's side does not review flags
        assert related.get(url).status_code == 403
        assert related.post(f"{url}/{flag}/acknowledge", json={}).status_code == 403
    assert world.admin.get("/api/v1/flags").status_code == 403
    assert world.coord_b.post(f"/api/v1/patients/{world.b_id}/flags/{flag}/acknowledge", json={}).status_code == 404
    done = world.coord_a.post(f"{url}/{flag}/acknowledge", json={})
    assert done.status_code == 200 and done.get_json()["acknowledged_by_id"] == world.coord_a.id


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_flags_texts_write_its_dates_in_the_readers_language(p, language):
    """The explanation read "… since 2027-03-02" / "自 2027-03-02 起…" (the evidence's ISO date)
    in the API's flags; the console already wrote the date for its reader. The evidence keeps ISO."""
    p.log(utc(2027, 3, 1, 10))
    p.log(utc(2027, 3, 2, 10))
    p.sweep(utc(2027, 3, 5, 12))
    [flag] = lapse(p.flags(utc(2027, 3, 5, 12), f"lang={language}"))
    assert flag["evidence"]["last_session_date"] == "2027-03-02"
    assert long_date_in(datetime(2027, 3, 2), language) in flag["explanation"], flag["explanation"]
    assert "2027-03-02" not in flag["explanation"] + flag["title"]


def test_the_rules_in_force_with_their_sources_for_staff_only(world):
    body = world.coord_a.get("/api/v1/rules?lang=zh-CN&per_page=100").get_json()
    rules = {r["id"]: r for r in body["items"]}
    assert body["meta"]["total"] == len(rules) == 17
    lapse = rules["lapse"]
    assert lapse["parameters"] == {"warning_days": 3, "urgent_days": 14} and lapse["severity"] == "warning"
    assert "MedBridge" in lapse["source"] and lapse["auto_resolve"] and lapse["suppressed_when_paused"]
    assert rules["dysreflexia_signs"]["runs"] == "on_write" and not rules["dysreflexia_signs"]["auto_resolve"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in lapse["title"])  # the title in Chinese
    assert world.admin.get("/api/v1/rules").status_code == 200
    for other in (world.patient_a, world.caregiver_a):
        assert other.get("/api/v1/rules").status_code == 403


def test_only_a_session_that_can_change_a_safety_rule_runs_the_rules_on_write(p, monkeypatch):
    runs = []
    real = service.engine.run
    monkeypatch.setattr(service.engine, "run", lambda rules, *a, **k: runs.append([r.id for r in rules]) or real(rules, *a, **k))
    p.log(utc(2027, 3, 2, 10), pain=3, symptoms=["more_spasms"])  # nothing any on-write rule reads
    assert runs == []
    p.log(utc(2027, 3, 2, 12), pain=7)
    p.log(utc(2027, 3, 2, 14), symptoms=["swelling_warmth_or_deformity"])
    assert runs == [["repeated_pain"], ["possible_fracture"]]


def test_the_rules_texts_name_their_parameters_values_for_the_reader(world):
    """The knee rule's explanation said "the plan prescribes ['standing', 'vibration']" (its
    parameter as Python writes a list) in every language."""
    for language, named in (("en", "prescribes standing and vibration:"), ("zh-CN", "计划中包含站立训练和振动训练")):
        rules = {r["id"]: r for r in world.coord_a.get(f"/api/v1/rules?lang={language}&per_page=100").get_json()["items"]}
        knee = rules["knee_bmd_low_while_loading"]
        assert named in knee["explanation"] and "[" not in knee["explanation"], knee["explanation"]
        assert knee["parameters"]["exercise_kinds"] == ["standing", "vibration"]  # the codes stay in the data


def test_the_rules_in_force_are_listed_without_the_dxa_domain(world, monkeypatch):
    """A DXA rule is off while app/dxa is not installed (`requires: [dxa]`) but still listed:
    its parameters name the sites by their codes then, instead of failing the list."""
    import sys

    for name in ("app.dxa", "app.dxa.content"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed: find_spec and import fail
    for language in ("en", "zh-CN"):
        response = world.coord_a.get(f"/api/v1/rules?lang={language}&per_page=100")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        rules = {r["id"]: r for r in response.get_json()["items"]}
        assert rules["knee_bmd_low_while_loading"]["parameters"]["sites"]


def test_an_edit_that_keeps_a_reviewed_sessions_alert_does_not_raise_it_again(p):
    """The on-write rules' dedup by the trigger's write time: an edit of the session whose
    dysreflexia signs the coordinator reviewed (its duration corrected, the same answers) is the
    same trigger, not a new episode; an edit that adds a sign, or a new session, is one."""
    logged = p.log(utc(2027, 3, 2, 10), symptoms=["pounding_headache"])
    [flag] = p.flags(utc(2027, 3, 2, 11), "status=active&rule=dysreflexia_signs")
    assert p.post(utc(2027, 3, 2, 12), f"{flag['id']}/resolve", {"outcome": "referred", "note": "GP saw him"}).status_code == 200
    body = {"item_key": p.key, "started_at": utc(2027, 3, 2, 10).isoformat(), "symptoms": ["pounding_headache"]}

    def edit(when, revision, **changes):
        with at(when, p.patient):
            response = p.patient.put(f"{p.url}/sessions/{logged['id']}",
                                     json=body | {"duration_minutes": 30, "base_revision": revision} | changes)
        assert response.status_code == 200, response.get_json()

    edit(utc(2027, 3, 2, 13), 1, duration_minutes=25)
    p.sweep(utc(2027, 3, 2, 14))
    assert not p.flags(utc(2027, 3, 2, 14), "status=active&rule=dysreflexia_signs")
    edit(utc(2027, 3, 2, 15), 2, duration_minutes=25, symptoms=["pounding_headache", "flushing_or_sweating"])
    [again] = p.flags(utc(2027, 3, 2, 15), "status=active&rule=dysreflexia_signs")
    assert again["reopened_from_id"] == flag["id"] and again["evidence"]["symptoms"] == ["pounding_headache",
                                                                                         "flushing_or_sweating"]


def test_flags_and_rules_read_in_the_coordinators_language(world):
    """A coordinator whose account is zh-CN reads flags and rules in Chinese without ?lang or
    Accept-Language; one never given a language reads English whatever the patient's (zh-CN)."""
    now = datetime.now(UTC)
    with world.client.application.app_context():
        flag = Flag(patient_id=uuid.UUID(world.a_id), rule_id="few_data_days", severity="info", status="open",
                    active_key=active_key(world.a_id, "few_data_days"), opened_at=now, last_seen_at=now, evidence={})
        db.session.add(flag)
        db.session.commit()
    coord = world.coord_a
    for path in ("/api/v1/flags", f"/api/v1/patients/{world.a_id}/flags"):
        assert {f["language"] for f in coord.get(path).get_json()["items"]} == {"en"}, path
    assert world.admin.patch(f"/api/v1/users/{coord.id}", json={"language": "zh-CN"}).status_code == 200
    for path in ("/api/v1/flags", f"/api/v1/patients/{world.a_id}/flags"):
        assert {f["language"] for f in coord.get(path).get_json()["items"]} == {"zh-CN"}, path
    english = coord.get("/api/v1/rules?lang=en").get_json()["items"]
    chinese = coord.get("/api/v1/rules").get_json()["items"]
    assert chinese[0]["title"] != english[0]["title"]
