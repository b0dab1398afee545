"""What the contract promises about values and texts: one form for every moment (UTC, Z),
measures as sent, Location on 201, typed batch items, and error texts that say what is wrong
where."""
import uuid
from datetime import datetime, timedelta, timezone

from tests.factories import session_body

SESSIONS = "/api/v1/patients/me/sessions"
SHANGHAI = timezone(timedelta(hours=8))


def _problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def test_a_session_logged_at_plus_eight_answers_in_utc_everywhere(world):
    sid = str(uuid.uuid4())
    started = (datetime.now(timezone.utc) - timedelta(minutes=20)).replace(microsecond=0)
    body = session_body(world, started_at=started.astimezone(SHANGHAI).isoformat())
    assert body["started_at"].endswith("+08:00")
    expected = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    created = world.patient_a.put(f"{SESSIONS}/{sid}", json=body)
    retried = world.patient_a.put(f"{SESSIONS}/{sid}", json=body)
    assert (created.status_code, retried.status_code) == (201, 200)
    listed = [s for s in world.patient_a.get(SESSIONS).get_json()["items"] if s["id"] == sid]
    fed = [s for s in world.patient_a.get(f"{SESSIONS}/changes").get_json()["items"] if s["id"] == sid]
    seen = [created.get_json(), retried.get_json(), world.patient_a.get(f"{SESSIONS}/{sid}").get_json(),
            *listed, *fed]
    assert len(seen) == 5
    assert {s["started_at"] for s in seen} == {expected}
    assert all(s["created_at"].endswith("Z") and s["updated_at"].endswith("Z") for s in seen)


def test_measures_come_back_with_the_number_type_they_were_sent_with(world):
    body = session_body(world, measures={})
    item_key = body["item_key"]
    agenda = world.patient_a.get("/api/v1/patients/me/agenda").get_json()
    item = next(i for i in agenda["items"] if i["item_key"] == item_key)
    keys = [m["key"] for m in item["exercise"]["measures"]]
    assert keys, "the first item of the combined programme has measures"
    ok = world.patient_a.put(f"{SESSIONS}/{uuid.uuid4()}", json=dict(body, measures={keys[0]: 5}))
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["measures"] == {keys[0]: 5} and isinstance(ok.get_json()["measures"][keys[0]], int)
    as_float = world.patient_a.put(f"{SESSIONS}/{uuid.uuid4()}", json=dict(body, measures={keys[0]: 5.5}))
    assert as_float.get_json()["measures"] == {keys[0]: 5.5}
    for bad in ("5", True, None):
        refused = _problem(world.patient_a.put(f"{SESSIONS}/{uuid.uuid4()}", json=dict(body, measures={keys[0]: bad})),
                           422)
        assert "measures" in refused["errors"] and "measures" in refused["detail"]


def test_created_resources_answer_with_location(world):
    sid = str(uuid.uuid4())
    created = world.patient_a.put(f"{SESSIONS}/{sid}", json=session_body(world))
    assert created.headers["Location"] == f"{SESSIONS}/{sid}"
    base = f"/api/v1/patients/{world.a_id}"
    result = world.coord_a.post(f"{base}/dxa/results", json={
        "scan_date": (datetime.now(timezone.utc).date() - timedelta(days=3)).isoformat(), "site": "proximal_tibia",
        "side": "right", "bmd": 0.55})
    assert result.status_code == 201, result.get_json()
    assert result.headers["Location"] == f"{base}/dxa/results/{result.get_json()['id']}"
    assert world.coord_a.get(result.headers["Location"]).status_code == 200
    assert world.patient_a.post("/api/v1/patients/me/caregivers/invitations",
                                json={"relationship_note": "x"}).headers.get("Location") is None  # a code, shown once


def test_a_batch_item_problem_is_a_problem(world):
    good = dict(session_body(world), id=str(uuid.uuid4()))
    bad = {"id": str(uuid.uuid4()), "exercise": "no-such-exercise", "started_at": good["started_at"],
           "duration_minutes": 5}
    answer = world.patient_a.post(f"{SESSIONS}/batch", json={"sessions": [good, bad]}).get_json()
    ok, failed = answer["results"]
    assert ok["status"] == "created" and ok["problem"] is None
    assert failed["status"] == "error" and failed["session"] is None
    problem = failed["problem"]
    assert problem["type"].startswith("https://") and problem["status"] == 422 and problem["title"]
    assert "exercise" in problem["detail"] and problem["errors"] == {"exercise": ["No exercise with this id or slug."]}


def test_agenda_items_carry_the_weekly_fields_whatever_their_schedule(world):
    items = world.patient_a.get("/api/v1/patients/me/agenda").get_json()["items"]
    assert items
    for item in items:
        assert {"sessions_per_week", "done_this_week", "remaining_this_week"} <= set(item)
        if item["schedule"] == "days_of_week":
            assert item["sessions_per_week"] is None


def test_a_path_parameter_that_is_not_a_uuid_is_named(world):
    problem = _problem(world.patient_a.get(f"{SESSIONS}/not-a-uuid"), 404)
    assert problem["detail"].startswith("session_id in the path must be a UUID")
    assert problem["errors"] == {"session_id": ["Not a UUID."]}
    assert "spelling" not in problem["detail"]
    two = _problem(world.coord_a.delete(f"/api/v1/patients/{world.a_id}/medications/x/doses/y"), 404)
    assert set(two["errors"]) == {"treatment_id", "dose_id"}
    assert _problem(world.patient_a.get("/api/v1/no-such-route"), 404).get("errors") is None


def test_tokens_sent_the_wrong_way_are_told_the_right_way(client, world):
    tokens = world.patient_a.tokens
    in_body = _problem(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    assert "Authorization header" in in_body["detail"] and "not in the body" in in_body["detail"]
    access = _problem(client.post("/api/v1/auth/refresh",
                                  headers={"Authorization": f"Bearer {tokens['access_token']}"}), 401)
    assert "access token" in access["detail"] and "refresh token" in access["detail"]
    refresh = _problem(client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}), 401)
    assert "This is a refresh token" in refresh["detail"]


def test_bodies_that_are_not_what_the_operation_takes_say_so(client):
    broken = _problem(client.post("/api/v1/auth/login", data='{"email": ', content_type="application/json"), 400)
    assert broken["detail"].startswith("The request body is not valid JSON: ") and "line 1 column" in broken["detail"]
    a_list = _problem(client.post("/api/v1/auth/login", json=["x"]), 422)
    assert a_list["detail"].startswith("The JSON body must be an object")
    missing = _problem(client.post("/api/v1/auth/login", json={"email": "a@example.org"}), 422)
    assert missing["detail"] == "The JSON body is not valid: password: Missing data for required field."
    query = _problem(client.get("/api/v1/education/modules?per_page=1000"), 422)
    assert query["detail"].startswith("The query string is not valid: per_page: ")


def test_a_bad_cursor_names_since(world):
    problem = _problem(world.patient_a.get(f"{SESSIONS}/changes?since=garbage"), 422)
    assert problem["errors"]["since"] and "cursor" in problem["detail"].lower()
