"""The one row of a request's write (the access policy's), as values: inserted at once by
service.record_at_once, or by its caller within a statement the write runs anyway (on
PostgreSQL a data-modifying WITH of it: one round trip fewer on every session PUT)."""
import uuid
from functools import cache

from sqlalchemy import bindparam, insert

from app.audit.models import AuditEvent
from app.audit.origin import current_origin
from app.common.types import utcnow

CARRIED_PREFIX = "audit_"


def write_row(action: str, actor=None, *, patient_id=None, resource_id=None, detail=None) -> dict:
    """The row's values; the request counts as recorded (the hook adds no "write" row of its own)."""
    role = getattr(actor, "role", None)
    values = {"id": uuid.uuid4(), "at": utcnow(), "action": action, "actor_id": getattr(actor, "id", None),
              "actor_role": role, "actor_name": getattr(actor, "name", None) if role == "system" else None,
              "patient_id": patient_id, "resource_id": str(resource_id)[:64] if resource_id else None,
              "detail": detail, "method": None, "route": None, "request_id": None, "client_address": None}
    origin = current_origin()
    if origin is not None:
        origin.recorded = True
        values.update(method=origin.method, route=origin.route, request_id=origin.request_id,
                      client_address=origin.client_address)
    return values


@cache
def insert_statement():
    # Built once: every write request runs it.
    return insert(AuditEvent.__table__)


def insert_row(row: dict, connection) -> None:
    """A write_row by itself, on the transaction's connection (the session's execute steps cost
    more than the INSERT itself)."""
    connection.execute(insert_statement(), row)


@cache
def carried_insert():
    """The INSERT of one write_row within another statement: its parameters are named
    CARRIED_PREFIX + column (carried_params), apart from that statement's."""
    events = AuditEvent.__table__
    return insert(events).values({c.key: bindparam(CARRIED_PREFIX + c.key, type_=c.type) for c in events.columns})


def carried_params(row: dict) -> dict:
    return {CARRIED_PREFIX + key: value for key, value in row.items()}
