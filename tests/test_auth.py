from datetime import timedelta

import time_machine

from app.common.types import utcnow
from tests.factories import PASSWORD, bearer, login, staff
from tests.test_errors import assert_problem


def test_login_gives_short_access_and_long_refresh(client, world):
    tokens = login(client, world.coord_a.email)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 15 * 60
    assert tokens["user"]["role"] == "coordinator"
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_wrong_password_and_unknown_email_look_the_same(client, world):
    wrong = client.post("/api/v1/auth/login", json={"email": world.coord_a.email, "password": "nope-nope-nope"})
    unknown = client.post("/api/v1/auth/login", json={"email": "ghost@example.org", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["detail"] == unknown.get_json()["detail"]


def test_email_is_case_insensitive(client, world):
    assert login(client, world.coord_a.email.upper())["user"]["id"] == world.coord_a.id


def test_access_token_expires_after_15_minutes(client, world):
    tokens = login(client, world.coord_a.email)
    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=False):
        assert_problem(client.get("/api/v1/me", headers=bearer(tokens["access_token"])), 401)


def test_a_token_is_decoded_once_and_its_expiry_still_checked_on_every_use(client, world, monkeypatch):
    import jwt as pyjwt

    from app.auth import authenticate

    decoded = []
    real = pyjwt.decode
    monkeypatch.setattr(authenticate.pyjwt, "decode", lambda *a, **k: decoded.append(1) or real(*a, **k))
    tokens = login(client, world.coord_a.email)
    for _ in range(3):
        assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert len(decoded) == 1
    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=False):
        expired = assert_problem(client.get("/api/v1/me", headers=bearer(tokens["access_token"])), 401)
    assert "expired" in expired["detail"]
    # An altered copy of a known token is not the known token.
    forged = tokens["access_token"][:-2] + ("AA" if not tokens["access_token"].endswith("AA") else "BB")
    assert "not valid" in assert_problem(client.get("/api/v1/me", headers=bearer(forged)), 401)["detail"]


def test_refresh_rotates_and_reuse_revokes_the_login(client, world):
    first = login(client, world.coord_a.email)
    second = client.post("/api/v1/auth/refresh", headers=bearer(first["refresh_token"]))
    assert second.status_code == 200
    second = second.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 200

    # The spent token comes back (stolen): the whole login dies, new tokens included.
    reuse = client.post("/api/v1/auth/refresh", headers=bearer(first["refresh_token"]))
    assert assert_problem(reuse, 401)["type"].endswith("refresh-token-reused")
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", headers=bearer(second["refresh_token"])).status_code == 401
    # Other logins of the same account are untouched.
    assert client.get("/api/v1/me", headers=world.coord_a.headers).status_code == 200


def test_access_token_cannot_refresh(client, world):
    response = client.post("/api/v1/auth/refresh", headers=world.coord_a.headers)
    assert_problem(response, 401)


def test_refresh_token_cannot_access_data(client, world):
    tokens = login(client, world.coord_a.email)
    assert_problem(client.get("/api/v1/me", headers=bearer(tokens["refresh_token"])), 401)


def test_logout_revokes_access_and_refresh(client, world):
    tokens = login(client, world.coord_a.email)
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_refresh_token_expires_after_30_days(client, world):
    tokens = login(client, world.coord_a.email)
    with time_machine.travel(utcnow() + timedelta(days=31), tick=False):
        assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_account_locks_after_repeated_failures_then_unlocks(client, app, world):
    email = world.coord_a.email
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert client.post("/api/v1/auth/login", json={"email": email, "password": "wrong-wrong-wrong"}).status_code == 401
    locked = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    problem = assert_problem(locked, 423)
    assert 0 < int(locked.headers["Retry-After"]) <= app.config["LOGIN_LOCKOUT_SECONDS"]
    assert abs(problem["retry_after"] - int(locked.headers["Retry-After"])) <= 1
    later = utcnow() + timedelta(seconds=app.config["LOGIN_LOCKOUT_SECONDS"] + 1)
    with time_machine.travel(later, tick=False):
        assert login(client, email)["user"]["id"] == world.coord_a.id


def test_login_is_rate_limited_per_account(client, app, world, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_ACCOUNT", "3 per minute")
    body = {"email": world.coord_b.email, "password": "wrong-wrong-wrong"}
    codes = [client.post("/api/v1/auth/login", json=body).status_code for _ in range(4)]
    assert codes[:3] == [401, 401, 401]
    response = client.post("/api/v1/auth/login", json=body)
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0


def test_login_is_rate_limited_per_address(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_ADDRESS", "2 per minute")
    for i in range(2):
        client.post("/api/v1/auth/login", json={"email": f"x{i}@example.org", "password": "whatever-long"})
    response = client.post("/api/v1/auth/login", json={"email": "y@example.org", "password": "whatever-long"})
    assert_problem(response, 429)


def test_passwords_are_argon2id_hashed(world):
    from sqlalchemy import select

    from app.auth.models import User
    from app.extensions import db

    stored = db.session.scalar(select(User.password_hash).where(User.email == world.coord_a.email))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_admin_creates_staff_with_password_rules(world, client):
    weak = world.admin.post("/api/v1/users", json={"email": "c@example.org", "password": "password123",
                                                   "role": "coordinator", "display_name": "C"})
    assert "password" in assert_problem(weak, 422)["errors"]
    short = world.admin.post("/api/v1/users", json={"email": "c@example.org", "password": "Ab1!",
                                                    "role": "coordinator", "display_name": "C"})
    assert_problem(short, 422)
    ok = world.admin.post("/api/v1/users", json={"email": "c@example.org", "password": PASSWORD,
                                                 "role": "coordinator", "display_name": "C"})
    assert ok.status_code == 201 and ok.get_json()["role"] == "coordinator"
    duplicate = world.admin.post("/api/v1/users", json={"email": "C@example.org", "password": PASSWORD,
                                                        "role": "coordinator", "display_name": "C"})
    assert_problem(duplicate, 409)
    patient_role = world.admin.post("/api/v1/users", json={"email": "p@example.org", "password": PASSWORD,
                                                           "role": "patient", "display_name": "P"})
    assert_problem(patient_role, 422)
    listed = world.admin.get("/api/v1/users?role=coordinator&per_page=2").get_json()
    assert listed["meta"]["total"] == 4 and len(listed["items"]) == 2 and listed["meta"]["next_page"] == 2


def test_only_admin_manages_staff(world):
    for actor in (world.coord_a, world.patient_a, world.caregiver_a):
        assert_problem(actor.get("/api/v1/users"), 403)


def test_deactivated_account_loses_access(client, world):
    from app.auth.models import User
    from app.extensions import db

    actor = staff(client, "coordinator")
    db.session.get(User, __import__("uuid").UUID(actor.id)).is_active = False
    db.session.commit()
    assert client.get("/api/v1/me", headers=actor.headers).status_code == 401
    assert client.post("/api/v1/auth/login", json={"email": actor.email, "password": PASSWORD}).status_code == 401
