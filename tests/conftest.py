"""Test setup: one real database per run (SQLite file, or PostgreSQL from TEST_DATABASE_URL),
migrated with Alembic; each test runs in a transaction that is rolled back."""
import inspect
import os
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import time_machine
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from app.config import TestConfig
from app.extensions import db, limiter
from tests.factories import World
from tests.log_capture import RecordingClient, install as install_log_capture
from tests.smtp import SmtpServer
from tests.spec_observer import OBSERVER


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = _database_url(tmp_path_factory)
    if url.startswith("postgresql"):
        _reset_postgres(url)
    return url


@pytest.fixture(scope="session")
def app(database_url):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(Config)
    app.test_client_class = RecordingClient
    OBSERVER.connect(app)  # what each operation answered, for tests/test_declared_statuses.py
    with app.app_context():
        upgrade()
    install_log_capture()  # again: Alembic's logging setup replaced the root logger's handlers
    return app


@pytest.fixture(autouse=True)
def _observed(request):
    OBSERVER.enabled = request.node.get_closest_marker("unobserved") is None
    yield
    OBSERVER.enabled = True


@pytest.fixture(autouse=True)
def _isolated(request, app):
    """Bind the session to one connection inside a transaction; roll it back afterwards.
    Tests marked `committing` use the real engine and clean the tables instead."""
    limiter.reset()
    if request.node.get_closest_marker("committing"):
        yield
        with app.app_context():
            db.session.remove()
            with db.engine.begin() as conn:
                for table in reversed(db.metadata.sorted_tables):
                    if table.name != "alembic_version":
                        conn.execute(table.delete())
        return
    # No app context stays pushed: each request must get its own, as in production
    # (a pushed context would share flask.g between requests).
    with app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    original = db.session
    db.session = scoped_session(sessionmaker(bind=connection, join_transaction_mode="create_savepoint"))
    try:
        yield
    finally:
        db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def app_ctx(app):
    """For tests that call services directly."""
    with app.app_context():
        yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def world(client):
    """Admin, two coordinators with one patient each, a coordinator of nobody, a caregiver of A."""
    return World(client).build()


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="also run the tests marked slow (CI does)")
    parser.addoption("--at", metavar="MOMENT", type=_moment,
                     help="run as if the clock read MOMENT (ISO 8601; UTC unless it names an offset), "
                          "e.g. 2026-12-02T00:20Z: the clock ticks on from there for the tests, the app, "
                          "the browser tests' server and the Python processes the tests start")


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


CLOCK_OFFSET = "STANDSTRONG_TESTS_CLOCK_OFFSET"


def _travel_to(moment: datetime) -> None:
    """The whole run at another time of day (or year): one ticking time-machine travel started
    before collection (modules that read the clock on import see it too), and the same offset
    for the processes tests start (tests/clock_at/sitecustomize.py, on their PYTHONPATH).
    Monotonic clocks, sleeps and timeouts stay real; so do Chromium's clock (the console's cookie
    is a session cookie, with no expiry date to compare) and the PostgreSQL server's (the app
    never asks it the time: every timestamp comes from Python)."""
    offset = moment.timestamp() - time.time()
    os.environ[CLOCK_OFFSET] = repr(offset)
    hook = str(Path(__file__).parent / "clock_at")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [hook, os.environ.get("PYTHONPATH")]))
    time_machine.travel(moment, tick=True).start()


def pytest_report_header(config):
    moment = config.getoption("--at")
    return f"clock: travelled to {moment.isoformat()} (--at), ticking" if moment else None


def pytest_terminal_summary(terminalreporter, config):
    deselected = getattr(config, "_no_database_deselected", 0)
    if deselected:
        terminalreporter.write_line(f"{deselected} tests marked no_database touch no database: "
                                    "they ran in the SQLite run (make test), not again here")


def pytest_configure(config):
    if config.getoption("--at") and CLOCK_OFFSET not in os.environ:
        _travel_to(config.getoption("--at"))
    config.addinivalue_line("markers", "committing: the test commits for real (concurrency)")
    config.addinivalue_line("markers", "last: runs after every other test (it reads what they logged)")
    config.addinivalue_line("markers", "unobserved: the test forces an answer the route cannot give by itself "
                                       "(a patched service); tests/test_declared_statuses.py does not count it")
    config.addinivalue_line("markers", "slow: many examples of a property test; run with --slow (CI)")
    config.addinivalue_line("markers", "no_database: the test touches no database (source, or a process of its "
                                       "own that stops before any): the SQLite run only, not again on PostgreSQL")
    install_log_capture()


# What a test would ask for to reach the database (every test has `app` and `database_url`
# through _isolated; a no_database test asks for none of these itself, nor for a fixture on them).
DATABASE_FIXTURES = {"app", "database_url", "client", "world", "app_ctx", "smtp"}


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)
    independent = [item for item in items if item.get_closest_marker("no_database")]
    for item in independent:
        asked = DATABASE_FIXTURES & (set(inspect.signature(item.function).parameters)
                                     | set(item.fixturenames) - {"app", "database_url"})
        if asked:
            raise pytest.UsageError(f"{item.nodeid} is marked no_database but asks for {sorted(asked)}")
    if independent and os.environ.get("TEST_DATABASE_URL"):
        config.hook.pytest_deselected(items=independent)
        items[:] = [item for item in items if not item.get_closest_marker("no_database")]
        config._no_database_deselected = len(independent)
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow (CI does)")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def _smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(app, _smtp_server):
    """A real SMTP server on loopback; the app sends to it for this test. `smtp.messages`
    holds what arrived (email.message.EmailMessage objects)."""
    _smtp_server.clear()
    saved = {key: app.config[key] for key in ("MAIL_SERVER", "MAIL_PORT")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_smtp_server.port)
    yield _smtp_server
    app.config.update(saved)


@pytest.fixture
def random_id():
    return str(uuid.uuid4())
