"""Database helpers that differ by dialect, and the write intent SQLite needs up front."""
import fcntl
import os
import sqlite3
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, wraps

from sqlalchemy import delete, select, text
from sqlalchemy.dialects import postgresql, sqlite

from app.errors import ApiError
from app.extensions import db

_writing: ContextVar[bool] = ContextVar("writing", default=False)
_read_first: ContextVar[list | None] = ContextVar("read_first", default=None)  # reads_first's read transactions


@contextmanager
def writing():
    """Transactions begun inside take the write lock when they begin (SQLite: BEGIN IMMEDIATE),
    so they wait for other writers (busy timeout) instead of failing half-way when a read
    turns into a write. Write requests run inside it; a job that writes opens it itself."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


@contextmanager
def reading():
    """Inside a write request: transactions begun here only read, so on SQLite they take no
    write lock (a receiver's look-up after the request's commit)."""
    token = _writing.set(False)
    try:
        yield
    finally:
        _writing.reset(token)


def is_writing() -> bool:
    return _writing.get()


def reads_first(view):
    """For a write route whose first statements only read (the login check): on SQLite they run
    in a read transaction, and the service takes the write lock where its writes start
    (writes_from_here), so that writers hold it, and queue for it, for less time. Place it
    right under the route, above @authenticate."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        begun, intent = _read_first.set([]), _writing.set(False)  # as reading(), without its context manager
        try:
            return view(*args, **kwargs)
        finally:
            _writing.reset(intent)
            _read_first.reset(begun)

    return wrapper


class writes_from_here:  # noqa: N801 - used as a context manager, like writing()
    """Inside a reads_first route: from here on the request writes. On SQLite the read
    transaction begun so far (only reads, so nothing to keep) ends and a write transaction
    begins in its place, queued for the writer lock (BEGIN IMMEDIATE); what was read before is
    as of then, as under PostgreSQL's READ COMMITTED. The ORM session keeps its transaction and
    its objects: only the database's transaction is renewed. Transactions begun inside take
    the write lock, as in writing()."""

    __slots__ = ("token",)

    def __enter__(self):  # a class, not @contextmanager: it runs on every session PUT
        self.token = _writing.set(True)
        try:
            _renew_as_write()
        except BaseException:
            _writing.reset(self.token)
            raise

    def __exit__(self, *_exc):
        _writing.reset(self.token)


def _renew_as_write() -> None:
    begun = _read_first.get()
    if not begun:
        return  # no read transaction begun on SQLite in this route (PostgreSQL: none ever)
    connection = begun[-1]  # the session's: the login check's
    if connection.closed or not connection.in_transaction() or connection.in_nested_transaction():
        return  # ended (the next one begins as a write one), or not the session's own
    dbapi_connection = connection.connection.dbapi_connection
    if not isinstance(dbapi_connection, WriterLockedConnection) or dbapi_connection.began_immediate \
            or not dbapi_connection.in_transaction:
        return
    dbapi_connection.commit()  # the read transaction: nothing was written in it
    _begin_immediate(connection)


def execute_core(stmt, params=None):
    """A Core statement (built on tables, once) in the session's transaction, after the
    autoflush an ORM statement would do (pending objects are written first; with none it is a
    few checks). Skips the ORM's DML steps, which cost several times the statement itself."""
    session = db.session()
    if session.autoflush:
        session.flush()
    return session.execute(stmt, params)


def transaction_connection():
    """The connection of the session's transaction (begun if need be), after the autoflush an
    ORM statement would do. Core statements executed on it skip the session's steps of every
    statement (bind look-up, connection for the bind); valid until the session commits or rolls
    back, and inside its savepoints too (they are on the same connection)."""
    session = db.session()
    if session.autoflush:
        session.flush()
    return session.connection()


@cache
def _insert_ignoring(table, dialect: str, conflict_columns: tuple):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT statements.
    return (insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
            .returning(*table.primary_key.columns))


def insert_ignoring_conflict(model, values: dict, conflict_columns: list[str], connection=None) -> int:
    """INSERT ... ON CONFLICT DO NOTHING: a create-if-absent that cannot race into a 500.

    Returns the number of rows inserted (0 or 1); read the stored row afterwards. connection:
    the transaction's (transaction_connection()), to run it there instead of through the session.
    """
    runner = connection if connection is not None else db.session
    dialect = (connection.dialect if connection is not None else db.session.get_bind().dialect).name
    stmt = _insert_ignoring(model.__table__, dialect, tuple(conflict_columns))
    return len(runner.execute(stmt, values).all())


def lock_row(model, key) -> None:
    """SELECT ... FOR UPDATE of one row by primary key, to serialise writes that hang off it
    (SQLite needs nothing: a write transaction there already holds the database lock)."""
    pk = model.__table__.primary_key.columns.values()[0]
    db.session.execute(select(pk).where(pk == key).with_for_update())


ADDRESS_LOCKS = 0x5353_4541  # "SSEA": the key space of lock_address (two-key advisory locks)


def lock_address(email: str) -> None:
    """Serialise, until the transaction ends, the writes that decide what an e-mail address's
    account is (two activations with one new address at once: the second waits, then sees the
    account the first made). PostgreSQL: a transaction-level advisory lock on the address's
    hash; SQLite needs nothing (a write transaction there already holds the database lock)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:email))"),
                           {"space": ADDRESS_LOCKS, "email": email})


def delete_row(row) -> bool:
    """DELETE the loaded row by its id with a statement: False when no row matched, deleted
    meanwhile (two requests at once both read it before either committed; an ORM delete of a
    row gone only warns, so each would answer 204 and announce it). The row leaves the session
    with its values loaded, for what announces the deletion."""
    model = type(row)
    deleted = db.session.execute(delete(model).where(model.id == row.id)
                                 .execution_options(synchronize_session=False)).rowcount == 1
    db.session.expunge(row)
    return deleted


@cache
def _upsert(table, dialect: str, conflict_columns: tuple, update_columns: tuple):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(index_elements=list(conflict_columns),
                                      set_={c: stmt.excluded[c] for c in update_columns})


def upsert(model, values: dict, conflict_columns: list[str]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE: the row ends up with these values, whoever wrote first."""
    dialect = db.session.get_bind().dialect.name
    update = tuple(k for k in values if k not in conflict_columns)
    db.session.execute(_upsert(model.__table__, dialect, tuple(conflict_columns), update), values)


def patient_row_or_404(model, row_id, patient_id, what: str):
    """The row with this id if it belongs to this patient, else 404 (the same for another
    patient's row as for none, so ids cannot be probed)."""
    row = db.session.scalar(select(model).where(model.id == row_id, model.patient_id == patient_id))
    if row is None:
        raise ApiError(404, f"No such {what} for this patient.", title="Not Found")
    return row


class WriterLockedConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions queue on an OS file lock (flock) next to
    the database before BEGIN IMMEDIATE, and release it when they commit or roll back.

    SQLite's own busy handler makes a waiting writer poll with sleeps that grow to 100 ms, so
    under several workers a write waits long after the lock is free (a p99 of hundreds of ms);
    a writer blocked in flock wakes the moment the holder releases it, in every process and
    thread (each connection opens the lock file itself). The process dying releases it too.
    A writer that is not queued this way (another program) is still waited for by the busy
    handler. A thread that already holds the lock on another connection does not queue again.
    """

    _held = threading.local()
    began_immediate = True  # how its transaction began (begin_sqlite); a read one can be renewed

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        path = os.fspath(database) if not isinstance(database, bytes) else database.decode()
        self._lock_path = None if path in ("", ":memory:") or path.startswith("file:") else path + "-writer.lock"
        self._lock_fd = None
        self._locked = False

    def queue_for_write(self) -> None:
        if self._lock_path is None or self._locked or getattr(self._held, "count", 0):
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._locked = True
        self._held.count = getattr(self._held, "count", 0) + 1

    def _release(self) -> None:
        if self._locked:
            self._locked = False
            self._held.count -= 1
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def commit(self):
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self._release()

    def close(self):
        try:
            super().close()
        finally:
            self._release()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None


def begin_sqlite(conn) -> None:
    """The engine's BEGIN on SQLite: a write transaction queues for the writer lock, then takes
    SQLite's write lock up front (BEGIN IMMEDIATE); a read transaction takes nothing."""
    if not is_writing():
        # Straight to the driver: through SQLAlchemy's execution machinery this BEGIN cost a
        # sixth of a cached read (every request that reads pays it).
        dbapi_connection = conn.connection.dbapi_connection
        dbapi_connection.execute("BEGIN")
        if isinstance(dbapi_connection, WriterLockedConnection):
            dbapi_connection.began_immediate = False
            begun = _read_first.get()
            if begun is not None:
                begun.append(conn)
        return
    _begin_immediate(conn)


def _begin_immediate(conn) -> None:
    dbapi_connection = conn.connection.dbapi_connection
    queue = getattr(dbapi_connection, "queue_for_write", None)
    if queue is not None:
        queue()
    try:
        # Straight to the driver, as the read BEGIN above: SQLAlchemy's execution steps would run
        # while this writer holds the writer lock (before_cursor_execute listeners do not see it).
        dbapi_connection.execute("BEGIN IMMEDIATE")
    except BaseException:
        if queue is not None:
            dbapi_connection._release()
        raise
    if isinstance(dbapi_connection, WriterLockedConnection):
        dbapi_connection.began_immediate = True
