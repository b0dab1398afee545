"""Database helpers that differ by dialect."""
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db


def insert_ignoring_conflict(model, values: dict | list[dict], conflict_columns: list[str]):
    """INSERT ... ON CONFLICT DO NOTHING: a create-if-absent that cannot race into a 500.

    Returns the number of rows inserted; read the stored row afterwards.
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__
    stmt = (insert(table).values(values).on_conflict_do_nothing(index_elements=conflict_columns)
            .returning(*table.primary_key.columns))
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT statements.
    return len(db.session.execute(stmt).all())
