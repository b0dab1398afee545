"""PostgreSQL made unreachable through a TCP proxy that the test cuts: writes (and reads) answer
503 problem+json with Retry-After, and the same app recovers once the database is back."""
import os

import pytest
from sqlalchemy.engine import make_url

from app import create_app
from app.config import TestConfig
from app.extensions import db
from tests.factories import PASSWORD
from tests.tcp_proxy import TcpProxy
from tests.test_errors import assert_problem

pytestmark = [pytest.mark.committing,
              pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL")]


@pytest.fixture
def proxied(database_url, app):
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)

    proxied_app = create_app(Config)
    try:
        yield proxied_app, proxy
    finally:
        with proxied_app.app_context():
            db.session.remove()
            db.engine.dispose()
        proxy.stop()


def test_database_outage_is_503_with_retry_after_and_recovers(proxied):
    from app.auth.service import create_user

    outage_app, proxy = proxied
    client = outage_app.test_client()
    email = "outage-ops@clinic.example.org"
    with outage_app.app_context():
        create_user(email=email, password=PASSWORD, role="coordinator", display_name="Ops")
    login = {"email": email, "password": PASSWORD}
    tokens = client.post("/api/v1/auth/login", json=login).get_json()
    assert "access_token" in tokens

    proxy.cut()
    for response in (client.post("/api/v1/auth/login", json=login),
                     client.post("/api/v1/patients", json={"display_name": "x"},
                                 headers={"Authorization": f"Bearer {tokens['access_token']}"}),
                     client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})):
        body = assert_problem(response, 503)
        assert body["type"].endswith("database-unavailable")
        assert int(response.headers["Retry-After"]) == body["retry_after"] > 0
    assert_problem(client.get("/readyz"), 503)

    proxy.restore()  # no restart: the same app, its pool reconnects
    assert client.get("/readyz").status_code == 200
    again = client.post("/api/v1/auth/login", json=login)
    assert again.status_code == 200, again.get_json()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 200
