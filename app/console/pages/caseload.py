"""The caseload: every patient of the coordinator, riskiest first (the caseload API's service)."""
from flask import render_template, request
from marshmallow import EXCLUDE, ValidationError

from app.common.types import utcnow
from app.console import identity
from app.console.blueprint import bp
from app.coordinator import service as coordinator
from app.coordinator.schemas import CaseloadArgs
from app.errors import ApiError


def _args() -> dict:
    raw = {key: (request.args.getlist(key) if key in ("severity", "rule") else value)
           for key, value in request.args.items() if value != ""}
    try:
        return CaseloadArgs(unknown=EXCLUDE).load(raw)
    except ValidationError as error:
        raise ApiError(400, "; ".join(f"{k}: {v[0] if isinstance(v, list) else v}"
                                      for k, v in error.messages.items())) from None


@bp.route("/", methods=["GET"])
@identity.staff_page
def caseload():
    args = _args()
    page = coordinator.caseload_page(identity.current_actor(), args, utcnow())
    return render_template("console/caseload.html", page=page, args=args)
