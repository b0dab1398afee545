"""Coordinator review: caseload (filters, sort, pages, fixed statements), timeline, contact log,
and the exports (caseload CSV round trip and formula guard, FHIR R4 validated, own data)."""
import csv
import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from fhir.resources.R4B.bundle import Bundle

from app.coordinator.exports import CASELOAD_COLUMNS, unguard
from app.extensions import db
from app.rules import service as rules
from tests.factories import at, enrolled_patient
from tests.statements import statements_on
from tests.test_errors import assert_problem

UTC = timezone.utc
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
NOW = datetime(2027, 3, 20, 12, tzinfo=UTC)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def on_plan(client, world, name=None, level="T10", sessions_on=(1, 2)):
    """A patient of coordinator A on a daily plan from 1 March 2027, with sessions on those days."""
    patient, profile = enrolled_patient(client, world.coord_a, display_name=name or f"P {uuid.uuid4().hex[:6]}",
                                        neurological_level=level, time_zone="Europe/London", language="en")
    url = f"/api/v1/patients/{profile['id']}"
    with at(utc(2027, 2, 27, 12), world.coord_a):
        plan = world.coord_a.post(f"{url}/plans", json={
            "start_date": "2027-03-01", "items": [{"exercise": "fes-cycling", "minutes": 30, "days_of_week": EVERY_DAY}],
            "acknowledge_warnings": ["autonomic_dysreflexia"]})
        assert plan.status_code == 201, plan.get_json()
    key = plan.get_json()["versions"][0]["items"][0]["item_key"]
    for day in sessions_on:
        when = utc(2027, 3, day, 10)
        with at(when + timedelta(hours=1), patient):
            r = patient.put(f"{url}/sessions/{uuid.uuid4()}", json={"item_key": key, "started_at": when.isoformat(),
                                                                    "duration_minutes": 30, "pain": 3})
            assert r.status_code == 201, r.get_json()
    return patient, profile, plan.get_json(), key


def get(actor, url, now=NOW):
    with at(now, actor):
        return actor.get(url)


def test_caseload_rows_filters_sort_and_pages(client, world):
    _, lapsed, _, _ = on_plan(client, world, "Lapsed Lee", sessions_on=(1,))
    _, steady, _, _ = on_plan(client, world, "Steady Sue", sessions_on=range(1, 20))
    with at(NOW), client.application.app_context():
        rules.sweep(NOW, [uuid.UUID(lapsed["id"]), uuid.UUID(steady["id"])])
    body = get(world.coord_a, "/api/v1/caseload?per_page=100").get_json()
    by_name = {r["patient"]["display_name"]: r for r in body["items"]}
    assert world.profile_b["id"] not in {r["patient"]["id"] for r in body["items"]}  # not on A's caseload
    lee, sue = by_name["Lapsed Lee"], by_name["Steady Sue"]
    assert body["items"][0]["patient"]["display_name"] == "Lapsed Lee"  # urgent first
    assert lee["open_flags"]["urgent"] == 1 and "lapse" in lee["open_flag_rules"]
    assert sue["adherence_7"] == {"rate": 0.8571, "expected": 7, "completed": 6}  # 14-19 done, 20 not yet
    assert sue["open_flags"]["total"] == 0 and sue["plan_status"] == "active"
    assert lee["last_session_at"].startswith("2027-03-01T10:00:00")

    def names(query):
        return [r["patient"]["display_name"] for r in get(world.coord_a, f"/api/v1/caseload?{query}").get_json()["items"]]

    assert names("severity=urgent") == ["Lapsed Lee"]
    assert names("rule=lapse") == ["Lapsed Lee", "Alice Marker-A"]  # urgent, then the world's warning
    assert "Steady Sue" not in names("adherence_below=0.8&adherence_window=7")
    assert "Steady Sue" in names("adherence_below=0.9&adherence_window=7")
    assert names("no_session_since=2027-03-02&q=lee") == ["Lapsed Lee"]
    assert names("q=steady") == ["Steady Sue"]
    all_names = names("sort=name&per_page=100")
    assert all_names == sorted(all_names, key=str.lower)
    first = get(world.coord_a, "/api/v1/caseload?sort=name&per_page=1").get_json()
    assert first["meta"]["total"] == len(all_names) and first["meta"]["next_page"] == 2
    second = get(world.coord_a, "/api/v1/caseload?sort=name&per_page=1&page=2").get_json()
    assert [r["patient"]["display_name"] for r in first["items"] + second["items"]] == all_names[:2]
    assert get(world.patient_a, "/api/v1/caseload").status_code == 403
    assert get(world.coord_none, "/api/v1/caseload").get_json()["items"] == []


def _statements(actor, url):
    with at(NOW, actor), statements_on(db.session.get_bind()) as counted:
        response = actor.get(url)
    assert response.status_code == 200
    return counted.n, response


def test_caseload_statements_do_not_grow_with_its_size(client, world):
    for _ in range(2):
        on_plan(client, world)
    few, response = _statements(world.coord_a, "/api/v1/caseload?per_page=100")
    small = response.get_json()["meta"]["total"]
    for _ in range(8):
        on_plan(client, world)
    many, response = _statements(world.coord_a, "/api/v1/caseload?per_page=100")
    assert response.get_json()["meta"]["total"] == small + 8
    assert few == many, (few, many)


def test_caseload_csv_round_trips_and_defuses_formulas(client, world):
    for name in ("=HYPERLINK(\"http://evil\")", "+SUM(A1)", "-2+3", "@cmd", "Plain Name, Jr."):
        on_plan(client, world, name)
    response = get(world.coord_a, "/api/v1/caseload/export.csv?sort=name")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0].keys()) == CASELOAD_COLUMNS
    dangerous = [r["display_name"] for r in rows if r["display_name"][:1] in "=+-@"]
    assert dangerous == []  # no cell starts a formula
    expected = get(world.coord_a, "/api/v1/caseload?sort=name&per_page=100").get_json()["items"]
    assert len(rows) == len(expected)
    for row, item in zip(rows, expected):
        assert row["patient_id"] == item["patient"]["id"]
        assert unguard(row["display_name"]) == item["patient"]["display_name"]
        # blank when nothing was expected: the world's patients, made at the real clock, start their plans
        # after NOW once the real date is past it
        assert (float(row["adherence_30_rate"]) if row["adherence_30_rate"] else None) == item["adherence_30"]["rate"]
        assert int(row["adherence_30_expected"]) == item["adherence_30"]["expected"]
        assert int(row["flags_urgent"]) == item["open_flags"]["urgent"]
        assert (row["open_flag_rules"].split(";") if row["open_flag_rules"] else []) == item["open_flag_rules"]
        assert row["last_session_at"] == (item["last_session_at"] or "")


def test_timeline_contacts_and_follow_up(client, world):
    patient, profile, plan, key = on_plan(client, world, level="T4", sessions_on=(1,))
    url = f"/api/v1/patients/{profile['id']}"
    coord = world.coord_a
    with at(utc(2027, 3, 2, 9), patient):
        assert patient.put(f"{url}/sessions/{uuid.uuid4()}", json={
            "item_key": key, "started_at": utc(2027, 3, 2, 8).isoformat(), "duration_minutes": 20,
            "symptoms": ["pounding_headache"]}).status_code == 201
    with at(utc(2027, 3, 2, 10), coord):
        [flag] = coord.get(f"{url}/flags").get_json()["items"]
        contact = coord.post(f"{url}/contacts", json={"channel": "phone", "outcome": "reached", "flag_id": flag["id"],
                                                      "note": "BP settled after sitting up", "follow_up_on": "2027-03-05"})
        assert contact.status_code == 201, contact.get_json()
        past = coord.post(f"{url}/contacts", json={"channel": "phone", "outcome": "reached", "follow_up_on": "2027-03-01"})
        assert past.status_code == 422
        other = coord.post(f"{url}/contacts", json={"channel": "phone", "outcome": "reached", "flag_id": str(uuid.uuid4())})
        assert other.status_code == 422
    with at(utc(2027, 3, 2, 10, 5), coord):  # time stands still in at(): one step per event, for the order
        assert coord.post(f"{url}/flags/{flag['id']}/resolve", json={"outcome": "contacted_patient",
                                                                     "note": "Called"}).status_code == 200
    with at(utc(2027, 3, 2, 10, 10), coord):
        assert coord.post(f"{url}/plans/{plan['id']}/pause", json={"reason": "clinic review"},
                          if_match_of=f"{url}/plans/{plan['id']}").status_code == 200
    body = get(coord, f"{url}/timeline?per_page=100", utc(2027, 3, 2, 11)).get_json()
    kinds = [e["kind"] for e in body["items"]]
    assert kinds == ["plan_paused", "flag_resolved", "contact", "flag_opened", "session", "session", "plan_version"]
    assert body["items"][2]["contact"]["note"] == "BP settled after sitting up"
    assert body["items"][3]["flag"]["rule_id"] == "dysreflexia_signs"
    oldest = get(coord, f"{url}/timeline?order=oldest&kind=session&per_page=1", utc(2027, 3, 2, 11)).get_json()
    assert oldest["meta"]["total"] == 2 and oldest["items"][0]["session"]["local_date"] == "2027-03-01"
    listed = get(coord, f"{url}/contacts", utc(2027, 3, 2, 11)).get_json()
    assert [c["follow_up_on"] for c in listed["items"]] == ["2027-03-05"]
    row = next(r for r in get(coord, "/api/v1/caseload?overdue=true&per_page=100", utc(2027, 3, 6, 12)).get_json()["items"]
               if r["patient"]["id"] == profile["id"])
    assert row["next_follow_up_on"] == "2027-03-05" and row["follow_up_overdue"] is True
    assert get(patient, f"{url}/timeline", utc(2027, 3, 2, 11)).status_code == 403


def test_a_contact_after_the_follow_up_date_ends_the_overdue_follow_up(client, world):
    """A follow-up set for 5 March is still due after a contact on 3 March (before its date), and
    ended by the contact on 5 March that answers it: not overdue on 6 March, not under
    ?overdue=true, no next follow-up."""
    coord = world.coord_a
    _, profile = enrolled_patient(client, coord, display_name="Follow Up Fay", time_zone="Europe/London",
                                  language="en")
    url = f"/api/v1/patients/{profile['id']}/contacts"

    def row(moment):
        with at(moment, coord):
            rows = coord.get("/api/v1/caseload?per_page=100").get_json()["items"]
            overdue = coord.get("/api/v1/caseload?overdue=true&per_page=100").get_json()["items"]
        return (next(r for r in rows if r["patient"]["id"] == profile["id"]),
                profile["id"] in [r["patient"]["id"] for r in overdue])

    with at(utc(2027, 3, 2, 10), coord):
        assert coord.post(url, json={"channel": "phone", "outcome": "reached",
                                     "follow_up_on": "2027-03-05"}).status_code == 201
    with at(utc(2027, 3, 3, 10), coord):
        assert coord.post(url, json={"channel": "message", "outcome": "reached"}).status_code == 201
    early, listed = row(utc(2027, 3, 6, 12))
    assert early["next_follow_up_on"] == "2027-03-05" and early["follow_up_overdue"] is True and listed
    with at(utc(2027, 3, 5, 11), coord):
        assert coord.post(url, json={"channel": "phone", "outcome": "reached",
                                     "note": "Followed up: all well"}).status_code == 201
    answered, listed = row(utc(2027, 3, 6, 12))
    assert answered["next_follow_up_on"] is None and answered["follow_up_overdue"] is False and not listed


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "0001-01-01T05:00:00+06:00"])
def test_a_contact_at_the_first_moment_of_year_one_in_an_eastern_zone_is_422(world, moment):
    """Its time in UTC would be before year one: refused as out of the calendar's range, as every
    date a body gives is, not a 500 when stored."""
    response = world.coord_a.post(f"/api/v1/patients/{world.a_id}/contacts", json={
        "channel": "phone", "outcome": "reached", "contacted_at": moment})
    assert list(assert_problem(response, 422)["errors"]) == ["contacted_at"]


def test_fhir_bundle_is_valid_r4(client, world):
    patient, profile, _plan, _key = on_plan(client, world, level="T4", sessions_on=(1, 2))
    with at(NOW), client.application.app_context():
        rules.sweep(NOW, [uuid.UUID(profile["id"])])
    response = get(world.coord_a, f"/api/v1/patients/{profile['id']}/fhir")
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    data = response.get_json()
    bundle = Bundle.model_validate(data)
    types = [e.resource.get_resource_type() for e in bundle.entry]
    assert types.count("Patient") == 1 and types.count("CarePlan") == 1 and types.count("Observation") == 2
    assert "Flag" in types
    observation = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Observation")
    assert observation["code"]["coding"][0] == {"system": "http://loinc.org", "code": "55411-3",
                                                "display": "Exercise duration"}
    assert {c["code"]["coding"][0]["code"] for c in observation["component"]} == {"73985-4", "72514-3"}
    assert all(e["resource"]["subject"]["reference"] == f"urn:uuid:{profile['id']}"
               for e in data["entry"] if e["resource"]["resourceType"] != "Patient")
    assert get(patient, f"/api/v1/patients/{profile['id']}/fhir").status_code == 403
    assert get(world.coord_b, f"/api/v1/patients/{profile['id']}/fhir").status_code == 404


def test_patient_exports_own_data_as_json_and_csv(client, world):
    patient, profile, _plan, key = on_plan(client, world, sessions_on=(1,))
    url = "/api/v1/patients/me"
    with at(utc(2027, 3, 2, 9), patient):
        assert patient.put(f"{url}/sessions/{uuid.uuid4()}", json={
            "item_key": key, "started_at": utc(2027, 3, 2, 8).isoformat(), "duration_minutes": 20,
            "note": "=1+1 felt fine"}).status_code == 201
    data = get(patient, f"{url}/export").get_json()
    assert data["patient"]["id"] == profile["id"] and len(data["plans"]) == 1 and len(data["sessions"]) == 2
    response = get(patient, f"{url}/export/sessions.csv")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["id"] for r in rows] == [s["id"] for s in data["sessions"]]
    assert rows[1]["note"] == "'=1+1 felt fine" and unguard(rows[1]["note"]) == data["sessions"][1]["note"]
    assert [int(r["duration_minutes"]) for r in rows] == [30, 20]
    assert get(world.coord_a, f"/api/v1/patients/{profile['id']}/export").status_code == 403
    assert get(world.patient_b, f"/api/v1/patients/{profile['id']}/export").status_code == 404
