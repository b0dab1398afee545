"""The app team's way in: a Python client generated from the committed spec with
openapi-python-client (offline; it formats with ruff), driven through the patient's first day
against the app in-process (httpx's WSGI transport: no server, no network)."""
import importlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import time_machine

from app.cli import SPEC_PATH
from app.education.seed import load_education
from app.exercises.seed import load_exercises
from app.plans.seed import load_plan_templates
from tests.factories import PASSWORD, enrolled_patient, staff

PACKAGE = "standstrong_client"
NOON_IN_SHANGHAI = datetime(2027, 3, 3, 4, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Generate the client from api_spec/openapi.json, as the app team does, and import it."""
    tool = Path(sys.executable).with_name("openapi-python-client")
    assert tool.exists(), "openapi-python-client is a dev dependency: pip install -r requirements-dev.txt"
    out = tmp_path_factory.mktemp("client")
    env = dict(os.environ, PATH=f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}")  # its ruff
    started = time.monotonic()
    run = subprocess.run([str(tool), "generate", "--path", str(SPEC_PATH), "--meta", "none",
                          "--output-path", str(out / PACKAGE)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr  # nothing of the spec dropped
    print(f"generated in {time.monotonic() - started:.1f} s")
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        shutil.rmtree(out, ignore_errors=True)


def _api(name):
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def _models():
    return importlib.import_module(f"{PACKAGE}.models")


@time_machine.travel(NOON_IN_SHANGHAI, tick=False)
def test_the_patients_first_day_through_the_generated_client(generated, client, app):
    with app.app_context():
        load_education()
        load_exercises()
        load_plan_templates()
    coordinator = staff(client, "coordinator", "Coordinator")
    _, profile = enrolled_patient(client, coordinator, display_name="Wang Fang", time_zone="Asia/Shanghai",
                                  language="zh-CN", neurological_level="T8", ais_grade="B")
    assert coordinator.post(f"/api/v1/patients/{profile['id']}/plans",
                            json={"template": "standing-for-bone"}).status_code == 201
    models = _models()
    transport = httpx.WSGITransport(app=app)
    anonymous = generated.Client(base_url="http://testserver", httpx_args={"transport": transport})

    # Log in (with the e-mail the patient activated with).
    patient_email = _activated_email(app, profile["id"])
    token = _api("auth.login").sync(client=anonymous, body=models.Login(email=patient_email, password=PASSWORD))
    assert isinstance(token, models.Token), token
    assert token.user.role == models.Role.PATIENT and token.expires_in == 900

    def as_(access):
        return generated.AuthenticatedClient(base_url="http://testserver", token=access,
                                             httpx_args={"transport": transport})

    me_client = as_(token.access_token)
    me = _api("me.get_me").sync(client=me_client)
    assert isinstance(me, models.Me) and me.role == models.Role.PATIENT and str(me.patient.id) == profile["id"]
    assert me.patient.language == models.Language.ZH_CN

    # Modules in zh-CN; the same request with the ETag is 304.
    modules = _api("education.list_modules").sync_detailed(client=me_client, accept_language="zh-CN")
    assert modules.status_code == 200 and modules.headers["Content-Language"] == "zh-CN"
    assert modules.parsed.items and modules.parsed.meta.total >= 1
    again = _api("education.list_modules").sync_detailed(client=me_client, accept_language="zh-CN",
                                                        if_none_match=modules.headers["ETag"])
    assert again.status_code == 304 and again.parsed is None

    # The agenda; log its first item, twice (the retry is unchanged).
    agenda = _api("adherence.get_agenda").sync(client=me_client, patient_id="me")
    assert isinstance(agenda, models.Agenda), agenda
    item = agenda.items[0]
    assert item.schedule in (models.ScheduleKind.WEEKLY, models.ScheduleKind.DAYS_OF_WEEK)
    session_id = uuid.uuid4()
    local = timezone(timedelta(hours=8))
    body = models.SessionInOnPlan(item_key=item.item_key, started_at=datetime(2027, 3, 3, 10, 30, tzinfo=local),
                                  duration_minutes=60, measures=models.Measures.from_dict({"angle_degrees": 75}))
    put_session = _api("sessions.put_session")
    created = put_session.sync_detailed(patient_id="me", session_id=session_id, client=me_client, body=body)
    assert created.status_code == 201, created.content
    assert created.headers["Location"].endswith(f"/sessions/{session_id}")
    assert created.parsed.started_at == datetime(2027, 3, 3, 2, 30, tzinfo=timezone.utc)
    assert b'"started_at": "2027-03-03T02:30:00Z"' in created.content.replace(b'":"', b'": "')
    assert created.parsed.measures.to_dict() == {"angle_degrees": 75}  # an integer stays an integer
    assert created.parsed.logged_by_role == models.LoggedByRole.PATIENT
    retried = put_session.sync_detailed(patient_id="me", session_id=session_id, client=me_client, body=body)
    assert retried.status_code == 200 and retried.parsed.revision == 1
    assert retried.parsed.started_at == created.parsed.started_at

    # An edit on revision 1 (now 2), then a stale one: a 409 whose detail and current are readable.
    edited = models.SessionInOnPlan(item_key=item.item_key, started_at=body.started_at, duration_minutes=45,
                                    base_revision=1)
    assert put_session.sync_detailed(patient_id="me", session_id=session_id, client=me_client,
                                     body=edited).parsed.revision == 2
    stale = models.SessionInOnPlan(item_key=item.item_key, started_at=body.started_at, duration_minutes=30,
                                   base_revision=1)
    conflict = put_session.sync_detailed(patient_id="me", session_id=session_id, client=me_client, body=stale)
    assert conflict.status_code == 409
    assert isinstance(conflict.parsed, models.Conflict), conflict.content
    assert conflict.parsed.type_.endswith("/stale-revision") and conflict.parsed.status == 409
    assert "current" in conflict.parsed.detail and conflict.parsed.current.revision == 2
    assert conflict.parsed.current.duration_minutes == 45

    # Adherence; then refresh with the refresh token (its own scheme), and log out.
    adherence = _api("adherence.get_adherence").sync(client=me_client, patient_id="me")
    assert isinstance(adherence, models.Adherence) and adherence.completed_sessions == 1
    refreshed = _api("auth.refresh").sync(client=as_(token.refresh_token))
    assert isinstance(refreshed, models.Token) and refreshed.access_token != token.access_token
    wrong = _api("auth.refresh").sync(client=as_(refreshed.access_token))
    assert isinstance(wrong, models.Problem) and "refresh token" in wrong.detail
    fresh = as_(refreshed.access_token)
    assert _api("auth.logout").sync_detailed(client=fresh).status_code == 204
    gone = _api("me.get_me").sync(client=fresh)
    assert isinstance(gone, models.Problem) and gone.status == 401 and "revoked" in gone.detail


def _activated_email(app, patient_id):
    from sqlalchemy import select

    from app.auth.models import User
    from app.extensions import db

    with app.app_context():
        return db.session.scalar(select(User.email).where(User.patient_id == uuid.UUID(patient_id)))
