"""The request side of the audit trail: which request an event happens under, the row for a
write that recorded nothing itself, and writing the reads after the response is built."""
from flask import g, request

from app.audit import origin, service
from app.errors import route_of
from app.extensions import db

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def register_audit_hooks(app) -> None:
    @app.before_request
    def _origin():
        req, state = request._get_current_object(), g._get_current_object()
        state.audit_origin_token = origin.set_origin(origin.Origin(
            # an unrouted path masked as in the access log: it may hold an e-mail or an id
            method=req.method, route=route_of(req),
            request_id=getattr(state, "request_id", None),
            client_address=(req.remote_addr or "")[:45] or None))

    @app.after_request
    def _complete(response):
        current = origin.current_origin()
        if response.status_code >= 400:
            service.discard_reads()  # nothing was shown
            return response
        if current is not None and not current.recorded and current.method in WRITE_METHODS:
            service.record("write", g.get("actor"))
            db.session.commit()
        service.flush_reads()
        return response

    @app.teardown_request
    def _forget(_exc):
        token = g._get_current_object().__dict__.pop("audit_origin_token", None)
        if token is not None:
            origin.reset_origin(token)

    @app.teardown_appcontext
    def _flush_outside_requests(exc):
        # A job or CLI command that read patients' data: its read rows are written when its
        # app context ends (requests have written theirs already).
        if exc is None:
            service.flush_reads()
