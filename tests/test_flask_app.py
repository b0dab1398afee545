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


def test_hooks_run_in_flasks_order_for_the_app_and_a_blueprint(database_url):
    from flask import Blueprint

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app, seen = create_app(Config), []
    bp = Blueprint("hooked", __name__)

    @bp.get("/test-hooked")
    def hooked():
        seen.append("view")
        return {}

    for name, where in (("app", app), ("bp", bp)):
        for n in (1, 2):
            where.before_request(lambda name=name, n=n: seen.append(f"before {name}{n}"))
            where.after_request(lambda r, name=name, n=n: seen.append(f"after {name}{n}") or r)
            where.teardown_request(lambda e, name=name, n=n: seen.append(f"teardown {name}{n}"))
    app.register_blueprint(bp)
    client = app.test_client()
    for _ in range(2):  # the second request runs the hooks as listed by the first
        seen.clear()
        assert client.get("/test-hooked").status_code == 200
        assert seen == ["before app1", "before app2", "before bp1", "before bp2", "view",
                        "after bp2", "after bp1", "after app2", "after app1",
                        "teardown bp2", "teardown bp1", "teardown app2", "teardown app1"]
    with pytest.raises(AssertionError):  # Flask still refuses setup once it has served
        app.before_request(lambda: None)


def test_a_rate_limited_route_still_gets_the_limiters_hooks_and_others_do_not(database_url):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(Config)
    client = app.test_client()
    client.post("/api/v1/auth/login", json={"email": "nobody@example.org", "password": "x" * 12})
    client.get("/healthz")
    assert any(getattr(f, "__qualname__", "").startswith("Limiter.") for f in app._plans["auth.login"].before)
    assert not any(getattr(f, "__qualname__", "").startswith("Limiter.") for f in app._plans["health.healthz"].before)


def test_every_answer_still_carries_the_security_headers_once(database_url):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    client = create_app(Config).test_client()
    for response in (client.get("/healthz"), client.get("/api/v1/me"), client.get("/no-such-page")):
        names = [name.lower() for name, _ in response.headers]
        for name in ("x-content-type-options", "x-frame-options", "referrer-policy", "cache-control",
                     "content-security-policy", "x-request-id"):
            assert names.count(name) == 1, (response.status_code, name)
    assert client.get("/healthz", headers={"X-Request-ID": "abcdefgh-1234"}).headers["X-Request-ID"] == "abcdefgh-1234"


def test_query_arguments_parsed_once_per_query_string_are_the_callers_own(database_url):
    from app.education.routes import blp  # noqa: F401  (the catalogue's schema opts in)
    from app.education.schemas import ModuleListArgs
    from app.extensions import Blueprint

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(Config)
    schema, parser = ModuleListArgs(), Blueprint.ARGUMENTS_PARSER
    with app.test_request_context("/?lang=en&per_page=5"):
        first = parser.parse(schema, location="query")
        first["per_page"] = 99
        assert parser.parse(schema, location="query") == {"lang": "en", "page": 1, "per_page": 5}
    with app.test_request_context("/?per_page=0"), pytest.raises(Exception):
        parser.parse(schema, location="query")
    with app.test_request_context("/?per_page=0"), pytest.raises(Exception):  # a refusal is not kept
        parser.parse(schema, location="query")


def test_the_wsgi_headers_and_body_are_werkzeugs_own(database_url):
    """Response hands the server the same headers and body as Flask's, for less work."""
    from flask import Response as FlaskResponse
    from werkzeug.test import EnvironBuilder

    from app.common.flask_app import Response

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(Config)
    assert app.response_class is Response
    cases = [
        dict(response='{"a": 1}', mimetype="application/json"),
        dict(status=304, headers={"ETag": '"x"', "Last-Modified": "Tue, 01 Dec 2026 10:00:00 GMT"},
             mimetype="application/json"),
        dict(response="{}", status=201, headers={"Location": "/api/v1/x/é"}, mimetype="application/json"),
        dict(response="", status=204),
        dict(response=iter([b"a", b"b"]), mimetype="text/plain"),  # a stream: no length known
        dict(response=["text", b"bytes"], mimetype="text/plain"),
        dict(response="{}", status=500, headers={"Content-Location": "/x y"}, mimetype="application/json"),
    ]
    for method in ("GET", "HEAD"):
        environ = EnvironBuilder(path="/x", method=method).get_environ()
        for case in cases:
            ours, theirs = Response(**case), FlaskResponse(**case)
            if not isinstance(case.get("response"), (str, list)) and "response" in case:
                ours.response, theirs.response = iter([b"a", b"b"]), iter([b"a", b"b"])
            assert list(ours.get_wsgi_headers(environ)) == list(theirs.get_wsgi_headers(environ)), case
            assert list(ours.get_app_iter(environ)) == list(theirs.get_app_iter(environ)), case
    on_close = []
    closing = Response("{}")
    closing.call_on_close(lambda: on_close.append(1))
    body = closing.get_app_iter(EnvironBuilder(path="/x").get_environ())
    body.close()
    assert on_close == [1]
