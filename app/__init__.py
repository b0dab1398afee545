"""StandStrong: the API behind a home bone-health programme after spinal cord injury."""
from flask import Flask, request
from sqlalchemy import event

from app.common.types import render_item
from app.config import BASE_DIR, Config, check_production_secrets
from app.errors import ApiError, register_error_handlers
from app.extensions import api, db, jwt, limiter, migrate

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def create_app(config=None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    app.json.sort_keys = False
    check_production_secrets(app.config)

    from app.common.logging import configure_logging

    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_request_guards(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"),
                     compare_type=True, render_as_batch=True, render_item=render_item)
    jwt.init_app(app)
    limiter.init_app(app)
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    from app.audit.service import register_audit_hooks

    register_audit_hooks(app)


def _tune_sqlite(engine) -> None:
    """Real transactions on SQLite (pysqlite's own handling breaks SAVEPOINT), WAL for several
    workers, and writers that take the write lock up front instead of failing half-way."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        from flask import has_request_context

        immediate = has_request_context() and request.method in WRITE_METHODS
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def register_blueprints(app: Flask) -> None:
    from app.adherence.routes import blp as adherence_blp
    from app.audit.routes import blp as audit_blp
    from app.education.routes import blp as education_blp
    from app.education.routes import patient_blp as patient_education_blp
    from app.exercises.routes import blp as exercises_blp
    from app.plans.routes import blp as plans_blp
    from app.plans.routes import templates_blp
    from app.sessions.routes import blp as sessions_blp
    from app.sessions.routes import symptoms_blp
    from app.auth.routes import blp as auth_blp
    from app.auth.routes import users_blp
    from app.health.routes import blp as health_blp
    from app.patients.routes import blp as patients_blp
    from app.patients.routes import me_blp

    for blp in (health_blp, auth_blp, users_blp, me_blp, patients_blp, education_blp,
                patient_education_blp, exercises_blp, templates_blp, plans_blp, symptoms_blp,
                sessions_blp, adherence_blp, audit_blp):
        api.register_blueprint(blp)
    # flask-smorest documents its error responses as application/json; ours are problem+json.
    for response in api.spec.components.responses.values():
        if "application/json" in response.get("content", {}):
            response["content"] = {"application/problem+json": response["content"].pop("application/json")}


def register_request_guards(app: Flask) -> None:
    @app.before_request
    def _json_only():
        has_body = request.content_length or request.headers.get("Transfer-Encoding")
        if request.method in WRITE_METHODS and has_body and not request.is_json:
            raise ApiError(415, "Send the request body as application/json.",
                           title="Unsupported Media Type")


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)
