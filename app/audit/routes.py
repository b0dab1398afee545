from app.audit import service
from app.audit.schemas import AuditEventSchema, AuditListArgs
from app.auth.service import auth_required
from app.common.pagination import page_of, paginate
from app.extensions import Blueprint

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit-events",
                description="The audit trail of reads and writes of patient data (admin only).")


@blp.route("", methods=["GET"])
@auth_required("admin")
@blp.arguments(AuditListArgs, location="query")
@blp.response(200, page_of(AuditEventSchema))
def list_events(args):
    """Newest first; filter by patient, actor or action."""
    stmt = service.list_events(args.get("patient_id"), args.get("actor_id"), args.get("action"))
    return paginate(stmt, args["page"], args["per_page"])
