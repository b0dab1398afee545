"""psycopg 3 under SQLAlchemy, for less Python per statement: the same statements and answers."""
from collections.abc import Sequence
from types import SimpleNamespace

import psycopg
from psycopg import Column
from flask import request
from psycopg.pq import ExecStatus
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

_ROWS = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)


class _Description(Sequence):
    """cursor.description, its Columns built when first read. SQLAlchemy reads the description
    of every result but looks inside only to build a statement's result metadata, which it then
    caches: psycopg's description builds a Column per column (a name decoded, a type looked up)
    on every execute, most of the Python a cached read costs over SQLite's."""

    __slots__ = ("_columns", "_cursor", "_result")

    def __init__(self, cursor, result):
        self._cursor, self._result, self._columns = cursor, result, None

    def _built(self) -> list:
        if self._columns is None:
            cursor = self._cursor  # the result as it was when read, should the cursor move on
            seen = SimpleNamespace(pgresult=self._result, _encoding=cursor._encoding, adapters=cursor.adapters)
            self._columns = [Column(seen, i) for i in range(self._result.nfields)]
        return self._columns

    def __len__(self) -> int:
        return self._result.nfields

    def __getitem__(self, index):
        return self._built()[index]

    def __iter__(self):
        return iter(self._built())

    def __eq__(self, other):
        return self._built() == other

    def __repr__(self) -> str:
        return repr(self._built())


class Cursor(psycopg.Cursor):
    """psycopg's client cursor, with the description of _Description (the engine's cursor_factory)."""

    @property
    def description(self):
        result = self.pgresult
        if result and (result.nfields or result.status in _ROWS):
            return _Description(self, result)
        return None


def ping(dbapi_connection) -> bool:
    """The engine's pre-ping: SELECT 1 on the server, straight through libpq (the GIL released
    while it waits). SQLAlchemy's goes through a psycopg cursor and turns autocommit on and off
    around it, at every checkout. On an idle connection out of the pool no transaction begins
    (BEGIN is psycopg's, not libpq's). A failure raises psycopg's OperationalError with the
    connection marked closed, which SQLAlchemy takes for a disconnect (a new connection)."""
    pgconn = dbapi_connection.pgconn
    try:
        result = pgconn.exec_(b"SELECT 1")
    except psycopg.OperationalError:
        raise
    except psycopg.Error as error:  # the connection already closed
        raise psycopg.OperationalError(str(error)) from error
    if result.status != ExecStatus.TUPLES_OK:
        message = (result.error_message or pgconn.error_message).decode("utf-8", "replace")
        raise psycopg.OperationalError(message or "the pre-ping failed")
    return True


CONNECT_ARGS = {"cursor_factory": Cursor}

READ_METHODS = frozenset({"GET", "HEAD"})


def end_reads_with_commit(response):
    """After a read that succeeded, end its transaction with COMMIT (an after_request hook).

    psycopg prepares a statement once it has run five times on a connection, and forgets every
    prepared statement at a ROLLBACK (DEALLOCATE ALL), which is how removing the session would
    end the read. The reads' statements (the plans' UNION ALL above all) were then planned anew
    on every request: about a third of a PostgreSQL agenda's cost. A read's transaction wrote
    nothing (a read audit row has been committed in its own transaction by then), so COMMIT ends
    it as ROLLBACK would; one holding unflushed objects, or a failed read, is left to the rollback.
    """
    if response.status_code < 400 and request.method in READ_METHODS:
        session = db.opened_session()
        if session is not None and session.in_transaction() and not (session.new or session.dirty
                                                                     or session.deleted):
            try:
                session.commit()
            except SQLAlchemyError:
                session.rollback()
    return response


def tune_postgresql(engine) -> None:
    engine.dialect.do_ping = ping
