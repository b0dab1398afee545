"""The audit trail, callable anywhere (routes, CLI, jobs).

A write's rows go into the caller's transaction, so the write and its audit row commit or
roll back together. A read by someone else is kept aside (`record_read`) and written after
the read, in its own short write transaction (`flush_reads`): a read transaction never turns
into a write (on SQLite under WAL that fails with "database is locked" while others write),
and a read never fails because of its audit row. Where a request is being served, the
request hook (app/audit/hooks.py, through app/audit/origin.py) provides its route, method,
request id and client address.
"""
import logging

from sqlalchemy.exc import SQLAlchemyError

from app.audit import rows
from app.audit.models import AuditEvent
from app.audit.origin import current_origin
from app.common.db import transaction_connection, writing
from app.extensions import db

log = logging.getLogger("standstrong.audit")
_PENDING_READS = "standstrong.audit.pending_reads"


def _event(action: str, actor, patient_id, resource_id, detail) -> AuditEvent:
    role = getattr(actor, "role", None)
    event = AuditEvent(
        action=action,
        actor_id=getattr(actor, "id", None),
        actor_role=role,
        actor_name=getattr(actor, "name", None) if role == "system" else None,
        patient_id=patient_id,
        resource_id=str(resource_id)[:64] if resource_id else None,
        detail=detail,
    )
    origin = current_origin()
    if origin is not None:
        event.method = origin.method
        event.route = origin.route
        event.request_id = origin.request_id
        event.client_address = origin.client_address
    return event


def record(action: str, actor=None, *, patient_id=None, resource_id=None, detail=None) -> AuditEvent:
    """A row in the caller's transaction (the caller commits). actor: an account, a
    SystemActor, or None (nobody logged in). Many rows in one unit of work (a sweep) are
    written together when it flushes; one row for the request's write: record_at_once."""
    event = _event(action, actor, patient_id, resource_id, detail)
    origin = current_origin()
    if origin is not None:
        origin.recorded = True
    db.session.add(event)
    return event


def record_at_once(action: str, actor=None, *, patient_id=None, resource_id=None, detail=None) -> None:
    """As record, inserted at once by one Core INSERT: no ORM object, so no unit-of-work flush
    for it. For the one row of a request's write (the access policy's, on every write); a job
    that records many rows uses record, whose rows are inserted together. (app/audit/rows.py
    has the row for a caller that inserts it within a statement of its own.)"""
    # On the transaction's connection (after the flush an ORM statement would do).
    rows.insert_row(rows.write_row(action, actor, patient_id=patient_id, resource_id=resource_id, detail=detail),
                    transaction_connection())


def nothing_written() -> None:
    """This write request changed nothing (a console form refused before any service ran), so
    the request hook adds no "write" row for it, as for a refused API write."""
    origin = current_origin()
    if origin is not None:
        origin.recorded = True


def record_read(actor, patient_id, *, resource_id=None, detail=None) -> None:
    """A read of a patient's data by someone else, written by flush_reads after the read. The
    same read twice in one request (a page built from several services) is one row."""
    event = _event("read", actor, patient_id, resource_id, detail)
    key = (event.actor_id, event.actor_role, event.patient_id, event.resource_id, event.detail)
    db.session.info.setdefault(_PENDING_READS, {}).setdefault(key, event)


def _pending_reads():
    # A request that opened no session (e.g. /healthz) has none: do not create one to find out.
    session = db.opened_session()
    if session is None:
        return None
    pending = session.info.pop(_PENDING_READS, None)
    return list(pending.values()) if pending else None


def discard_reads() -> None:
    _pending_reads()


def flush_reads() -> None:
    """Write the kept-aside read rows in their own short write transaction. Ends the current
    (read) transaction first. Never raises: the read has been served."""
    pending = _pending_reads()
    if not pending:
        return
    try:
        db.session.commit()
        with writing():
            db.session.add_all(pending)
            db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.error("could not write %d read audit rows: %s", len(pending), type(error).__name__)


def list_events(patient_id=None, actor_id=None, action=None):
    stmt = db.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id)
    if patient_id:
        stmt = stmt.where(AuditEvent.patient_id == patient_id)
    if actor_id:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return stmt
