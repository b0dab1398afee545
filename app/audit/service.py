"""The audit trail. Rows are added to the caller's transaction, so a write and its audit
row commit or roll back together."""
from flask import g, has_request_context, request

from app.audit.models import AuditEvent
from app.extensions import db

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def record(action: str, *, patient_id=None, resource_id=None, detail=None, actor=None) -> AuditEvent:
    actor = actor or (g.get("actor") if has_request_context() else None)
    event = AuditEvent(
        action=action,
        actor_id=actor.id if actor else None,
        actor_role=actor.role if actor else None,
        patient_id=patient_id,
        resource_id=str(resource_id) if resource_id else None,
        detail=detail,
    )
    if has_request_context():
        event.method = request.method
        event.route = request.url_rule.rule if request.url_rule else request.path[:200]
        event.request_id = g.get("request_id")
        g.audit_recorded = True
    db.session.add(event)
    return event


def record_access(actor, patient_id) -> None:
    """Called by the access policy for every patient-scoped request it allows."""
    if request.method in WRITE_METHODS:
        record("write", patient_id=patient_id, resource_id=_resource_id(), actor=actor)
    elif actor.patient_id != patient_id:
        record("read", patient_id=patient_id, resource_id=_resource_id(), actor=actor)


def _resource_id():
    args = request.view_args or {}
    for key, value in args.items():
        if key != "patient_id" and key.endswith("_id"):
            return value
    return None


def register_audit_hooks(app):
    @app.after_request
    def _flush_audit(response):
        # Reads have no commit of their own: keep their audit rows when the read succeeded.
        # A successful write whose service recorded nothing still leaves a row.
        if response.status_code < 400:
            if request.method in WRITE_METHODS and not g.get("audit_recorded"):
                record("write")
            if any(isinstance(obj, AuditEvent) for obj in db.session.new):
                db.session.commit()
        return response


def list_events(patient_id=None, actor_id=None, action=None):
    stmt = db.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id)
    if patient_id:
        stmt = stmt.where(AuditEvent.patient_id == patient_id)
    if actor_id:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return stmt
