"""The things around the API: migrations, the contract, health, logs, config, CLI."""
import io
import json
import logging

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from app.auth.models import User
from app.plans.models import Plan
from app.cli import DEMO_PASSWORD, SPEC_PATH, create_demo_accounts, spec_json
from app.common.types import render_item
from app.config import check_production_secrets
from app.extensions import db
from tests.factories import login
from tests.test_errors import assert_problem


def test_models_match_migrations():
    context = MigrationContext.configure(db.session.connection(),
                                         opts={"compare_type": True, "render_item": render_item})
    assert compare_metadata(context, db.metadata) == []


def test_committed_spec_is_current():
    assert SPEC_PATH.exists(), "run `flask spec`"
    assert SPEC_PATH.read_text(encoding="utf-8") == spec_json(), "api_spec/openapi.json is stale: run `make spec`"


def test_spec_is_openapi_31_and_served(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    assert "/api/v1/patients/{patient_id}" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"swagger" in docs.data.lower()


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_readyz_is_503_problem_when_database_fails(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", broken)
    assert_problem(client.get("/readyz"), 503)


def test_production_refuses_development_secrets():
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        check_production_secrets({"ENV_NAME": "production", "SECRET_KEY": "dev-secret-change-me",
                                  "JWT_SECRET_KEY": "x" * 40})
    check_production_secrets({"ENV_NAME": "production", "SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 40})
    check_production_secrets({"ENV_NAME": "development", "SECRET_KEY": "dev-secret-change-me"})


def test_logs_are_json_with_request_id_and_no_secrets(client, world):
    logger = logging.getLogger("standstrong")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.handlers[0].formatter)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        tokens = login(client, world.coord_a.email)
        client.get("/api/v1/patients?q=secret-search", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        code = world.patient_a.post("/api/v1/patients/me/caregivers/invitations", json={}).get_json()["code"]
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)
    out = stream.getvalue()
    access = [json.loads(line) for line in out.splitlines()]
    assert [line["route"] for line in access] == [
        "/api/v1/auth/login", "/api/v1/patients", "/api/v1/patients/<patient_id>/caregivers/invitations"]
    assert all(line["request_id"] and line["logger"] == "standstrong.access" for line in access)
    assert access[0]["actor_role"] is None and access[2]["actor_role"] == "patient"
    for secret in (world.coord_a.password, tokens["access_token"], tokens["refresh_token"], code, "secret-search"):
        assert secret not in out


def test_demo_accounts_are_idempotent_and_log_in(client, world, app_ctx):
    first = create_demo_accounts()
    plans = db.session.scalar(select(func.count()).select_from(Plan))
    count = db.session.scalar(select(func.count()).select_from(User))
    assert create_demo_accounts() == first
    assert db.session.scalar(select(func.count()).select_from(User)) == count
    assert db.session.scalar(select(func.count()).select_from(Plan)) == plans
    for line in first[1:]:
        email = line.split()[1]
        assert login(client, email, DEMO_PASSWORD)["user"]["email"] == email
    li = login(client, "patient.li@demo.standstrong.local", DEMO_PASSWORD)
    agenda = client.get("/api/v1/patients/me/agenda", headers={"Authorization": f"Bearer {li['access_token']}"})
    assert agenda.get_json()["items"], "the demo patient has something to do today"
    # weeks of sessions and the sweep's flags, so the console has something to show
    coordinator = login(client, "coordinator@demo.standstrong.local", DEMO_PASSWORD)
    rows = client.get("/api/v1/caseload", headers={"Authorization": f"Bearer {coordinator['access_token']}"})
    by_name = {r["patient"]["display_name"]: r for r in rows.get_json()["items"]}
    assert "lapse" in by_name["Li Wei"]["open_flag_rules"]
    # Sam did all that was planned: 5 a week for the 27 days of history, so 19 or 20 by the weekday
    sam = by_name["Sam Jones"]
    assert sam["adherence_30"]["completed"] == sam["adherence_30"]["expected"] >= 19 and not sam["open_flag_rules"]


def test_cli_commands(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["spec", "--check"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0 and "seed: done" in result.output
    result = runner.invoke(args=["users", "create", "--email", "ops@example.org", "--role", "admin",
                                 "--password-stdin"], input="short\n")
    assert result.exit_code != 0 and "characters" in result.output
