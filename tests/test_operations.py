"""Running it: refusals to start, the CLI, a reverse proxy, offline docs, response headers."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import create_app
from app.auth.models import User
from app.config import TestConfig
from app.extensions import db
from tests.factories import PASSWORD
from tests.test_errors import assert_problem

ROOT = Path(__file__).resolve().parent.parent
STRONG = {"SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 40}


def _run(args, env, tmp_path):
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "FLASK_APP": "wsgi.py"}
    return subprocess.run(args, cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=60)


def _refusal(result, *words):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.no_database
@pytest.mark.parametrize("env,words", [
    ({"STANDSTRONG_ENV": "prod"}, ["STANDSTRONG_ENV", "'prod'", "production"]),
    ({"STANDSTRONG_ENV": "production", **STRONG}, ["DATABASE_URL"]),
    ({"TRUSTED_PROXIES": "two"}, ["TRUSTED_PROXIES"]),
])
def test_wrong_configuration_refuses_to_start_in_one_line(env, words, tmp_path):
    _refusal(_run([sys.executable, "-c", "import wsgi"], env, tmp_path), "refusing to start", *words)


@pytest.mark.no_database
def test_flask_demo_refuses_in_production(tmp_path):
    database = tmp_path / "prod.sqlite3"
    env = {"STANDSTRONG_ENV": "production", "DATABASE_URL": f"sqlite:///{database}", **STRONG}
    result = _run([str(Path(sys.executable).parent / "flask"), "demo"], env, tmp_path)
    _refusal(result, "refuses to run in production")
    assert "demo.standstrong.local" not in result.stdout + result.stderr


def test_users_create_asks_for_the_password_hidden_and_twice(app, app_ctx):
    runner = app.test_cli_runner()
    args = ["users", "create", "--email", "ops-prompt@example.org", "--role", "admin"]
    result = runner.invoke(args=args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output  # hidden
    assert db.session.scalar(select(User.role).where(User.email == "ops-prompt@example.org")) == "admin"

    mismatch = runner.invoke(args=["users", "create", "--email", "ops-x@example.org", "--role", "admin"],
                             input=f"{PASSWORD}\nsomething-else-entirely\n")
    assert mismatch.exit_code != 0 and "do not match" in mismatch.output.lower()

    on_line = runner.invoke(args=args + ["--password", PASSWORD])
    assert on_line.exit_code != 0 and "No such option" in on_line.output


def test_users_create_reads_the_password_from_stdin_or_the_environment(app, app_ctx, monkeypatch):
    runner = app.test_cli_runner()
    piped = runner.invoke(args=["users", "create", "--email", "ops-stdin@example.org", "--role", "coordinator",
                                "--password-stdin"], input=f"{PASSWORD}\n")
    assert piped.exit_code == 0, piped.output
    monkeypatch.setenv("STANDSTRONG_USER_PASSWORD", PASSWORD)
    from_env = runner.invoke(args=["users", "create", "--email", "ops-env@example.org", "--role", "admin"])
    assert from_env.exit_code == 0, from_env.output
    weak = runner.invoke(args=["users", "create", "--email", "ops-weak@example.org", "--role", "admin",
                               "--password-stdin"], input="short\n")
    assert weak.exit_code != 0 and "characters" in weak.output
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email.like("ops-%"))) == 2


def _app(database_url, **settings):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    for key, value in settings.items():
        setattr(Config, key, value)
    return create_app(Config)


def _login_from(client, address):
    return client.post("/api/v1/auth/login", json={"email": "nobody@example.org", "password": "whatever-long"},
                       headers={"X-Forwarded-For": address})


def test_rate_limits_key_on_the_client_behind_trusted_proxies(database_url):
    behind = _app(database_url, TRUSTED_PROXIES=1, LOGIN_RATE_LIMIT_ADDRESS="2 per minute").test_client()
    assert [_login_from(behind, "203.0.113.7").status_code for _ in range(2)] == [401, 401]
    assert_problem(_login_from(behind, "203.0.113.7"), 429)
    assert _login_from(behind, "198.51.100.9").status_code == 401  # another client, its own budget

    direct = _app(database_url, LOGIN_RATE_LIMIT_ADDRESS="2 per minute").test_client()
    assert [_login_from(direct, f"203.0.113.{i}").status_code for i in (20, 21)] == [401, 401]
    assert_problem(_login_from(direct, "198.51.100.22"), 429)  # a forged header changes nothing


def test_docs_work_offline_from_packaged_assets(client):
    import re

    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/") for a in assets), assets  # nothing from another host
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.data) > 1000, asset
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert "http" not in "".join(assets)


def test_security_headers_on_every_answer(client, world):
    answers = [client.get("/healthz"), client.get("/api/v1/nothing"), client.delete("/healthz"),
               client.post("/api/v1/auth/login", json={}), world.patient_a.get("/api/v1/me"),
               world.coord_a.get(f"/api/v1/patients/{world.a_id}"), world.patient_a.get("/api/v1/patients/me/sessions"),
               client.get("/docs"), client.get("/openapi.json")]
    for response in answers:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Strict-Transport-Security" not in response.headers  # not in development
    for response in answers[4:7]:
        assert response.headers["Cache-Control"] == "no-store"
    catalogue = client.get("/api/v1/education/modules")
    assert "no-cache" in catalogue.headers["Cache-Control"]  # cacheable with revalidation, as before


def test_hsts_in_production(database_url):
    production = _app(database_url, ENV_NAME="production", DATABASE_URL_GIVEN=True, **STRONG).test_client()
    for response in (production.get("/healthz"), production.get("/api/v1/me")):
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
