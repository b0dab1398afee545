"""One function per kind of rule: (rule, PatientFacts) -> Finding or None. Pure: no database.

Windows end yesterday (the last complete patient-local days), so a session not yet done
today never counts against the patient. What a window holds (sessions expected, completed,
days with data) is adherence's count (facts.metrics: adherence.window_metrics), never the
rules' own. A rule's parameters come from its seed entry.
Adding a rule of a new kind is a seed entry plus a function registered here.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

SEVERITY_ORDER = {"info": 0, "warning": 1, "urgent": 2}


@dataclass(frozen=True)
class Finding:
    severity: str
    evidence: dict
    event_at: datetime | None = None  # on-write rules: when the latest triggering record was written


EVALUATORS = {}
NEEDS: dict[str, tuple] = {}  # evaluator -> the extra facts it reads (app/rules/facts.py EXTRAS)
TRIGGERS: dict = {}  # evaluator -> triggered_by (see evaluator)


def evaluator(name, needs: tuple = (), triggered_by=None):
    """triggered_by(rule, session): whether a written session can change what an on_write rule
    finds (None: any can); a session no rule is triggered by skips the on-write run."""
    def register(func):
        EVALUATORS[name] = func
        NEEDS[name] = needs
        if triggered_by:
            TRIGGERS[name] = triggered_by
        return func
    return register


def triggered(rule, session) -> bool:
    return TRIGGERS.get(rule.evaluator, lambda _rule, _session: True)(rule, session)


def _pct(rate) -> int | None:
    return None if rate is None else round(rate * 100)


def _plan_start(facts):
    return min(s.start_date for s in facts.active)


def _last_resumed(facts):
    """The day after the latest pause of an active plan ended, if one did."""
    ends = [end for s in facts.active for _start, end in s.pauses if end is not None and end < facts.today]
    return max(ends) if ends else None


@evaluator("no_session")
def no_session(rule, facts):
    if not facts.active:
        return None
    p = rule.parameters
    start = _plan_start(facts)
    last = facts.last_session_date
    if last is None or last < start:
        return None  # never started: its own rule
    since = max(last, _last_resumed(facts) or last)
    days = (facts.today - since).days
    if days < p["warning_days"]:
        return None
    severity = "urgent" if days >= p["urgent_days"] else "warning"
    return Finding(severity, {"days": days, "last_session_date": last.isoformat(), "as_of": facts.today.isoformat()})


@evaluator("never_started")
def never_started(rule, facts):
    if not facts.active:
        return None
    start = _plan_start(facts)
    days = (facts.today - start).days
    last = facts.last_session_date
    if days < rule.parameters["days"] or (last is not None and last >= start):
        return None
    return Finding(rule.severity, {"plan_start": start.isoformat(), "days_since_start": days,
                                   "as_of": facts.today.isoformat()})


def _window_metrics(facts, start, end):
    return facts.metrics(start, end)


@evaluator("session_rate")
def session_rate(rule, facts):
    if not facts.active:
        return None
    p = rule.parameters
    end = facts.today - timedelta(days=1)
    start = end - timedelta(days=p["window_days"] - 1)
    m = _window_metrics(facts, start, end)
    if m["expected_sessions"] < p["min_expected"] or m["session_rate"] >= p["below"]:
        return None
    return Finding(rule.severity, {
        "window_days": p["window_days"], "date_from": start.isoformat(), "date_to": end.isoformat(),
        "expected": m["expected_sessions"], "completed": m["completed_sessions"], "rate": m["session_rate"],
        "rate_pct": _pct(m["session_rate"]), "below_pct": _pct(p["below"])})


@evaluator("data_days")
def data_days(rule, facts):
    if not facts.active:
        return None
    p = rule.parameters
    end = facts.today - timedelta(days=1)
    start = end - timedelta(days=p["window_days"] - 1)
    if _plan_start(facts) > start:
        return None  # the plan has not run for a whole window yet
    days = _window_metrics(facts, start, end)["days_with_data"]
    if days >= p["below"]:
        return None
    return Finding(rule.severity, {"window_days": p["window_days"], "date_from": start.isoformat(),
                                   "date_to": end.isoformat(), "days_with_data": days})


@evaluator("falling_trend")
def falling_trend(rule, facts):
    if not facts.active:
        return None
    p = rule.parameters
    end = facts.today - timedelta(days=1)
    week = _window_metrics(facts, end - timedelta(days=6), end)
    if week["expected_sessions"] < p["min_expected"]:
        return None
    if _plan_start(facts) > end - timedelta(days=7 * (p["baseline_weeks"] + 1) - 1):
        return None  # the plan has not run through the whole baseline yet
    rates = []
    for n in range(1, p["baseline_weeks"] + 1):
        block_end = end - timedelta(days=7 * n)
        block = _window_metrics(facts, block_end - timedelta(days=6), block_end)
        if not block["expected_sessions"]:
            return None  # nothing was due in a baseline week (paused): no baseline to compare with
        rates.append(block["session_rate"])
    baseline = sum(rates) / len(rates)
    if baseline - week["session_rate"] < p["drop"] - 1e-9:
        return None
    return Finding(rule.severity, {
        "date_from": (end - timedelta(days=6)).isoformat(), "date_to": end.isoformat(),
        "rate": week["session_rate"], "rate_pct": _pct(week["session_rate"]),
        "baseline": round(baseline, 4), "baseline_pct": _pct(baseline), "baseline_weeks": p["baseline_weeks"],
        "expected": week["expected_sessions"], "completed": week["completed_sessions"]})


def _recent(facts, days):
    since = facts.today - timedelta(days=days - 1)
    return [s for s in facts.safety if s.local_date >= since]


def _session_finding(rule, matching):
    if not matching:
        return None
    latest = max(matching, key=lambda s: (s.updated_at, str(s.id)))
    return Finding(rule.severity, {
        "session_id": str(latest.id), "local_date": latest.local_date.isoformat(),
        "symptoms": list(latest.symptoms), "sessions": len(matching)}, event_at=latest.updated_at)


@evaluator("session_alert", triggered_by=lambda rule, s: bool(set(rule.parameters["alerts"]) & set(s.alerts or [])))
def session_alert(rule, facts):
    """A recent session whose safety answers include any of the rule's `alerts`."""
    alerts = set(rule.parameters["alerts"])
    return _session_finding(rule, [s for s in _recent(facts, rule.parameters["lookback_days"])
                                   if alerts & set(s.alerts)])


@evaluator("repeated_pain", triggered_by=lambda rule, s: s.pain is not None and s.pain >= rule.parameters["min_pain"])
def repeated_pain(rule, facts):
    p = rule.parameters
    painful = [s for s in _recent(facts, p["window_days"]) if s.pain is not None and s.pain >= p["min_pain"]]
    if len(painful) < p["times"]:
        return None
    painful.sort(key=lambda s: (s.local_date, s.updated_at))
    return Finding(rule.severity, {
        "count": len(painful), "dates": sorted({s.local_date.isoformat() for s in painful}),
        "max_pain": max(s.pain for s in painful), "session_ids": [str(s.id) for s in painful],
        "window_days": p["window_days"]}, event_at=max(s.updated_at for s in painful))


# --- bone: DXA results and follow-ups (app/dxa), bone medicines (app/medications) ----------

@evaluator("dxa_followup_overdue", needs=("dxa_overdue",))
def dxa_followup_overdue(rule, facts):
    late = [f for f in facts.extra.get("dxa_overdue", []) if f["days_overdue"] > rule.parameters["days"]]
    if not late:
        return None
    worst = max(late, key=lambda f: f["days_overdue"])
    return Finding(rule.severity, {"followup_id": str(worst["followup_id"]), "due_date": worst["due_date"].isoformat(),
                                   "days_overdue": worst["days_overdue"], "kind": worst["kind"]})


def _site_evidence(r) -> dict:
    change = r.get("change") or {}
    return {"site": r["site"], "side": r["side"], "scan_date": r["scan_date"].isoformat(), "bmd": r["bmd"],
            "delta_g_cm2": change.get("delta_g_cm2"), "percent": change.get("percent"),
            "lsc": (change.get("lsc") or {}).get("value"), "lsc_unit": (change.get("lsc") or {}).get("unit"),
            "previous_scan_date": change["previous_scan_date"].isoformat() if change.get("previous_scan_date") else None}


@evaluator("dxa_real_loss", needs=("dxa_latest",))
def dxa_real_loss(rule, facts):
    lost = [r for r in facts.extra.get("dxa_latest", []) if (r.get("change") or {}).get("judgement") == "real_loss"]
    if not lost:
        return None
    sites = sorted((_site_evidence(r) for r in lost), key=lambda e: (e["site"], e["side"]))
    return Finding(rule.severity, {"sites": sites, "site_names": [f"{e['site']} ({e['side']})" for e in sites]})


@evaluator("knee_bmd_while_loading", needs=("dxa_latest", "exercise_kinds"))
def knee_bmd_while_loading(rule, facts):
    p = rule.parameters
    kinds = facts.extra.get("exercise_kinds", {})
    loading = sorted({kinds.get(item.exercise_id) for spec in facts.active
                      for item in spec.items_on(facts.today)} & set(p["exercise_kinds"]))
    low = [r for r in facts.extra.get("dxa_latest", []) if r["site"] in p["sites"] and r["high_fracture_risk"]]
    if not loading or not low:
        return None
    sites = sorted((_site_evidence(r) for r in low), key=lambda e: (e["site"], e["side"]))
    return Finding(rule.severity, {"sites": sites, "exercise_kinds": loading,
                                   "lowest_bmd": min(e["bmd"] for e in sites)})


@evaluator("dose_overdue", needs=("doses",))
def dose_overdue(rule, facts):
    """Warning once a dose is grace_days past due; urgent for a medicine listed in
    urgent_months_after_last_dose once that long has passed since its last dose."""
    p = rule.parameters
    found = []
    for d in facts.extra.get("doses", []):
        months = p["urgent_months_after_last_dose"].get(d["medicine"])
        if months and d["last_dose_on"] is not None and facts.today > _add_months(d["last_dose_on"], months):
            found.append(("urgent", d))
        elif d["days_overdue"] > p["grace_days"]:
            found.append(("warning", d))
    if not found:
        return None
    severity, worst = max(found, key=lambda f: (SEVERITY_ORDER[f[0]], f[1]["days_overdue"]))
    return Finding(severity, {
        "medicine": worst["medicine"], "treatment_id": str(worst["treatment_id"]),
        "last_dose_on": worst["last_dose_on"].isoformat() if worst["last_dose_on"] else None,
        "next_due_on": worst["next_due_on"].isoformat(), "days_overdue": worst["days_overdue"]})


def _add_months(day, months: int):
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue


def lookback_days(rules) -> int:
    """How far back the on-write rules look (the facts loader reads that far)."""
    return max([r.parameters.get("lookback_days", r.parameters.get("window_days", 1)) for r in rules] or [1])


# How far back (days before today) each sweep evaluator reads adherence's windows.
_HISTORY = {
    "session_rate": lambda p: p["window_days"] + 1,
    "data_days": lambda p: p["window_days"] + 1,
    "falling_trend": lambda p: 7 * (p["baseline_weeks"] + 1) + 1,
}


def history_days(rules) -> int:
    """The sessions a sweep must load: the longest window of its rules (at least a week)."""
    return max([_HISTORY[r.evaluator](r.parameters) for r in rules if r.evaluator in _HISTORY] or [8])
