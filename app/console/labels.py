"""The console's words for the API's codes (severities, statuses, outcomes, sorts), and the
helpers its list templates call: each in the page's language."""
from flask import request
from flask_babel import format_percent, ngettext
from flask_babel import gettext as _

from app.console.blueprint import bp
from app.console.i18n import page_date
from app.rules import engine

SEVERITY_ICONS = {"urgent": "▲", "warning": "●", "info": "ℹ"}


def severity_label(severity: str) -> str:
    return {"urgent": _("Urgent"), "warning": _("Warning"), "info": _("Information")}.get(severity, severity)


def flag_count(severity: str, count: int) -> str:
    if severity == "urgent":
        return ngettext("%(num)d urgent", "%(num)d urgent", count)
    if severity == "warning":
        return ngettext("%(num)d warning", "%(num)d warnings", count)
    return ngettext("%(num)d for information", "%(num)d for information", count)


def status_label(status: str) -> str:
    return {"open": _("New"), "acknowledged": _("Acknowledged"), "resolved": _("Resolved")}.get(status, status)


def outcome_label(outcome: str | None) -> str:
    return {"contacted_patient": _("Contacted the patient"), "plan_changed": _("Plan changed"),
            "referred": _("Referred"), "no_action_needed": _("No action needed"), "false_alarm": _("False alarm"),
            "other": _("Other"), engine.CLEARED: _("The condition cleared by itself"),
            engine.PAUSED: _("The plan was paused")}.get(outcome, outcome or "—")


def sort_label(sort: str) -> str:
    return {"risk": _("Riskiest first"), "name": _("Name"), "last_session": _("Longest without a session first"),
            "adherence_7": _("Lowest 7-day adherence first"),
            "adherence_30": _("Lowest 30-day adherence first")}.get(sort, sort)


def percent(rate) -> str:
    return "—" if rate is None else format_percent(rate)


@bp.app_context_processor
def _labels():
    if request.blueprint != "console":
        return {}
    return {"severity_label": severity_label, "severity_icons": SEVERITY_ICONS, "flag_count": flag_count,
            "status_label": status_label, "outcome_label": outcome_label, "sort_label": sort_label,
            "pct": percent, "long_date": page_date}
