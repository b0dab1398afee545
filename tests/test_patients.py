import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import time_machine

from app.common.types import utcnow
from app.patients.signals import caregiver_revoking
from tests.factories import (PASSWORD, World, activate, at_once, caregiver_for, create_patient, enrolled_patient,
                             patient_body, revoke_caregiver, staff)
from tests.test_errors import assert_problem


def test_coordinator_creates_patient_and_gets_one_time_code(world, client):
    created = create_patient(world.coord_a, known_fractures=[{"site": "distal femur", "date": "2026-01-10"}])
    patient = created["patient"]
    assert patient["neurological_level"] == "T4" and patient["known_fractures"][0]["site"] == "distal femur"
    code = created["invitation"]["code"]
    assert len(code) == 12 and created["invitation"]["kind"] == "patient"
    user = activate(client, code, email="new.patient@example.org")
    me = user.get("/api/v1/me").get_json()
    assert me["role"] == "patient" and me["patient"]["id"] == patient["id"]
    # A used code is refused.
    again = client.post("/api/v1/auth/activate", json={"code": code, "email": "other@example.org", "password": PASSWORD})
    assert assert_problem(again, 422)["type"].endswith("invalid-invitation")


def test_expired_and_unknown_codes_are_refused(world, client, app):
    code = create_patient(world.coord_a)["invitation"]["code"]
    later = utcnow() + timedelta(hours=app.config["INVITATION_TTL_HOURS"], minutes=1)
    with time_machine.travel(later, tick=False):
        expired = client.post("/api/v1/auth/activate", json={"code": code, "email": "x@example.org", "password": PASSWORD})
        assert_problem(expired, 422)
    unknown = client.post("/api/v1/auth/activate", json={"code": "ABCDEFGHJKLM", "email": "x@example.org", "password": PASSWORD})
    assert_problem(unknown, 422)


def test_activation_refuses_weak_password_and_keeps_code(world, client):
    code = create_patient(world.coord_a)["invitation"]["code"]
    weak = client.post("/api/v1/auth/activate", json={"code": code, "email": "w@example.org", "password": "12345678"})
    assert_problem(weak, 422)
    activate(client, code)  # nothing half-written: the code still works


def test_reissued_code_replaces_the_old_one(world, client):
    created = create_patient(world.coord_a)
    reissued = world.coord_a.post(f"/api/v1/patients/{created['patient']['id']}/invitation")
    assert reissued.status_code == 201
    old = client.post("/api/v1/auth/activate", json={"code": created["invitation"]["code"],
                                                     "email": "x@example.org", "password": PASSWORD})
    assert_problem(old, 422)
    activate(client, reissued.get_json()["code"])
    assert_problem(world.coord_a.post(f"/api/v1/patients/{created['patient']['id']}/invitation"), 409)


def test_patient_validation(world):
    cases = [
        ({"neurological_level": "X9"}, "neurological_level"),
        ({"ais_grade": "F"}, "ais_grade"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"language": "fr"}, "language"),
        ({"injury_date": "1970-01-01"}, "injury_date"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"known_fractures": [{"site": "tibia"}]}, "known_fractures"),
    ]
    for override, field in cases:
        response = world.coord_a.post("/api/v1/patients", json=patient_body(**override))
        assert field in assert_problem(response, 422)["errors"], override


def test_caseload_is_paginated_and_searchable(world):
    for i in range(3):
        create_patient(world.coord_a, display_name=f"Zhang San {i}")
    page = world.coord_a.get("/api/v1/patients?per_page=2").get_json()
    assert page["meta"]["total"] == 4 and len(page["items"]) == 2
    assert page["meta"]["next_url"] == "/api/v1/patients?per_page=2&page=2"
    second = world.coord_a.get(page["meta"]["next_url"]).get_json()
    assert len(second["items"]) == 2 and second["meta"]["next_page"] is None
    found = world.coord_a.get("/api/v1/patients?q=zhang").get_json()
    assert found["meta"]["total"] == 3
    assert world.coord_a.get("/api/v1/patients?q=%25").get_json()["meta"]["total"] == 0  # % is literal
    assert world.coord_none.get("/api/v1/patients").get_json()["meta"]["total"] == 0
    assert_problem(world.coord_a.get("/api/v1/patients?per_page=1000"), 422)


def test_only_coordinators_create_patients(world):
    for actor in (world.patient_a, world.caregiver_a, world.admin):
        assert_problem(actor.post("/api/v1/patients", json=patient_body()), 403)


def test_care_team_members_share_the_patient(world):
    url = f"/api/v1/patients/{world.a_id}/care-team"
    assert world.coord_b.get(f"/api/v1/patients/{world.a_id}").status_code == 404
    added = world.coord_a.post(url, json={"coordinator_id": world.coord_b.id})
    assert added.status_code == 201 and added.get_json()["meta"]["total"] == 2
    assert {m["coordinator_id"] for m in world.coord_b.get(url).get_json()["items"]} == {world.coord_a.id, world.coord_b.id}
    assert world.coord_b.get(f"/api/v1/patients/{world.a_id}").status_code == 200
    assert world.coord_a.delete(f"{url}/{world.coord_b.id}").status_code == 204
    assert world.coord_b.get(f"/api/v1/patients/{world.a_id}").status_code == 404
    assert_problem(world.coord_a.delete(f"{url}/{world.coord_a.id}"), 409)  # the last one stays
    not_coordinator = world.coord_a.post(url, json={"coordinator_id": world.patient_b.id})
    assert_problem(not_coordinator, 422)


def test_removing_the_last_active_coordinator_is_refused_when_the_rest_are_deactivated(world, client):
    url = f"/api/v1/patients/{world.a_id}/care-team"
    former = staff(client, "coordinator", "Former coordinator")
    assert world.coord_a.post(url, json={"coordinator_id": former.id}).status_code == 201
    assert world.admin.patch(f"/api/v1/users/{former.id}", json={"is_active": False}).status_code == 200
    refused = assert_problem(world.coord_a.delete(f"{url}/{world.coord_a.id}"), 409)
    assert refused["detail"] == "A patient keeps at least one active coordinator; add another first."
    assert world.coord_a.get(url).get_json()["meta"]["total"] == 2  # nobody was removed
    assert world.coord_a.delete(f"{url}/{former.id}").status_code == 204  # a deactivated one may go
    assert world.admin.patch(f"/api/v1/users/{former.id}", json={"is_active": True}).status_code == 200
    assert world.coord_a.post(url, json={"coordinator_id": former.id}).status_code == 201
    assert world.coord_a.delete(f"{url}/{world.coord_a.id}").status_code == 204  # an active one stays


def test_admin_administers_care_team_but_reads_no_clinical_data(world):
    url = f"/api/v1/patients/{world.a_id}/care-team"
    assert world.admin.post(url, json={"coordinator_id": world.coord_none.id}).status_code == 201
    assert_problem(world.admin.get(f"/api/v1/patients/{world.a_id}"), 403)


def test_caregiver_acts_for_one_patient_and_can_be_revoked(world, client):
    me = world.caregiver_a.get("/api/v1/me").get_json()
    assert me["role"] == "caregiver" and me["caring_for"][0]["id"] == world.a_id
    assert world.caregiver_a.get("/api/v1/patients/me").get_json()["id"] == world.a_id
    assert world.caregiver_a.get(f"/api/v1/patients/{world.b_id}").status_code == 404
    listed = world.patient_a.get("/api/v1/patients/me/caregivers").get_json()["items"]
    assert [c["display_name"] for c in listed] == ["Carer"] and listed[0]["relationship_note"] == "son"
    assert world.patient_a.delete(f"/api/v1/patients/me/caregivers/{listed[0]['id']}").status_code == 204
    assert world.caregiver_a.get(f"/api/v1/patients/{world.a_id}").status_code == 404
    assert world.patient_a.get("/api/v1/patients/me/caregivers").get_json()["items"] == []


@pytest.mark.committing
def test_one_revocation_answers_204_once_when_sent_several_times_at_once(app):
    """Four requests at once revoke one caregiver: one 204 and three 404s, and what the
    revocation ends (caregiver_revoking, in its transaction) runs once."""
    client = app.test_client()
    world = World(client).build()
    revoked = []

    def receiver(sender, patient_id, caregiver_id, now):
        revoked.append(caregiver_id)

    caregiver_revoking.connect(receiver)
    try:
        for attempt in range(3):  # a race: several tries, so that one run shows it
            caregiver = caregiver_for(client, world.patient_a, name=f"Carer {attempt}")
            listed = world.patient_a.get("/api/v1/patients/me/caregivers").get_json()["items"]
            [link] = [entry["id"] for entry in listed if entry["caregiver_id"] == caregiver.id]
            url = f"/api/v1/patients/me/caregivers/{link}"
            statuses = at_once([lambda: app.test_client().delete(url, headers=world.patient_a.headers).status_code] * 4)
            assert sorted(statuses) == [204, 404, 404, 404], (attempt, statuses)
            assert revoked.count(uuid.UUID(caregiver.id)) == 1, attempt
    finally:
        caregiver_revoking.disconnect(receiver)


@pytest.mark.committing
def test_two_caregiver_invitations_taken_at_once_with_one_new_address_both_link(app):
    """A new caregiver takes two patients' invitations at once (two taps, two codes) with the same
    new address and password: both 201, as one after the other (the first makes the account, the
    second links it with the password), one account caring for both patients; not a 409 "An
    account with this e-mail address exists" from the second's insert."""
    world = World(app.test_client()).build()
    for attempt in range(3):  # a race: several tries, so that one run shows it
        codes = [actor.post("/api/v1/patients/me/caregivers/invitations", json={"relationship_note": "x"})
                 .get_json()["code"] for actor in (world.patient_a, world.patient_b)]
        email = f"carer-at-once-{attempt}@example.org"
        answers = at_once([
            (lambda code=code: app.test_client().post("/api/v1/auth/activate", json={
                "code": code, "email": email, "password": PASSWORD, "display_name": "Twin Taps"}))
            for code in codes])
        assert [a.status_code for a in answers] == [201, 201], (attempt, [a.get_json() for a in answers])
        mes = [app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {a.get_json()['access_token']}"})
               .get_json() for a in answers]
        assert mes[0]["id"] == mes[1]["id"], attempt  # one account
        assert sorted(p["id"] for p in mes[0]["caring_for"]) == sorted([world.a_id, world.b_id]), attempt


def test_a_revoked_caregiver_cannot_relink_with_a_code_issued_before_the_revocation(world, client):
    """A code the patient made before revoking a caregiver (a spare one, kept) does not undo the
    revocation: 409, the code unused, no access; a code made after it relinks them."""
    invite = "/api/v1/patients/me/caregivers/invitations"
    carer = world.caregiver_a
    spare = world.patient_a.post(invite, json={"relationship_note": "son"}).get_json()["code"]
    revoke_caregiver(world.patient_a, carer)
    body = {"code": spare, "email": carer.email, "password": PASSWORD}
    refused = client.post("/api/v1/auth/activate", json=body)
    assert assert_problem(refused, 409)["detail"].startswith("This code was made before"), refused.get_json()
    assert world.caregiver_a.get(f"/api/v1/patients/{world.a_id}").status_code == 404
    other = activate(client, spare, display_name="Someone else")  # the code itself is still good
    assert other.get(f"/api/v1/patients/{world.a_id}").status_code == 200
    fresh = world.patient_a.post(invite, json={"relationship_note": "son"}).get_json()["code"]
    assert client.post("/api/v1/auth/activate", json={**body, "code": fresh}).status_code == 201
    assert world.caregiver_a.get(f"/api/v1/patients/{world.a_id}").status_code == 200


def test_caregiver_of_two_patients_must_name_one(world, client):
    second_patient, profile = enrolled_patient(client, world.coord_a)
    code = second_patient.post("/api/v1/patients/me/caregivers/invitations", json={}).get_json()["code"]
    wrong = client.post("/api/v1/auth/activate", json={"code": code, "email": world.caregiver_a.email,
                                                       "password": "not-the-password-1"})
    assert_problem(wrong, 422)  # no name: what an address without an account gets too
    linked = client.post("/api/v1/auth/activate", json={"code": code, "email": world.caregiver_a.email,
                                                        "password": PASSWORD})
    assert linked.status_code == 201 and linked.get_json()["user"]["id"] == world.caregiver_a.id
    assert len(world.caregiver_a.get("/api/v1/me").get_json()["caring_for"]) == 2
    assert_problem(world.caregiver_a.get("/api/v1/patients/me"), 400)
    assert world.caregiver_a.get(f"/api/v1/patients/{profile['id']}").status_code == 200
    assert world.caregiver_a.get("/api/v1/patients").get_json()["meta"]["total"] == 2


def test_patient_email_cannot_take_a_caregiver_code(world, client):
    code = world.patient_a.post("/api/v1/patients/me/caregivers/invitations", json={}).get_json()["code"]
    response = client.post("/api/v1/auth/activate", json={"code": code, "email": world.coord_a.email,
                                                          "password": PASSWORD, "display_name": "X"})
    assert_problem(response, 409)


def test_caregiver_cannot_invite_or_manage(world):
    assert_problem(world.caregiver_a.post("/api/v1/patients/me/caregivers/invitations", json={}), 403)
    assert_problem(world.caregiver_a.patch("/api/v1/patients/me", if_match_of="/api/v1/patients/me", json={"ais_grade": "B"}), 403)


def test_patient_edits_only_own_preferences(world):
    ok = world.patient_a.patch("/api/v1/patients/me", if_match_of="/api/v1/patients/me", json={"language": "en", "time_zone": "America/New_York"})
    assert ok.status_code == 200 and ok.get_json()["language"] == "en"
    assert_problem(world.patient_a.patch("/api/v1/patients/me", if_match_of="/api/v1/patients/me", json={"neurological_level": "C4"}), 403)
    coord = world.coord_a.patch(f"/api/v1/patients/{world.a_id}", if_match_of=f"/api/v1/patients/{world.a_id}", json={"neurological_level": "C4"})
    assert coord.get_json()["neurological_level"] == "C4"
    bad = world.coord_a.patch(f"/api/v1/patients/{world.a_id}", if_match_of=f"/api/v1/patients/{world.a_id}", json={"injury_date": "1950-01-01"})
    assert_problem(bad, 422)


def test_caregiver_activation_needs_a_name(world, client):
    code = world.patient_a.post("/api/v1/patients/me/caregivers/invitations", json={}).get_json()["code"]
    response = client.post("/api/v1/auth/activate", json={"code": code, "email": "c@example.org", "password": PASSWORD})
    assert "display_name" in assert_problem(response, 422)["errors"]


def test_me_for_staff_has_no_patient(world):
    me = world.coord_a.get("/api/v1/me").get_json()
    assert me["patient"] is None and me["caring_for"] == []
    assert_problem(world.coord_a.get("/api/v1/patients/me"), 404)


def test_dates_are_not_after_the_patients_own_today(world):
    """Birth, injury, fracture and clot dates are judged by the patient's local date, not the
    server's: at 23:30 UTC it is already tomorrow in Shanghai and still today in Los Angeles."""
    with time_machine.travel(datetime(2027, 6, 1, 23, 30, tzinfo=timezone.utc), tick=False):
        coordinator = world.coord_a.relogin()
        this_morning = {"injury_date": "2027-06-02", "known_fractures": [{"site": "distal femur", "date": "2027-06-02"}],
                        "known_clots": [{"site": "left calf", "date": "2027-06-02"}]}
        shanghai = create_patient(coordinator, time_zone="Asia/Shanghai", **this_morning)["patient"]
        assert shanghai["injury_date"] == "2027-06-02"

        tomorrow = coordinator.post("/api/v1/patients", json=patient_body(time_zone="America/Los_Angeles", **this_morning))
        message = ["Must be 2027-06-01 (the patient's today) or earlier."]
        assert assert_problem(tomorrow, 422)["errors"] == {
            "injury_date": message, "known_fractures": {"0": {"date": message}}, "known_clots": {"0": {"date": message}}}

        # A change is judged in the zone it sets, else in the patient's stored one.
        url = f"/api/v1/patients/{shanghai['id']}"
        moved = coordinator.patch(url, if_match_of=url, json={"time_zone": "America/Los_Angeles",
                                                               "known_fractures": [{"site": "tibia", "date": "2027-06-02"}]})
        assert assert_problem(moved, 422)["errors"] == {"known_fractures": {"0": {"date": message}}}
        later = coordinator.patch(url, if_match_of=url, json={"date_of_birth": "2027-06-03"})
        assert assert_problem(later, 422)["errors"]["date_of_birth"] == ["Must be 2027-06-02 (the patient's today) or earlier."]
        fracture_today = coordinator.patch(url, if_match_of=url, json={"known_fractures": [{"site": "tibia", "date": "2027-06-02"}]})
        assert fracture_today.status_code == 200, fracture_today.get_json()


def test_fractures_and_clots_before_birth_are_refused_and_a_later_birth_date_too(world):
    url = f"/api/v1/patients/{world.a_id}"
    birth = date.fromisoformat(world.coord_a.get(url).get_json()["date_of_birth"])
    early = (birth - timedelta(days=1)).isoformat()
    body = patient_body(known_clots=[{"site": "left calf", "date": early}])
    assert assert_problem(world.coord_a.post("/api/v1/patients", json=body), 422)["errors"] == {
        "known_clots": {"0": {"date": [f"Must be {birth.isoformat()} (the date of birth) or later."]}}}
    fracture = (birth + timedelta(days=400)).isoformat()
    assert world.coord_a.patch(url, if_match_of=url, json={
        "known_fractures": [{"site": "distal femur", "date": fracture}]}).status_code == 200
    later = world.coord_a.patch(url, if_match_of=url, json={"date_of_birth": (birth + timedelta(days=401)).isoformat()})
    assert list(assert_problem(later, 422)["errors"]) == ["date_of_birth"]
    # Sent together, the dates are judged together.
    both = world.coord_a.patch(url, if_match_of=url, json={
        "date_of_birth": (birth + timedelta(days=401)).isoformat(), "known_fractures": []})
    assert both.status_code == 200, both.get_json()


@pytest.mark.parametrize("field", ["known_fractures", "known_clots"])
@pytest.mark.parametrize("entry,missing", [({"site": "left femur"}, "date"), ({"date": "2026-01-10"}, "site")])
def test_a_fracture_or_clot_in_a_profile_change_is_whole_or_refused(world, field, entry, missing):
    """A change leaves out the fields it does not change; a record in its lists is still whole:
    one without its site or date is refused naming it, as on creation (not a 500, not stored)."""
    url = f"/api/v1/patients/{world.a_id}"
    response = world.coord_a.patch(url, json={field: [entry]}, if_match_of=url)
    assert assert_problem(response, 422)["errors"] == {field: {"0": {missing: ["Missing data for required field."]}}}
    assert world.coord_a.get(url).get_json()[field] == []


def test_patient_search_ignores_case_of_non_ascii_letters_like_the_caseload(world):
    """A coordinator searching "élodie" (or "ÉLODIE") finds "Élodie Durand" in GET /patients, as
    GET /caseload?q= does (Python's lower()); SQLite's LIKE/lower() fold ASCII letters only."""
    created = create_patient(world.coord_a, display_name="Élodie Durand", language="en", time_zone="Europe/Paris")
    pid = created["patient"]["id"]
    caseload = world.coord_a.get("/api/v1/caseload", query_string={"q": "élodie"}).get_json()["items"]
    assert [row["patient"]["id"] for row in caseload] == [pid]
    for q in ("élodie", "ÉLODIE", "LODIE DUR"):
        listed = world.coord_a.get("/api/v1/patients", query_string={"q": q}).get_json()["items"]
        assert [p["id"] for p in listed] == [pid], q
