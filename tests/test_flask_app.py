"""app/common/flask_app.py: Flask's cookie sessions and hooks behave as before, for less work."""
import pytest
from flask import after_this_request, session

from app import create_app
from app.config import TestConfig


def _app(database_url):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(Config)

    @app.get("/console/test-session/<value>")  # the session cookie's path (app/console)
    def remember(value):
        before = session.get("value")
        session["value"] = value
        return {"before": before}

    @app.get("/test-after-this-request")
    def later():
        @after_this_request
        def mark(response):
            response.headers["X-Marked"] = "yes"
            return response

        return {}

    return app


def test_a_cookie_session_still_round_trips_and_a_request_without_cookies_gets_an_empty_one(database_url):
    app = _app(database_url)
    client, name = app.test_client(), app.config["SESSION_COOKIE_NAME"]
    assert client.get("/console/test-session/one").get_json() == {"before": None}
    assert client.get_cookie(name, path="/console") is not None
    assert client.get("/console/test-session/two").get_json() == {"before": "one"}
    client.delete_cookie(name, path="/console")
    assert client.get("/console/test-session/three").get_json() == {"before": None}


def test_per_request_callbacks_still_run_and_do_not_grow_what_ensure_sync_remembers(database_url):
    app = _app(database_url)
    client = app.test_client()
    client.get("/test-after-this-request")
    remembered = len(app._coroutine_code)
    for _ in range(50):
        assert client.get("/test-after-this-request").headers["X-Marked"] == "yes"
    assert len(app._coroutine_code) == remembered


def test_a_coroutine_function_still_goes_to_flask(database_url):
    app = _app(database_url)

    async def asynchronous():
        return {}

    with pytest.raises(RuntimeError, match="async"):  # Flask's answer without its async extra
        app.ensure_sync(asynchronous)
    assert app.ensure_sync(_app) is _app
