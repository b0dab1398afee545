"""StandStrong: the API behind a home bone-health programme after spinal cord injury."""
from importlib import import_module
from importlib.util import find_spec

from flask import Flask, g, request
from sqlalchemy import event

from app.common.db import WriterLockedConnection, begin_sqlite, writing
from app.common.docs import register_docs_assets
from app.common.flask_app import StandStrongFlask
from app.common.headers import register_response_headers
from app.common.json_body import JSONProvider
from app.common.postgresql import CONNECT_ARGS as PSYCOPG_CONNECT_ARGS
from app.common.postgresql import end_reads_with_commit, tune_postgresql
from app.common.types import render_item
from app.config import BASE_DIR, Config, check_config
from app.domains import DOMAINS
from app.errors import ApiError, register_error_handlers
from app.extensions import api, db, jwt, limiter, migrate

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def create_app(config=None) -> Flask:
    app = StandStrongFlask(__name__, instance_relative_config=False)
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    app.json = JSONProvider(app)
    app.json.sort_keys = False
    check_config(app.config)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from app.common.logging import configure_logging

    configure_logging(app)
    register_response_headers(app)
    register_extensions(app)
    register_request_guards(app)
    register_domains(app)
    _skip_limiter_where_nothing_is_limited(app)
    register_docs_assets(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options["connect_args"] = {**options.get("connect_args", {}), "factory": WriterLockedConnection}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    elif app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg:"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options["connect_args"] = {**PSYCOPG_CONNECT_ARGS, **options.get("connect_args", {})}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite(db.engine)
        elif db.engine.dialect.driver == "psycopg":
            tune_postgresql(db.engine)
            app.after_request(end_reads_with_commit)  # registered first: runs after the others
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"),
                     compare_type=True, render_as_batch=True, render_item=render_item)
    jwt.init_app(app)
    limiter.init_app(app)
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    from app.openapi import install

    install(api, app)  # every operation finished by one set of rules (app/openapi.py)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def _tune_sqlite(engine) -> None:
    """Real transactions on SQLite (pysqlite's own handling breaks SAVEPOINT), WAL for several
    workers, and writers that queue for the write lock (app/common/db.py) and take it up front
    instead of failing half-way."""

    from app.sessions.rollups import ss_bump

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.create_function("ss_bump", 3, ss_bump, deterministic=True)  # the rollups' (PostgreSQL: a migration's)
        # lower() as Python's (the caseload's search), not ASCII only: icontains (lower() LIKE lower())
        # then finds "Élodie" by "élodie" as PostgreSQL's ILIKE does
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "begin", begin_sqlite)


def _skip_limiter_where_nothing_is_limited(app: Flask) -> None:
    """Flask-Limiter resolves limits on every request (a sixth of /healthz); only a few routes
    have any (login, reset, activation) when no default or application-wide limit is set."""
    from flask_limiter.util import get_qualified_name

    manager = limiter.limit_manager
    if manager._default_limits or manager._application_limits:
        app.extensions["limited_endpoints"] = None
        return
    app.extensions["limited_endpoints"] = frozenset(
        endpoint for endpoint, view in app.view_functions.items()
        if get_qualified_name(view) in limiter._marked_for_limiting or manager.has_hints(endpoint)
    )
    if _not_limited not in limiter._request_filters:
        limiter.request_filter(_not_limited)
    _bypass_limiter_hooks(app)


def _bypass_limiter_hooks(app: Flask) -> None:
    """Flask-Limiter's request hooks build its context and walk its limits before it asks the
    request filter; on a route with no limit, do not call them at all."""
    from functools import partial, wraps

    def unless_unlimited(hook):
        @wraps(hook)
        def guarded(*args):
            if _not_limited():
                return args[0] if args and hasattr(args[0], "status_code") else None
            return hook(*args)

        guarded.bypasses_limiter = True
        guarded.applies_to = _limited_endpoint  # StandStrongFlask leaves it out of the others' hooks
        return guarded

    def ours(hook) -> bool:
        owner = hook.args[0] if isinstance(hook, partial) and hook.args else getattr(hook, "__self__", None)
        return owner is limiter and not getattr(hook, "bypasses_limiter", False)

    for table in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        hooks = table.get(None, [])
        hooks[:] = [unless_unlimited(hook) if ours(hook) else hook for hook in hooks]


def _not_limited() -> bool:
    from flask import current_app

    return not _limited_endpoint(current_app, request.endpoint)


def _limited_endpoint(app: Flask, endpoint) -> bool:
    limited = app.extensions.get("limited_endpoints")
    return limited is None or endpoint in limited


def register_domains(app: Flask) -> None:
    """Each domain wires itself: blueprints, signal receivers, CLI commands, seed loader,
    scheduled jobs, its models (for Alembic). Domains not built yet are skipped."""
    for name in DOMAINS:
        if find_spec(f"app.{name}") is not None:
            import_module(f"app.{name}").register(app)
    # flask-smorest documents its error responses as application/json; ours are problem+json.
    for response in api.spec.components.responses.values():
        if "application/json" in response.get("content", {}):
            response["content"] = {"application/problem+json": response["content"].pop("application/json")}


def register_request_guards(app: Flask) -> None:
    @app.before_request
    def _write_intent():
        # A write request's transactions take the write lock when they begin (SQLite).
        if request.method in WRITE_METHODS:
            g.writing = writing()
            g.writing.__enter__()

    @app.teardown_request
    def _end_write_intent(_exc):
        intent = g._get_current_object().__dict__.pop("writing", None)
        if intent is not None:
            intent.__exit__(None, None, None)

    @app.before_request
    def _json_only():
        environ = request._get_current_object().environ
        if "CONTENT_LENGTH" not in environ and "HTTP_TRANSFER_ENCODING" not in environ:
            return  # no body (every GET): nothing to check
        if request.blueprint == "console":  # the console's pages post forms (app/console)
            return
        if request.routing_exception is not None:  # no such URL or method: that 404/405 answers, not
            return                                 # the body (a form PUT on a console page: its 405 page)
        has_body = request.content_length or request.headers.get("Transfer-Encoding")
        if request.method not in WRITE_METHODS or not has_body:
            return  # a read's body means nothing (RFC 9110 9.3.1): nobody reads it, nothing refuses it
        if not request.is_json:
            raise ApiError(415, "Send the request body as application/json.",
                           title="Unsupported Media Type")
        _parse_json_body()


def _parse_json_body() -> None:
    """Parse the body once, by app.json (too deep, unpaired surrogates: 400), before anything
    else reads it; later readers get the cached value or a body already known to be sound."""
    from werkzeug.exceptions import BadRequest

    from app.common.json_body import BodyError, loads

    try:
        request.get_json()
    except BadRequest:
        try:  # again, only to say why
            loads(request.get_data(cache=True))
            detail = "The request body is not valid JSON."
        except BodyError as error:
            detail = str(error)
        except ValueError as error:  # json.JSONDecodeError: what was expected, and where
            detail = f"The request body is not valid JSON: {error}."
        raise ApiError(400, detail, title="Bad Request", type_slug="invalid-json") from None


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)
