"""SQLite: a writer waiting for another queues on the writer lock (app/common/db.py), not in
SQLite's busy handler, and goes the moment the holder commits or rolls back."""
import threading

import pytest
from sqlalchemy import text

from app.common.db import writing
from app.extensions import db
from tests.statements import sqlite_driver_statements

pytestmark = pytest.mark.committing


@pytest.fixture
def sqlite_only(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the writer lock is SQLite's")


def _queued_writer(app, began: threading.Event, done: threading.Event):
    def run():
        with app.app_context(), writing():
            with db.engine.begin() as conn:
                began.set()
                conn.execute(text("SELECT 1"))
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_a_waiting_writer_queues_on_the_lock_and_goes_when_the_holder_ends(app, sqlite_only, end):
    def seen(statement):  # the driver's statements: the app sends BEGIN IMMEDIATE straight to it
        return threading.current_thread().name if statement.startswith("BEGIN IMMEDIATE") else None

    def begins():
        return [name for name in traced if name is not None]

    with app.app_context(), sqlite_driver_statements(db.engine, seen) as traced:
        holder = db.engine.connect()
        try:
            with writing():
                transaction = holder.begin()
            began, done = threading.Event(), threading.Event()
            thread = _queued_writer(app, began, done)
            assert not began.wait(0.5)  # held up
            # It waits on the lock, not inside SQLite's BEGIN IMMEDIATE (the busy handler's sleeps).
            assert begins() == [threading.current_thread().name]
            getattr(transaction, end)()
            assert began.wait(10) and done.wait(10)
            thread.join(10)
            assert begins() == [threading.current_thread().name, thread.name]
        finally:
            holder.close()


def test_the_lock_is_free_after_a_failed_write(app, sqlite_only):
    with app.app_context():
        with pytest.raises(Exception), writing(), db.engine.begin() as conn:
            conn.execute(text("INSERT INTO no_such_table VALUES (1)"))
        began, done = threading.Event(), threading.Event()
        _queued_writer(app, began, done).join(10)
        assert done.is_set()
