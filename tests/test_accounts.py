"""Accounts under attack: lockout under parallel guesses, enumeration, activation as a guessing
channel, invitation codes; and the account features: change, reset, deactivate."""
import json
import re
import statistics
import threading
import time
import uuid
from datetime import timedelta
from functools import partial

import pytest
import time_machine
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth import service as auth_service
from app.auth.models import User
from app.auth.service import create_user
from app.common.types import utcnow
from app.extensions import db
from app.access import care_teams
from app.access import service as access_service
from app.access.models import CaregiverLink, CareTeamMember
from app.patients import service as patients_service
from app.patients.models import Patient
from app.reminders.models import DeviceToken
from tests.factories import (PASSWORD, Actor, World, activate, at_once, bearer, caregiver_for, create_patient,
                             enrolled_patient, login, patient_body, staff)
from tests.test_errors import assert_problem

LOGIN = "/api/v1/auth/login"


def _wrong(client, email, password="wrong-wrong-wrong"):
    return client.post(LOGIN, json={"email": email, "password": password})


def _shape(response):
    body = response.get_json()
    body = {k: v for k, v in body.items() if k not in ("request_id", "instance")}
    return response.status_code, body, response.headers.get("Retry-After")


# --- lockout under parallel guesses ----------------------------------------------------------

@pytest.mark.committing
def test_parallel_wrong_passwords_lock_the_account(app):
    email = f"parallel-{uuid.uuid4().hex[:8]}@clinic.example.org"
    with app.app_context():
        create_user(email=email, password=PASSWORD, role="coordinator", display_name="P")
    attempts = 2 * app.config["LOGIN_MAX_FAILURES"]
    barrier = threading.Barrier(attempts)
    statuses = []

    def guess():
        client = app.test_client()
        barrier.wait(timeout=30)
        statuses.append(_wrong(client, email).status_code)

    threads = [threading.Thread(target=guess) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(statuses) == attempts and set(statuses) <= {401, 423}, statuses
    # Every failure was counted: the account is locked, even for the right password.
    assert_problem(app.test_client().post(LOGIN, json={"email": email, "password": PASSWORD}), 423)
    with app.app_context():
        failed = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.action == "login_failed"))
    # A 401 is a counted failure; a 423 came after the lock, refused before any password check.
    assert failed == statuses.count(401) >= app.config["LOGIN_MAX_FAILURES"]


# --- enumeration -------------------------------------------------------------------------------

def test_unknown_and_known_addresses_answer_the_same_up_to_and_during_the_lockout(client, app, world):
    known, unknown = world.coord_a.email, "nobody-here@clinic.example.org"
    rounds = app.config["LOGIN_MAX_FAILURES"] + 2  # the last two are locked out
    for _ in range(rounds):
        a, b = _wrong(client, known), _wrong(client, unknown)
        assert _shape(a) == _shape(b)
    assert a.status_code == 423  # both locked now, the unknown address too
    assert _shape(client.post(LOGIN, json={"email": known, "password": PASSWORD})) == _shape(
        client.post(LOGIN, json={"email": unknown, "password": PASSWORD}))


def test_login_takes_as_long_for_an_unknown_address_as_for_a_wrong_password(client, app, world, monkeypatch):
    # A real hashing cost, so that a skipped verification would show.
    monkeypatch.setitem(app.config, "ARGON2_TIME_COST", 2)
    monkeypatch.setitem(app.config, "ARGON2_MEMORY_COST", 8192)
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 1000)
    email = f"timed-{uuid.uuid4().hex[:6]}@clinic.example.org"
    with app.app_context():
        create_user(email=email, password=PASSWORD, role="coordinator", display_name="T")
    _wrong(client, "warm-up@example.org")
    known, unknown = [], []
    for i in range(9):  # interleaved, so that load on the machine hits both alike
        for email_, times in ((email, known), (f"ghost{i}@clinic.example.org", unknown)):
            started = time.perf_counter()
            assert _wrong(client, email_).status_code == 401
            times.append(time.perf_counter() - started)
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2, (ratio, known, unknown)


def test_423_body_and_retry_after_header_agree(client, app, world):
    email = world.coord_b.email
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _wrong(client, email)
    lockout = app.config["LOGIN_LOCKOUT_SECONDS"]
    for seconds_left in (lockout - 1, 10):
        with time_machine.travel(utcnow() + timedelta(seconds=lockout - seconds_left), tick=False):
            locked = client.post(LOGIN, json={"email": email, "password": PASSWORD})
            body = assert_problem(locked, 423)
            assert locked.headers.getlist("Retry-After") == [str(body["retry_after"])]
            assert abs(body["retry_after"] - seconds_left) <= 2
    assert "Retry-After" not in _wrong(client, world.coord_a.email).headers  # a 401 has nothing to wait for


# --- activation as a guessing channel ----------------------------------------------------------

def _caregiver_code(world):
    response = world.patient_b.post("/api/v1/patients/me/caregivers/invitations", json={"relationship_note": "son"})
    assert response.status_code == 201
    return response.get_json()["code"]


def _links(caregiver_id):
    return db.session.scalar(select(func.count()).select_from(CaregiverLink)
                             .where(CaregiverLink.caregiver_id == uuid.UUID(caregiver_id)))


def test_activation_with_an_existing_account_counts_towards_its_lockout(client, app, world):
    caregiver = world.caregiver_a
    code = _caregiver_code(world)
    body = {"code": code, "email": caregiver.email, "password": "wrong-wrong-wrong"}
    statuses = [client.post("/api/v1/auth/activate", json=body).status_code
                for _ in range(app.config["LOGIN_MAX_FAILURES"] + 1)]
    # 422 (no name given): what a new address without a name gets too.
    assert statuses == [422] * app.config["LOGIN_MAX_FAILURES"] + [423]
    # Locked now: the right password changes nothing either, and login says locked too.
    right = client.post("/api/v1/auth/activate", json=body | {"password": PASSWORD})
    assert_problem(right, 423)
    assert_problem(client.post(LOGIN, json={"email": caregiver.email, "password": PASSWORD}), 423)
    assert _links(caregiver.id) == 1  # still only patient A
    # The code was never spent: once the lock is over it links the caregiver.
    later = utcnow() + timedelta(seconds=app.config["LOGIN_LOCKOUT_SECONDS"] + 1)
    with time_machine.travel(later, tick=False):
        linked = client.post("/api/v1/auth/activate", json=body | {"password": PASSWORD})
        assert linked.status_code == 201, linked.get_json()
    assert _links(caregiver.id) == 2


def test_activation_with_a_wrong_password_spends_nothing(client, world):
    code = _caregiver_code(world)
    wrong = client.post("/api/v1/auth/activate", json={"code": code, "email": world.caregiver_a.email,
                                                       "password": "wrong-wrong-wrong"})
    assert_problem(wrong, 422)
    fresh = activate(client, code, display_name="Another carer")  # the code still works
    assert fresh.get("/api/v1/me").get_json()["role"] == "caregiver"


def test_a_caregiver_invitation_code_does_not_tell_which_email_addresses_have_an_account(client, world):
    """Anyone with a caregiver code (any patient can make one) used to learn from the answer
    whether an address had an account (409) or not (422), without spending the code. Every
    refusal now reads the same for a caregiver's, a coordinator's and an unknown address."""
    code = _caregiver_code(world)
    addresses = [world.caregiver_a.email, world.coord_a.email, "nobody-here@example.org"]
    probes = [{"password": "wrong-wrong-wrong"},                              # no name
              {"password": "12345678", "display_name": "Probe"},              # a weak password
              {"password": "password123", "display_name": "Probe"}]           # a common one
    for probe in probes:
        shapes = {repr(_shape(client.post("/api/v1/auth/activate", json={"code": code, "email": email} | probe)))
                  for email in addresses}
        assert len(shapes) == 1, shapes
        assert shapes.pop().startswith("(422,")
    # The owner of an account, with its password, still links it; a new address still activates.
    linked = client.post("/api/v1/auth/activate", json={"code": code, "email": world.caregiver_a.email,
                                                        "password": PASSWORD})
    assert linked.status_code == 201, linked.get_json()
    assert _links(world.caregiver_a.id) == 2
    fresh = activate(client, _caregiver_code(world), email="nobody-here@example.org", display_name="New carer")
    assert fresh.get("/api/v1/me").get_json()["role"] == "caregiver"


# --- invitation codes ----------------------------------------------------------------------------

def test_unknown_used_revoked_and_expired_codes_get_one_answer(client, app, world):
    def attempt(code):
        return client.post("/api/v1/auth/activate", json={"code": code, "email": f"{uuid.uuid4().hex[:8]}@example.org",
                                                          "password": PASSWORD, "display_name": "X"})

    used = create_patient(world.coord_a)["invitation"]["code"]
    activate(client, used)
    revoked_patient = create_patient(world.coord_a)
    world.coord_a.post(f"/api/v1/patients/{revoked_patient['patient']['id']}/invitation")
    expiring = create_patient(world.coord_a)["invitation"]["code"]
    answers = [attempt("ABCDEFGHJKLM"), attempt(used), attempt(revoked_patient["invitation"]["code"])]
    with time_machine.travel(utcnow() + timedelta(hours=app.config["INVITATION_TTL_HOURS"], minutes=1), tick=False):
        answers.append(attempt(expiring))
    shapes = {repr(_shape(a)) for a in answers}
    assert len(shapes) == 1, shapes
    assert assert_problem(answers[0], 422)["type"].endswith("invalid-invitation")


def test_codes_accept_the_dashes_and_spaces_people_type(client, world):
    code = create_patient(world.coord_a)["invitation"]["code"]
    typed = " " + "-".join(re.findall("....", code.lower())) + " "
    assert activate(client, typed).get("/api/v1/me").get_json()["role"] == "patient"


# --- change password ----------------------------------------------------------------------------

def test_change_password_revokes_the_other_logins_and_keeps_this_one(client, world):
    actor = world.coord_a
    other = login(client, actor.email)
    new = "a-brand-new-passphrase-77"
    changed = actor.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": new})
    assert changed.status_code == 204, changed.get_json()
    assert actor.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me", headers=bearer(other["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", headers=bearer(other["refresh_token"])).status_code == 401
    assert _wrong(client, actor.email, PASSWORD).status_code == 401
    assert login(client, actor.email, new)["user"]["id"] == actor.id


def test_change_password_needs_the_current_one_and_counts_wrong_ones(client, app, world):
    actor = world.coord_b
    body = {"current_password": "wrong-wrong-wrong", "new_password": "a-brand-new-passphrase-77"}
    wrong = actor.post("/api/v1/auth/password", json=body)
    assert "current_password" in assert_problem(wrong, 422)["errors"]
    weak = actor.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "password1"})
    assert "new_password" in assert_problem(weak, 422)["errors"]
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        actor.post("/api/v1/auth/password", json=body)
    assert_problem(actor.post("/api/v1/auth/password", json=body), 423)
    assert_problem(client.post(LOGIN, json={"email": actor.email, "password": PASSWORD}), 423)


# --- forgotten password ----------------------------------------------------------------------------

RESET = "/api/v1/auth/password-reset"


def _request_reset(client, email, **headers):
    with client.post(RESET, json={"email": email}, headers=headers) as response:
        pass  # the e-mail goes out once the answer is closed (sent)
    return response


def _code(message) -> str:
    return re.search(r"\b([A-Z2-9]{8})\b", message.get_content()).group(1)


def test_reset_answers_the_same_whether_or_not_the_address_exists(client, world, smtp):
    known = _request_reset(client, world.coord_a.email)
    unknown = _request_reset(client, "nobody-at-all@clinic.example.org")
    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json()
    assert len(smtp.to(world.coord_a.email)) == 1 and len(smtp.messages) == 1


def test_reset_by_emailed_code_sets_the_password_and_ends_every_login(client, world, smtp):
    actor = world.coord_a
    _request_reset(client, actor.email)
    message = smtp.to(actor.email)[0]
    assert message["Content-Language"] == "en" and "code" in message["Subject"].lower()
    code = _code(message)
    new = "a-brand-new-passphrase-77"
    confirm = client.post(f"{RESET}/confirm", json={"email": actor.email, "code": code.lower(), "new_password": new})
    assert confirm.status_code == 204, confirm.get_json()
    assert actor.get("/api/v1/me").status_code == 401  # every login ended
    assert login(client, actor.email, new)["user"]["id"] == actor.id
    again = client.post(f"{RESET}/confirm", json={"email": actor.email, "code": code, "new_password": PASSWORD + "x"})
    assert assert_problem(again, 422)["type"].endswith("invalid-reset-code")  # one time only


def test_a_password_reset_ends_the_push_registrations_of_the_account(client, world, smtp):
    """A reset is what someone does who thinks another has their password: the phones that
    registered for the account's pushes (reminder texts about the patient) stop getting them;
    the app registers again after its next login. Another account's devices stay."""
    actor = world.patient_a
    for who in (actor, world.patient_b):
        body = {"token": "fcm-token-" + uuid.uuid4().hex, "platform": "android"}
        assert who.post("/api/v1/me/devices", json=body).status_code == 201
    _request_reset(client, actor.email)
    new = "a-brand-new-passphrase-77"
    confirm = client.post(f"{RESET}/confirm", json={"email": actor.email, "code": _code(smtp.to(actor.email)[0]),
                                                     "new_password": new})
    assert confirm.status_code == 204, confirm.get_json()
    again = Actor(client, actor.email, password=new)
    assert again.get("/api/v1/me/devices").get_json()["meta"]["total"] == 0
    assert world.patient_b.get("/api/v1/me/devices").get_json()["meta"]["total"] == 1


def test_a_password_change_ends_the_push_registrations_of_the_other_logins(client, world):
    """A change ends the account's other logins (whoever had the old password may hold one): the
    phones they registered stop getting the account's pushes, in the change's transaction. The
    phone of the login that changed it keeps its reminders, as does a phone another login first
    registered and this login registered again (the app on it logged in again). Another account's
    devices stay."""
    actor, other = world.patient_a, Actor(client, world.patient_a.email)  # two logins of one account
    mine, theirs, moved, elsewhere = ({"token": "fcm-token-" + uuid.uuid4().hex, "platform": "android"}
                                      for _ in range(4))
    assert actor.post("/api/v1/me/devices", json=mine).status_code == 201
    assert other.post("/api/v1/me/devices", json=theirs).status_code == 201
    assert other.post("/api/v1/me/devices", json=moved).status_code == 201
    assert actor.post("/api/v1/me/devices", json=moved).status_code == 200
    assert world.patient_b.post("/api/v1/me/devices", json=elsewhere).status_code == 201
    changed = actor.post("/api/v1/auth/password", json={"current_password": PASSWORD,
                                                        "new_password": "a-brand-new-passphrase-77"})
    assert changed.status_code == 204, changed.get_json()
    kept = actor.get("/api/v1/me/devices").get_json()
    assert kept["meta"]["total"] == 2
    assert world.patient_b.get("/api/v1/me/devices").get_json()["meta"]["total"] == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "password_changed", AuditEvent.actor_id == uuid.UUID(actor.id))) == 1


def _device(actor) -> dict:
    body = {"token": "fcm-token-" + uuid.uuid4().hex, "platform": "android"}
    assert actor.post("/api/v1/me/devices", json=body).status_code == 201
    return body


def _device_tokens(user_id) -> set:
    return set(db.session.scalars(select(DeviceToken.token).where(DeviceToken.user_id == uuid.UUID(user_id))))


def test_a_logout_ends_the_push_registrations_made_in_that_login(client, world):
    """A phone that logged out (a shared family phone, a handed-back clinic tablet) stops getting
    the patient's reminder texts: what it registered in that login goes with the logout. The
    account's other logins keep theirs."""
    leaving, staying = Actor(client, world.patient_a.email), world.patient_a  # two logins of one account
    theirs, mine = _device(leaving), _device(staying)
    assert leaving.post("/api/v1/auth/logout").status_code == 204
    assert _device_tokens(world.patient_a.id) == {mine["token"]}
    assert staying.get("/api/v1/me/devices").get_json()["meta"]["total"] == 1


def test_a_reused_refresh_token_ends_the_push_registrations_of_its_login(client, world):
    """A refresh token used twice means the login was stolen: it is revoked, and the phones
    registered in it (the thief's, perhaps) stop getting the account's pushes with it."""
    stolen = Actor(client, world.patient_a.email)
    theirs, mine = _device(stolen), _device(world.patient_a)
    spent = stolen.tokens["refresh_token"]
    assert client.post("/api/v1/auth/refresh", headers=bearer(spent)).status_code == 200
    reuse = client.post("/api/v1/auth/refresh", headers=bearer(spent))
    assert assert_problem(reuse, 401)["type"].endswith("refresh-token-reused")
    assert _device_tokens(world.patient_a.id) == {mine["token"]}


def test_a_deactivation_ends_the_push_registrations_of_the_account(client, world):
    """A switched-off account gets no pushes, and a reactivation does not bring back the phones
    its earlier logins registered: the app registers again after its next login."""
    coordinator = staff(client, "coordinator")
    _device(coordinator)
    assert world.admin.patch(f"/api/v1/users/{coordinator.id}", json={"is_active": False}).status_code == 200
    assert _device_tokens(coordinator.id) == set()
    assert world.admin.patch(f"/api/v1/users/{coordinator.id}", json={"is_active": True}).status_code == 200
    assert Actor(client, coordinator.email).get("/api/v1/me/devices").get_json()["meta"]["total"] == 0


@pytest.mark.committing
def test_a_device_registered_while_its_login_logs_out_does_not_survive(app, monkeypatch):
    """The registration's login check passes, then the logout of that login commits before the
    registration writes (forced: the registration waits for it, a second at most). Unlocked,
    the device row is written after the logout deleted its login's devices, and the phone keeps
    getting pushes. It must not survive (PostgreSQL: the registration answers 401; SQLite: the
    registration holds the write lock, so the logout comes after it and deletes it)."""
    from app.reminders import routes as reminder_routes

    world = World(app.test_client()).build()
    leaving = Actor(app.test_client(), world.patient_a.email)
    checked, logged_out = threading.Event(), threading.Event()
    login_id = reminder_routes.current_login_id

    def checked_then_wait():
        checked.set()
        logged_out.wait(timeout=1)
        return login_id()

    monkeypatch.setattr(reminder_routes, "current_login_id", checked_then_wait)
    body = {"token": "fcm-token-" + uuid.uuid4().hex, "platform": "android"}

    def log_out():
        checked.wait(timeout=5)
        try:
            return app.test_client().post("/api/v1/auth/logout", headers=leaving.headers)
        finally:
            logged_out.set()

    registered, out = at_once([lambda: app.test_client().post("/api/v1/me/devices", json=body, headers=leaving.headers),
                               log_out])
    assert out.status_code == 204
    on_postgresql = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    assert registered.status_code == (401 if on_postgresql else 201), registered.get_json()
    with app.app_context():
        assert db.session.scalar(select(DeviceToken.id).where(DeviceToken.token == body["token"])) is None


def test_reset_mail_speaks_chinese_when_asked(client, world, smtp):
    _request_reset(client, world.patient_a.email, **{"Accept-Language": "zh-CN,zh;q=0.9"})
    message = smtp.to(world.patient_a.email)[0]
    assert message["Content-Language"] == "zh-CN" and "验证码" in message.get_content()


def test_reset_code_dies_after_wrong_tries_and_unknown_addresses_look_alike(client, world, smtp):
    actor = world.coord_b
    _request_reset(client, actor.email)
    code = _code(smtp.to(actor.email)[0])
    body = {"email": actor.email, "code": "AAAAAAAA", "new_password": "a-brand-new-passphrase-77"}
    wrong = [client.post(f"{RESET}/confirm", json=body) for _ in range(5)]
    ghost = client.post(f"{RESET}/confirm", json=body | {"email": "nobody-at-all@clinic.example.org"})
    assert {repr(_shape(r)) for r in wrong + [ghost]} == {repr(_shape(ghost))}
    assert_problem(client.post(f"{RESET}/confirm", json=body | {"code": code}), 422)  # dead now
    assert login(client, actor.email)["user"]["id"] == actor.id  # the old password still works


def test_reset_code_expires(client, app, world, smtp):
    _request_reset(client, world.coord_a.email)
    code = _code(smtp.to(world.coord_a.email)[0])
    later = utcnow() + timedelta(minutes=app.config["PASSWORD_RESET_TTL_MINUTES"] + 1)
    with time_machine.travel(later, tick=False):
        response = client.post(f"{RESET}/confirm", json={"email": world.coord_a.email, "code": code,
                                                          "new_password": "a-brand-new-passphrase-77"})
        assert_problem(response, 422)


# --- deactivating staff ----------------------------------------------------------------------------

def test_admin_deactivates_a_staff_account_and_its_tokens_stop_at_once(client, world):
    coordinator = staff(client, "coordinator")
    tokens = coordinator.tokens
    off = world.admin.patch(f"/api/v1/users/{coordinator.id}", json={"is_active": False})
    assert off.status_code == 200 and off.get_json()["is_active"] is False
    assert_problem(coordinator.get("/api/v1/me"), 401)
    assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    assert _shape(client.post(LOGIN, json={"email": coordinator.email, "password": PASSWORD})) == _shape(
        _wrong(client, "nobody-at-all@clinic.example.org"))
    on = world.admin.patch(f"/api/v1/users/{coordinator.id}", json={"is_active": True})
    assert on.get_json()["is_active"] is True
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 401  # stays revoked
    assert Actor(client, coordinator.email).get("/api/v1/me").status_code == 200


def test_deactivation_is_for_admins_and_staff_accounts_only(world):
    assert_problem(world.coord_a.patch(f"/api/v1/users/{world.coord_b.id}", json={"is_active": False}), 403)
    assert_problem(world.admin.patch(f"/api/v1/users/{world.patient_a.id}", json={"is_active": False}), 404)
    assert_problem(world.admin.patch(f"/api/v1/users/{uuid.uuid4()}", json={"is_active": False}), 404)
    assert_problem(world.admin.patch(f"/api/v1/users/{world.admin.id}", json={"is_active": False}), 409)
    assert db.session.scalar(select(User.is_active).where(User.id == uuid.UUID(world.coord_b.id)))


def test_deactivating_the_only_active_coordinator_of_a_patient_is_refused(client, world):
    url = f"/api/v1/users/{world.coord_a.id}"
    team = f"/api/v1/patients/{world.a_id}/care-team"
    _, second = enrolled_patient(client, world.coord_a, display_name="Carol Marker-C")
    refused = assert_problem(world.admin.patch(url, json={"is_active": False, "language": "zh-CN"}), 409)
    assert "only active coordinator of 2 patients" in refused["detail"]
    assert "Marker" not in json.dumps(refused) and world.a_id not in json.dumps(refused)  # a count, no names
    stored = db.session.get(User, uuid.UUID(world.coord_a.id))
    assert stored.is_active and stored.language is None  # nothing of the refused change is stored
    assert world.coord_a.get("/api/v1/me").status_code == 200  # nor are its tokens revoked
    # A deactivated coordinator beside it does not count.
    former = staff(client, "coordinator", "Former coordinator")
    assert world.coord_a.post(team, json={"coordinator_id": former.id}).status_code == 201
    assert world.admin.patch(f"/api/v1/users/{former.id}", json={"is_active": False}).status_code == 200
    refused = assert_problem(world.admin.patch(url, json={"is_active": False}), 409)
    assert "only active coordinator of 2 patients" in refused["detail"]
    # With another active coordinator on both care teams, it may be deactivated.
    for patient_id in (world.a_id, second["id"]):
        added = world.coord_a.post(f"/api/v1/patients/{patient_id}/care-team",
                                   json={"coordinator_id": world.coord_none.id})
        assert added.status_code == 201
    off = world.admin.patch(url, json={"is_active": False})
    assert off.status_code == 200 and off.get_json()["is_active"] is False


def _at_once(app, *requests) -> list:
    """The statuses of the requests (callables of a test client, one each), sent at once."""
    return [response.status_code for response in at_once([partial(request, app.test_client()) for request in requests])]


def _active_coordinators(app, patient_id) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CareTeamMember)
                                 .join(User, User.id == CareTeamMember.coordinator_id)
                                 .where(CareTeamMember.patient_id == uuid.UUID(patient_id), User.is_active.is_(True)))


def _then_meet(func):
    """func, after which two callers at once wait for each other (up to a second: one alone goes on)."""
    meeting = threading.Barrier(2)

    def then_meet(*args):
        found = func(*args)
        try:
            meeting.wait(timeout=1)
        except threading.BrokenBarrierError:
            pass
        return found

    return then_meet


@pytest.fixture
def counts_meet(monkeypatch):
    """Two requests at once meet right after counting a patient's other active coordinators
    (app.access.care_teams): without a lock both would count before either writes. Under the
    lock the second waits for the first's commit, and the first goes on alone after a second."""
    monkeypatch.setattr(care_teams, "_alone", _then_meet(care_teams._alone))


@pytest.mark.committing
def test_two_removals_at_once_cannot_leave_a_patient_without_an_active_coordinator(app, counts_meet):
    world = World(app.test_client()).build()
    team = f"/api/v1/patients/{world.a_id}/care-team"
    assert world.admin.post(team, json={"coordinator_id": world.coord_none.id}).status_code == 201
    headers = world.admin.headers
    statuses = _at_once(app, *(lambda c, who=who: c.delete(f"{team}/{who}", headers=headers)
                               for who in (world.coord_a.id, world.coord_none.id)))
    assert sorted(statuses) == [204, 409], statuses
    assert _active_coordinators(app, world.a_id) == 1


@pytest.mark.committing
def test_a_removal_and_a_deactivation_at_once_cannot_leave_a_patient_without_an_active_coordinator(app, counts_meet):
    world = World(app.test_client()).build()
    team = f"/api/v1/patients/{world.a_id}/care-team"
    assert world.admin.post(team, json={"coordinator_id": world.coord_none.id}).status_code == 201
    headers = world.admin.headers
    statuses = _at_once(app, lambda c: c.delete(f"{team}/{world.coord_a.id}", headers=headers),
                        lambda c: c.patch(f"/api/v1/users/{world.coord_none.id}", json={"is_active": False},
                                          headers=headers))
    assert sorted(statuses) in ([200, 409], [204, 409]), statuses
    assert _active_coordinators(app, world.a_id) == 1


@pytest.fixture
def assignment_meets_deactivation(monkeypatch):
    """A request that gives a coordinator a patient (a new patient of theirs, or a place on a care
    team), right after it checked that the coordinator is active, meets a deactivation of that
    coordinator that has counted its patients (care_teams._alone): unlocked, the deactivation
    commits before the assignment writes. Under the coordinator's row lock one of them waits for
    the other's commit, and the other goes on alone after a second. The argument: the function of
    app.patients.service the assignment meets right before (the first after its check)."""
    meeting = threading.Barrier(2)

    def meet():
        try:
            meeting.wait(timeout=1)
        except threading.BrokenBarrierError:
            pass

    def met_after(function):
        def then_meet(*args, **kwargs):
            found = function(*args, **kwargs)
            meet()
            return found
        return then_meet

    def meet_before(function):
        def met_then(*args, **kwargs):
            meet()
            return function(*args, **kwargs)
        return met_then

    monkeypatch.setattr(care_teams, "_alone", met_after(care_teams._alone))
    return lambda name: monkeypatch.setattr(patients_service, name, meet_before(getattr(patients_service, name)))


@pytest.mark.committing
def test_a_coordinator_deactivated_while_creating_a_patient_leaves_it_no_patient_without_an_active_one(
        app, assignment_meets_deactivation):
    """The coordinator's token was checked at the request's start, perhaps before the
    deactivation: the new patient, whose one coordinator it is, would have no active one."""
    client = app.test_client()
    world = World(client).build()
    coordinator = staff(client, "coordinator")  # no patients yet: it may be deactivated
    assignment_meets_deactivation("_not_after_today")  # create_patient's first step after its check
    statuses = _at_once(app, lambda c: c.post("/api/v1/patients", json=patient_body(), headers=coordinator.headers),
                        lambda c: c.patch(f"/api/v1/users/{coordinator.id}", json={"is_active": False},
                                          headers=world.admin.headers))
    assert sorted(statuses) in ([200, 401], [201, 409]), statuses
    with app.app_context():
        created = db.session.scalars(select(Patient.id).where(Patient.created_by_id == uuid.UUID(coordinator.id))).all()
    assert all(_active_coordinators(app, str(patient_id)) == 1 for patient_id in created), statuses


@pytest.mark.committing
def test_a_coordinator_deactivated_while_joining_a_care_team_is_not_added(app, assignment_meets_deactivation,
                                                                           monkeypatch):
    """add_to_care_team adds only an active coordinator: one deactivated between its check and
    its write would join the team after its deactivation (409 or 422 in the right order)."""
    client = app.test_client()
    world = World(client).build()
    joining = staff(client, "coordinator")
    assignment_meets_deactivation("insert_ignoring_conflict")
    insert, active_at_write = patients_service.insert_ignoring_conflict, []

    def insert_then_look(model, values, *args, **kwargs):
        inserted = insert(model, values, *args, **kwargs)
        if model is CareTeamMember:  # a new statement: it sees what committed meanwhile
            active_at_write.append(db.session.scalar(select(User.is_active).where(User.id == values["coordinator_id"])))
        return inserted

    monkeypatch.setattr(patients_service, "insert_ignoring_conflict", insert_then_look)
    headers = world.admin.headers
    statuses = _at_once(app, lambda c: c.post(f"/api/v1/patients/{world.a_id}/care-team",
                                              json={"coordinator_id": joining.id}, headers=headers),
                        lambda c: c.patch(f"/api/v1/users/{joining.id}", json={"is_active": False}, headers=headers))
    assert sorted(statuses) in ([200, 201], [200, 422]), statuses
    assert active_at_write == ([True] if 201 in statuses else []), statuses


@pytest.mark.committing
def test_two_admins_deactivating_each_other_at_once_leave_one_active(app):
    """Each request's token is checked before the other commits: under the lock of the active
    admins' rows the second finds its own account deactivated meanwhile (401), so one stays."""
    client = app.test_client()
    for attempt in range(5):  # a race: several tries, so that one run shows it
        first, second = staff(client, "admin"), staff(client, "admin")
        statuses = _at_once(app, *(lambda c, me=me, other=other: c.patch(
            f"/api/v1/users/{other.id}", json={"is_active": False}, headers=me.headers)
            for me, other in ((first, second), (second, first))))
        assert sorted(statuses) == [200, 401], (attempt, statuses)
        with app.app_context():
            active = db.session.scalar(select(func.count()).select_from(User).where(
                User.id.in_([uuid.UUID(first.id), uuid.UUID(second.id)]), User.is_active.is_(True)))
        assert active == 1, (attempt, statuses)


def test_admin_sets_a_staff_accounts_language_and_a_refused_change_writes_nothing(world):
    url = f"/api/v1/users/{world.admin.id}"
    assert world.admin.get("/api/v1/users?role=admin").get_json()["items"][0]["language"] == "en"  # unset: English
    assert_problem(world.admin.patch(url, json={}), 422)
    assert_problem(world.admin.patch(url, json={"language": "fr"}), 422)
    # deactivating oneself is refused: the language sent with it is not stored either
    assert_problem(world.admin.patch(url, json={"is_active": False, "language": "zh-CN"}), 409)
    assert db.session.scalar(select(User.language).where(User.id == uuid.UUID(world.admin.id))) is None
    changed = world.admin.patch(url, json={"language": "zh-CN"})
    assert changed.status_code == 200 and changed.get_json()["language"] == "zh-CN"
    created = world.admin.post("/api/v1/users", json={
        "email": "chen@clinic.example.org", "password": "a long passphrase 2026", "role": "coordinator",
        "display_name": "Dr Chen", "language": "zh-CN"})
    assert created.status_code == 201 and created.get_json()["language"] == "zh-CN"


@pytest.mark.committing
@pytest.mark.parametrize("action", ["reactivate", "language", "create"])
def test_an_admin_deactivated_while_changing_an_account_is_refused(app, monkeypatch, action):
    """The admin's token was checked at the request's start, before another admin's deactivation
    of it committed: the change it goes on to make must not commit after that (401), as a
    deactivation's under the lock of the active admins' rows. On SQLite the requests run one
    after the other (the write lock from their start), in either order."""
    client = app.test_client()
    acting, deactivating = staff(client, "admin"), staff(client, "admin")
    target = staff(client, "coordinator")
    if action == "reactivate":
        assert acting.patch(f"/api/v1/users/{target.id}", json={"is_active": False}).status_code == 200
    met, deactivated, seen = threading.Barrier(2), threading.Event(), []

    def hooked(function):
        def run(actor, *args, **kwargs):
            if str(actor.id) == deactivating.id:
                try:
                    return function(actor, *args, **kwargs)
                finally:
                    deactivated.set()
            try:
                met.wait(timeout=1)  # the acting admin's token is checked: let the deactivation commit
            except threading.BrokenBarrierError:
                pass
            seen.append(deactivated.wait(timeout=1))  # (SQLite: it waits for this request's write lock)
            return function(actor, *args, **kwargs)
        return run

    monkeypatch.setattr(access_service, "update_staff_account", hooked(access_service.update_staff_account))
    monkeypatch.setattr(access_service, "create_staff_account", hooked(access_service.create_staff_account))

    def act(c):
        if action == "create":
            return c.post("/api/v1/users", headers=acting.headers, json={
                "email": f"new-{uuid.uuid4().hex[:6]}@clinic.example.org", "password": "a long passphrase 2026",
                "role": "coordinator", "display_name": "Dr New"})
        return c.patch(f"/api/v1/users/{target.id}", headers=acting.headers,
                       json={"is_active": True} if action == "reactivate" else {"language": "zh-CN"})

    def deactivate(c):
        try:
            met.wait(timeout=1)
        except threading.BrokenBarrierError:
            pass
        return c.patch(f"/api/v1/users/{acting.id}", json={"is_active": False}, headers=deactivating.headers)

    acted, refused = _at_once(app, act, deactivate)
    assert refused == 200, (acted, refused)
    assert acted == (401 if seen == [True] else 201 if action == "create" else 200), (acted, seen)
    with app.app_context():
        target_row = db.session.get(User, uuid.UUID(target.id))
        if acted == 401:
            assert (target_row.is_active, target_row.language) == (action != "reactivate", None)
            assert not db.session.scalar(select(func.count()).select_from(User).where(User.display_name == "Dr New"))


@pytest.mark.committing
def test_two_reset_requests_at_once_leave_one_live_code_and_its_tries(app, smtp, monkeypatch):
    """Each request spends the codes before it, then adds its own: at once (PostgreSQL) neither
    saw the other's, two codes stayed live, and once the newer one died of wrong tries the other
    took its place with tries of its own. Here both have made their code when they go on (the
    second waits up to a second for the first)."""
    client = app.test_client()
    actor = staff(client, "coordinator")
    monkeypatch.setattr(auth_service, "_new_reset_code", _then_meet(auth_service._new_reset_code))
    assert _at_once(app, *(lambda c: _request_reset(c, actor.email) for _ in range(2))) == [202, 202]
    codes = [_code(message) for message in smtp.to(actor.email)]
    assert len(codes) == 2, codes
    body = {"email": actor.email, "new_password": "a-brand-new-passphrase-77"}
    for _ in range(5):
        assert client.post(f"{RESET}/confirm", json=body | {"code": "AAAAAAAA"}).status_code == 422
    assert [client.post(f"{RESET}/confirm", json=body | {"code": code}).status_code for code in codes] == [422, 422]
    assert login(client, actor.email)["user"]["id"] == actor.id  # the old password still works


def test_account_search_ignores_case_of_non_ascii_letters(world):
    """GET /users?q= folds case as Python does, on SQLite too (its LIKE folds ASCII only)."""
    created = world.admin.post("/api/v1/users", json={
        "email": "elodie@clinic.example.org", "password": "a long passphrase 2026", "role": "coordinator",
        "display_name": "Élodie Durand"})
    assert created.status_code == 201
    for q in ("élodie", "ÉLODIE", "ELODIE@"):
        listed = world.admin.get("/api/v1/users", query_string={"q": q}).get_json()["items"]
        assert [u["id"] for u in listed] == [created.get_json()["id"]], q


def test_a_staff_account_never_given_a_language_answers_english(world):
    """users.language unset means English (README): GET /users says so, not null; patients and
    caregivers read in a patient's language and have none of their own."""
    rows = {u["id"]: u for u in world.admin.get("/api/v1/users?per_page=100").get_json()["items"]}
    assert rows[world.coord_a.id]["language"] == "en" and rows[world.admin.id]["language"] == "en"
    assert rows[world.patient_a.id]["language"] is None and rows[world.caregiver_a.id]["language"] is None
    assert world.admin.patch(f"/api/v1/users/{world.coord_a.id}", json={"language": "zh-CN"}).get_json()["language"] == "zh-CN"
