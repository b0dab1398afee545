"""Counting the SQL statements a block runs: the tests that hold a page, a list or a sweep to a
fixed number of statements whatever its size."""
from contextlib import contextmanager

from sqlalchemy import event


class Counted:
    def __init__(self):
        self.n = 0
        self.texts = []  # each statement's SQL, its whitespace collapsed to single spaces


@contextmanager
def statements_on(engine):
    """`with statements_on(engine) as counted: ...` then `counted.n` (and `counted.texts`)."""
    counted = Counted()

    def counter(_conn, _cursor, statement, *_args, **_kwargs):
        counted.n += 1
        counted.texts.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", counter)


@contextmanager
def sqlite_driver_statements(engine, record=None):
    """`with sqlite_driver_statements(engine) as seen: ...`: the SQL texts SQLite's driver ran on
    the connections checked out meanwhile, in order, including what the app sends straight to
    the driver (its BEGIN and BEGIN IMMEDIATE, app/common/db.py), which before_cursor_execute
    never sees (on another database: nothing). record(statement) -> item: what to keep of each (default: the text)."""
    seen, traced = [], []

    def trace(statement):
        seen.append(record(statement) if record else statement)

    def checkout(dbapi_connection, _record, _proxy):
        dbapi_connection.set_trace_callback(trace)
        traced.append(dbapi_connection)

    def checkin(dbapi_connection, _record):
        dbapi_connection.set_trace_callback(None)

    if engine.dialect.name != "sqlite":  # nothing to trace: seen stays empty
        yield seen
        return
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
        for dbapi_connection in traced:
            try:
                dbapi_connection.set_trace_callback(None)
            except Exception:  # noqa: BLE001 - closed meanwhile
                pass
