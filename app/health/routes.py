import marshmallow as ma
from sqlalchemy import text

from app.errors import DATABASE_RETRY_AFTER_SECONDS, problem, retry_after
from app.extensions import Blueprint, db

blp = Blueprint("health", __name__, description="Liveness and readiness probes.")


class StatusSchema(ma.Schema):
    status = ma.fields.String()


@blp.route("/healthz", methods=["GET"])
@blp.response(200, StatusSchema)
def healthz():
    """The process is alive (touches nothing else)."""
    return {"status": "ok"}


@blp.route("/readyz", methods=["GET"])
@blp.response(200, StatusSchema)
def readyz():
    """The database answers; 503 problem+json when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any driver error means not ready
        db.session.rollback()
        return problem(503, "Service Unavailable", "The database is not reachable.",
                       headers=retry_after(DATABASE_RETRY_AFTER_SECONDS), type_slug="database-unavailable",
                       retry_after=DATABASE_RETRY_AFTER_SECONDS)
    return {"status": "ready"}
