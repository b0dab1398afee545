"""Database helpers that differ by dialect, and the write intent SQLite needs up front."""
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from app.errors import ApiError
from app.extensions import db

_writing: ContextVar[bool] = ContextVar("writing", default=False)


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


def is_writing() -> bool:
    return _writing.get()


@cache
def _insert_ignoring(table, dialect: str, conflict_columns: tuple):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT statements.
    return (insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
            .returning(*table.primary_key.columns))


def insert_ignoring_conflict(model, values: dict, conflict_columns: list[str]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING: a create-if-absent that cannot race into a 500.

    Returns the number of rows inserted (0 or 1); read the stored row afterwards.
    """
    dialect = db.session.get_bind().dialect.name
    stmt = _insert_ignoring(model.__table__, dialect, tuple(conflict_columns))
    return len(db.session.execute(stmt, values).all())


def lock_row(model, key) -> None:
    """SELECT ... FOR UPDATE of one row by primary key, to serialise writes that hang off it
    (SQLite needs nothing: a write transaction there already holds the database lock)."""
    pk = model.__table__.primary_key.columns.values()[0]
    db.session.execute(select(pk).where(pk == key).with_for_update())


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
