"""The caseload: every patient of the coordinator, riskiest first (the caseload API's service,
its filters and its pages), each row with a 12-week adherence sparkline."""
from flask import render_template
from marshmallow import EXCLUDE

from app.common.types import utcnow
from app.console import charts, figures, identity
from app.console.blueprint import bp
from app.console.i18n import page_language
from app.console.pages.query import load_args, pager
from app.coordinator import service as coordinator
from app.coordinator.caseload import SORTS
from app.coordinator.schemas import CaseloadArgs
from app.rules import service as rules
from app.rules.definitions import SEVERITIES

ADHERENCE_BELOW = (0.25, 0.5, 0.6, 0.75, 0.8, 0.9)
FILTERS = ("severity", "rule", "adherence_below", "no_session_since", "overdue", "q")


def _sparklines(rows, now, loaded=None) -> dict:
    rates = figures.sparkline_rates(identity.current_actor(), [r["patient"]["id"] for r in rows], now, loaded=loaded)
    return {pid: charts.sparkline(series, label=name, id=f"spark-{pid}")
            for pid, series, name in ((r["patient"]["id"], rates.get(r["patient"]["id"], []),
                                       r["patient"]["display_name"]) for r in rows)}


@bp.route("/", methods=["GET"])
@identity.staff_page
def caseload():
    actor = identity.current_actor()
    if actor.role != "coordinator":
        return render_template("console/caseload.html", coordinator=False)
    args = load_args(CaseloadArgs(unknown=EXCLUDE), ("severity", "rule"))
    now = utcnow()
    kept: dict = {}  # the rows' read of the sessions, long enough for the sparklines too
    page = coordinator.caseload_page(actor, args, now, figures.sparkline_days(), kept)
    below = sorted(set(ADHERENCE_BELOW) | ({args["adherence_below"]} if "adherence_below" in args else set()))
    return render_template(
        "console/caseload.html", coordinator=True, page=page, args=args, **pager(page),
        filtered=any(args.get(key) not in (None, []) for key in FILTERS), sparklines=_sparklines(page.items, now, kept.get("history")),
        severities=SEVERITIES[::-1], sorts=SORTS, below_choices=below,
        rule_choices=[(r["id"], r["title"]) for r in rules.rules_view(actor, page_language()).items])
