"""The outbox's write side for every domain: enqueue (insert-if-absent) and cancel (pending only)."""
from functools import cache

from sqlalchemy import and_, bindparam, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from app.common.db import insert_ignoring_conflict, transaction_connection
from app.reminders.models import Notification


def enqueue(*, recipient_user_id, patient_id, kind: str, dedupe_key: str, due_at, payload: dict, now,
            occurrence_key: str | None = None) -> bool:
    """Add one message to the outbox in the caller's transaction; True when a row was created
    (False: a row with this dedupe_key exists already, whatever its status)."""
    values = {"recipient_user_id": recipient_user_id, "patient_id": patient_id, "kind": kind,
              "dedupe_key": dedupe_key, "occurrence_key": occurrence_key, "due_at": due_at,
              "payload": payload or {}, "status": "pending", "attempts": 0, "materialised": False,
              "created_at": now}
    return insert_ignoring_conflict(Notification, values, ["dedupe_key"]) == 1


@cache
def rearm_statement(dialect: str, *taken: str):
    """Insert a row, or on its dedupe key bring back up to date the one still pending and untried,
    or cancelled (valid again: a session deleted, a plan resumed, consent given again): its due
    time, payload and the `taken` columns from the new row, pending again. Sent and failed rows
    are history; rows written at once on one key leave one row (the last to commit wins)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Notification.__table__)
    table = Notification.__table__
    return stmt.on_conflict_do_update(
        index_elements=["dedupe_key"],
        set_={"due_at": stmt.excluded.due_at, "payload": stmt.excluded.payload, "status": "pending",
              **{name: stmt.excluded[name] for name in taken}},
        where=or_(table.c.status == "cancelled", and_(table.c.status == "pending", table.c.attempts == 0)))


_CANCEL_FILTERS = {"dedupe_keys": "dedupe_key", "occurrence_keys": "occurrence_key", "patient_id": "patient_id",
                   "kinds": "kind", "recipient_user_ids": "recipient_user_id"}
_ONE_VALUE = ("patient_id",)  # the filter of one value; the others take several


@cache
def _cancel_statement(filters: tuple):
    """Built once per combination of filters (name, one value or several): a session write
    cancels on every PUT."""
    # On the table: a Core UPDATE skips the ORM's bulk-update steps (it never synchronised
    # loaded rows anyway). A filter of one value is an equality, not an expanding IN, whose
    # statement is rewritten on every execution.
    notifications = Notification.__table__
    stmt = update(notifications).where(notifications.c.status == "pending")
    for name, single in filters:
        column = notifications.c[_CANCEL_FILTERS[name]]
        # Named apart from the columns: an UPDATE keeps a column's own name for its SET value.
        stmt = stmt.where(column == bindparam(f"by_{name}") if single
                          else column.in_(bindparam(f"by_{name}", expanding=True)))
    return stmt.values(status="cancelled")


def cancel_pending(*, dedupe_keys=None, patient_id=None, kinds=None, occurrence_keys=None, recipient_user_ids=None,
                   now=None, connection=None) -> int:
    """Cancel pending rows matching every filter given (at least one); returns how many.
    Rows already sending, sent or failed are history and stay as they are. connection: the
    transaction's, when the caller has it (a session write), else it is looked up."""
    stmt, params = cancel_statement(dedupe_keys=dedupe_keys, patient_id=patient_id, kinds=kinds,
                                    occurrence_keys=occurrence_keys, recipient_user_ids=recipient_user_ids)
    # On the transaction's connection, after the flush an ORM statement would do.
    runner = connection if connection is not None else transaction_connection()
    return runner.execute(stmt, params).rowcount


def cancel_statement(*, dedupe_keys=None, patient_id=None, kinds=None, occurrence_keys=None,
                     recipient_user_ids=None) -> tuple:
    """(statement, parameters) of cancel_pending, for a caller that runs it within a statement of
    its own (a session's insert: app.sessions.signals.write_with_create)."""
    given = {"dedupe_keys": dedupe_keys, "occurrence_keys": occurrence_keys, "patient_id": patient_id,
             "kinds": kinds, "recipient_user_ids": recipient_user_ids}
    given = {name: value if name in _ONE_VALUE else list(value) for name, value in given.items()
             if value is not None}
    if not given:
        raise ValueError("cancel_pending needs a filter")
    filters = tuple((name, name in _ONE_VALUE or len(value) == 1) for name, value in given.items())
    params = {f"by_{name}": value[0] if single and name not in _ONE_VALUE else value
              for (name, single), value in zip(filters, given.values())}
    return _cancel_statement(filters), params
