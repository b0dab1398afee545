"""The engine's psycopg cursor and pre-ping (app/common/postgresql.py) behave as psycopg's and
SQLAlchemy's own: the same cursor.description, and a connection the server dropped is replaced
at checkout without the request seeing it."""
import os
import uuid
from typing import ClassVar

import psycopg
import pytest
from sqlalchemy.engine import make_url

from app import create_app
from app.config import TestConfig
from app.extensions import db

pytestmark = [pytest.mark.committing,
              pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL")]


def _libpq_url(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_cursor_description_is_psycopgs(app):
    with app.app_context():
        raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        query = "SELECT 1 AS n, 'x'::text AS label, now() AS at, '{}'::jsonb AS doc"
        cursor.execute(query)
        ours = cursor.description
        plain = psycopg.Cursor(raw.driver_connection)
        plain.execute(query)
        expected = [(c.name, c.type_code, c.internal_size) for c in plain.description]
        assert [(c.name, c.type_code, c.internal_size) for c in ours] == expected
        assert len(ours) == 4 and ours[1][0] == "label" and ours[-1].name == "doc"
        assert [tuple(c) for c in ours] == [tuple(c) for c in plain.description]
        assert cursor.fetchall() == plain.fetchall()

        earlier = cursor.description
        cursor.execute("SELECT 2 AS other")
        assert [c.name for c in earlier] == ["n", "label", "at", "doc"]  # the result it was read from
        assert [c.name for c in cursor.description] == ["other"]
        cursor.execute("SET application_name = 'standstrong-test'")
        assert cursor.description is None
        cursor.close()
        plain.close()
    finally:
        raw.close()


def test_connection_the_server_dropped_is_replaced_at_checkout(database_url):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict] = {**TestConfig.SQLALCHEMY_ENGINE_OPTIONS, "pool_size": 1, "max_overflow": 0}

    one_connection = create_app(Config)
    try:
        with one_connection.app_context():
            with db.engine.connect() as conn:
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with psycopg.connect(_libpq_url(database_url), autocommit=True) as admin:
                assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
            with db.engine.connect() as conn:  # the pre-ping finds it dead: a new connection
                assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
                # the ping began no transaction of its own: this one is the connection's first
                assert conn.exec_driver_sql("SELECT 1").scalar() == 1
            raw = db.engine.raw_connection()
            try:
                assert raw.driver_connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            finally:
                raw.close()
    finally:
        with one_connection.app_context():
            db.engine.dispose()


def test_a_prepared_statement_survives_a_commit_not_a_rollback(app):
    """Why successful reads end with COMMIT (postgresql.end_reads_with_commit): psycopg prepares a
    statement run five times on a connection and forgets them all at a ROLLBACK."""
    with app.app_context(), db.engine.connect() as conn:
        def prepared() -> int:
            return conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()

        for day in range(6):
            conn.exec_driver_sql("SELECT %(day)s::int + 1", {"day": day}).scalar()
            conn.commit()
        after_commits = prepared()
        conn.rollback()
        after_rollback = prepared()
        conn.rollback()
    assert after_commits == 1
    assert after_rollback == 0


@pytest.fixture
def session_endings():
    """'commit' or 'rollback' for each transaction a session ended, in order."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    endings = []

    def committed(_session):
        endings.append("commit")

    def rolled_back(_session):
        endings.append("rollback")

    event.listen(Session, "after_commit", committed)
    event.listen(Session, "after_soft_rollback", rolled_back)
    yield endings
    event.remove(Session, "after_commit", committed)
    event.remove(Session, "after_soft_rollback", rolled_back)


def test_a_read_that_succeeded_ends_with_commit_and_a_failed_one_with_rollback(world, session_endings):
    patient = world.patient_a
    assert patient.get("/api/v1/patients/me/agenda").status_code == 200
    assert session_endings and session_endings[-1] == "commit"
    session_endings.clear()
    assert patient.get(f"/api/v1/patients/me/sessions/{uuid.uuid4()}").status_code == 404
    assert "commit" not in session_endings


def test_the_session_puts_insert_stays_within_psycopgs_parse_cache(app):
    """The single PUT's INSERT carries its audit row and the reminder cancel on PostgreSQL: over
    4 KiB or 50 parameters psycopg would parse its text again on every execute (some 700 calls)."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH, MAX_CACHED_STATEMENT_PARAMS
    from sqlalchemy.dialects import postgresql

    from app.sessions import service, signals

    assert signals.create_riders  # the reminders' cancel is registered
    statement = service._insert_on_plan_statement("postgresql", True, signals.create_riders)
    compiled = statement.compile(dialect=postgresql.dialect())
    assert len(str(compiled)) <= MAX_CACHED_STATEMENT_LENGTH
    assert len(compiled.params) <= MAX_CACHED_STATEMENT_PARAMS
