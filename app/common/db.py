"""Database helpers that differ by dialect."""
from functools import cache

from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db


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
