"""A flag's evidence (the numbers its rule found, app/rules/evaluators.py) as labelled values a
coordinator reads: dates in the page's language, rates as percentages, symptoms and sites by
name. Internal ids are left out; a key this module does not know is shown as it is."""
from flask_babel import (
    format_decimal,
    format_percent,
    ngettext,
)
from flask_babel import gettext as _

from app.common.i18n import long_date, named_in
from app.dxa.content import site_on_side
from app.exercises.kinds import kind_name
from app.medications.catalogue import medicines
from app.rules.definitions import DATE_KEYS
from app.sessions import content

HIDDEN = frozenset({"session_id", "session_ids", "followup_id", "treatment_id", "site_names", "rate_pct",
                    "baseline_pct", "below_pct", "date_to"})


def _labels() -> dict:
    return {
        "days": _("Days without a session"), "last_session_date": _("Last session"), "as_of": _("As of"),
        "plan_start": _("Plan start"), "days_since_start": _("Days since the plan started"),
        "window_days": _("Window"), "date_from": _("Period"), "expected": _("Sessions due"),
        "completed": _("Sessions done"), "rate": _("Session rate"), "baseline": _("Usual rate before"),
        "baseline_weeks": _("Weeks the usual rate covers"), "days_with_data": _("Days with a session logged"),
        "local_date": _("Session date"), "symptoms": _("Answers"), "sessions": _("Sessions with these answers"),
        "count": _("Painful sessions"), "dates": _("Dates"), "max_pain": _("Highest pain (0–10)"),
        "due_date": _("Due on"), "days_overdue": _("Days overdue"), "kind": _("Scan"), "sites": _("Sites"),
        "exercise_kinds": _("Loading exercises in the plan"), "lowest_bmd": _("Lowest BMD"),
        "medicine": _("Medicine"), "last_dose_on": _("Last dose"), "next_due_on": _("Next dose due"),
    }


def _scan_kind(kind: str) -> str:
    return {"baseline": _("baseline scan"), "repeat": _("repeat scan"), "interval": _("interval scan")}.get(kind, kind)


def _site(entry: dict, language: str) -> str:
    name = _site_name(entry, language)
    text = _("%(site)s: %(bmd)s g/cm² on %(date)s", site=name, bmd=format_decimal(entry.get("bmd", 0), "0.000"),
             date=long_date(entry.get("scan_date", ""), language))
    if entry.get("percent") is not None:
        text += " " + _("(%(percent)s %% since the scan of %(date)s)", percent=format_decimal(entry["percent"], "+0.0;-0.0"),
                        date=long_date(entry.get("previous_scan_date") or "", language))
    return text


def _value(key: str, value, evidence: dict, language: str) -> str:
    if value is None:
        return "—"
    if key == "date_from":
        return _("%(start)s to %(end)s", start=long_date(value, language),
                 end=long_date(evidence.get("date_to", value), language))
    if key in DATE_KEYS:
        return long_date(value, language)
    if key in ("rate", "baseline"):
        return format_percent(value)
    if key in ("window_days", "days", "days_since_start", "days_overdue"):
        return ngettext("%(num)d day", "%(num)d days", int(value))
    if key == "baseline_weeks":
        return ngettext("%(num)d week", "%(num)d weeks", int(value))
    if key == "symptoms":
        names = content.symptom_names(language)
        return "; ".join(names.get(code, code) for code in value) or "—"
    if key == "dates":
        return ", ".join(long_date(d, language) for d in value)
    if key == "kind":
        return _scan_kind(value)
    if key == "medicine":
        return _medicine(value, language)
    if key == "exercise_kinds":
        return ", ".join(kind_name(k, language) for k in value)
    if key == "sites":
        return "; ".join(_site(e, language) for e in value)
    if key == "lowest_bmd":
        return _("%(bmd)s g/cm²", bmd=format_decimal(value, "0.000"))
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def rows(evidence: dict | None, language: str) -> list[tuple[str, str]]:
    """[(label, value)] in the order the rule wrote them."""
    labels = _labels()
    return [(labels.get(key, key.replace("_", " ")), _value(key, value, evidence, language))
            for key, value in (evidence or {}).items() if key not in HIDDEN]


def _medicine(code: str, language: str) -> str:
    return named_in((medicines().get(code) or {}).get("name"), language, code)


def _site_name(entry: dict, language: str) -> str:
    return site_on_side(entry.get("site", ""), entry.get("side"), language)
