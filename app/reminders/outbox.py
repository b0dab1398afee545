"""The outbox's write side for every domain: enqueue (insert-if-absent) and cancel (pending only)."""
from sqlalchemy import update

from app.common.db import insert_ignoring_conflict
from app.extensions import db
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


def cancel_pending(*, dedupe_keys=None, patient_id=None, kinds=None, occurrence_keys=None, now=None) -> int:
    """Cancel pending rows matching every filter given (at least one); returns how many.
    Rows already sending, sent or failed are history and stay as they are."""
    if dedupe_keys is None and patient_id is None and kinds is None and occurrence_keys is None:
        raise ValueError("cancel_pending needs a filter")
    stmt = update(Notification).where(Notification.status == "pending")
    if dedupe_keys is not None:
        stmt = stmt.where(Notification.dedupe_key.in_(list(dedupe_keys)))
    if occurrence_keys is not None:
        stmt = stmt.where(Notification.occurrence_key.in_(list(occurrence_keys)))
    if patient_id is not None:
        stmt = stmt.where(Notification.patient_id == patient_id)
    if kinds is not None:
        stmt = stmt.where(Notification.kind.in_(list(kinds)))
    return db.session.execute(stmt.values(status="cancelled").execution_options(synchronize_session=False)).rowcount
