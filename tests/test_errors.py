"""Every failure is RFC 9457 problem+json, and no input produces a 500."""
import pytest

PROBLEM = "application/problem+json"


def assert_problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"].startswith("https://")
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_unknown_route_is_404_problem(client):
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_wrong_method_is_405_with_allow(client):
    body = assert_problem(client.delete("/healthz"), 405)
    assert body["status"] == 405


def test_missing_token_is_401(client):
    response = client.get("/api/v1/me")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
def test_bad_token_is_401(client, token):
    assert_problem(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)


def test_invalid_json_is_400(client):
    response = client.post("/api/v1/auth/login", data="{not json", content_type="application/json")
    assert_problem(response, 400)


def test_non_json_body_is_415(client):
    response = client.post("/api/v1/auth/login", data="email=a", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415)


def test_oversized_body_is_413(client, app):
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = client.post("/api/v1/auth/login", data=big, content_type="application/json")
    assert_problem(response, 413)


def test_unknown_field_is_rejected_by_name(world):
    body = {"display_name": "X", "role": "admin"}
    response = world.coord_a.patch(f"/api/v1/patients/{world.a_id}", if_match_of=f"/api/v1/patients/{world.a_id}", json=body)
    problem = assert_problem(response, 422)
    assert "role" in problem["errors"]


def test_validation_errors_are_by_field(world):
    response = world.coord_a.post("/api/v1/patients", json={"display_name": "", "ais_grade": "Z"})
    problem = assert_problem(response, 422)
    assert {"display_name", "ais_grade", "time_zone", "date_of_birth"} <= set(problem["errors"])


@pytest.mark.parametrize("body", [[], "text", 5, None, {"email": 5, "password": []}])
def test_wrong_shapes_never_500(client, body):
    response = client.post("/api/v1/auth/login", json=body)
    assert 400 <= response.status_code < 500
    assert response.mimetype == PROBLEM


def test_request_id_is_echoed_when_sane(client):
    response = client.get("/healthz", headers={"X-Request-ID": "app-req-12345678"})
    assert response.headers["X-Request-ID"] == "app-req-12345678"
    response = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert response.headers["X-Request-ID"] != "bad id with spaces"


@pytest.mark.unobserved
def test_a_unique_key_race_is_a_409_not_a_500(world, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from app.patients import service

    def racing(actor):
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    monkeypatch.setattr(service, "me", racing)
    assert_problem(world.coord_a.get("/api/v1/me"), 409)


def test_a_body_on_a_read_is_ignored_not_refused(client, world):
    """A GET's body has no meaning (RFC 9110 9.3.1); a malformed JSON one answered 400, which no
    read declares."""
    for body in ("{not json", "[" * 40 + "]" * 40, b"\xff\xfe"):
        for url in ("/api/v1/me", "/api/v1/exercises", f"/api/v1/patients/{world.a_id}", "/healthz"):
            response = client.get(url, data=body, content_type="application/json", headers=world.coord_a.headers)
            assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
    # A write's body is still parsed first.
    assert_problem(client.post("/api/v1/auth/login", data="{not json", content_type="application/json"), 400)
