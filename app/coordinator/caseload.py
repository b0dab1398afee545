"""The caseload: every patient of a coordinator with adherence, last session, open flags and
follow-ups, sorted by risk and filtered. A fixed number of queries whatever its size."""
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from app.adherence import service as adherence
from app.access.policy import readable_patient_ids
from app.common.batches import collector_paused
from app.common.clock import local_date
from app.coordinator import bone
from app.coordinator.models import ContactLog
from app.extensions import db
from app.patients.models import Patient
from app.rules.models import ACTIVE, Flag

SEVERITIES = ("urgent", "warning", "info")
SORTS = ("risk", "name", "last_session", "adherence_7", "adherence_30")


def _rate(metrics: dict) -> dict:
    return {"rate": metrics["session_rate"], "expected": metrics["expected_sessions"],
            "completed": metrics["completed_sessions"]}


def _flags(ids) -> dict:
    out: dict = {}
    rows = db.session.execute(select(Flag.patient_id, Flag.rule_id, Flag.severity)
                              .where(Flag.patient_id.in_(ids), Flag.status.in_(ACTIVE)))
    for pid, rule_id, severity in rows:
        entry = out.setdefault(pid, {"counts": dict.fromkeys(SEVERITIES, 0), "rules": set()})
        entry["counts"][severity] += 1
        entry["rules"].add(rule_id)
    return out


def _latest_contacts(ids, *where) -> dict:
    """{patient_id: (id, contacted_at, follow_up_on) of their latest contact matching where}."""
    ranked = (select(ContactLog.patient_id, ContactLog.id, ContactLog.contacted_at, ContactLog.follow_up_on,
                     func.row_number().over(partition_by=ContactLog.patient_id,
                                            order_by=(ContactLog.contacted_at.desc(), ContactLog.id.desc())
                                            ).label("rank"))
              .where(ContactLog.patient_id.in_(ids), *where).subquery())
    return {row.patient_id: (row.id, row.contacted_at, row.follow_up_on) for row in db.session.execute(
        select(ranked.c.patient_id, ranked.c.id, ranked.c.contacted_at, ranked.c.follow_up_on)
        .where(ranked.c.rank == 1))}


def _follow_ups(ids, time_zones: dict) -> dict:
    """{patient_id: the follow-up date of the latest contact that set one}, unless a later
    contact was made on or after that date (the patient's local date): that contact answered it,
    and the follow-up ends (logging another follow-up date sets the next one)."""
    latest, setting = _latest_contacts(ids), _latest_contacts(ids, ContactLog.follow_up_on.is_not(None))
    out = {}
    for pid, (contact_id, _, follow_up_on) in setting.items():
        last_id, last_at, _ = latest[pid]
        if last_id != contact_id and local_date(last_at, time_zones[pid]) >= follow_up_on:
            continue
        out[pid] = follow_up_on
    return out


def rows(actor, now: datetime) -> list[dict]:
    """Every patient of the caseload with what is cheap to know (flags, last session,
    follow-ups, DXA and dose due dates), unsorted: a fixed number of queries."""
    patients = db.session.execute(select(Patient.id, Patient.display_name, Patient.neurological_level,
                                         Patient.time_zone, Patient.language)
                                  .where(Patient.id.in_(readable_patient_ids(actor)))).all()
    ids = [p.id for p in patients]
    if not ids:
        return []
    time_zones = {p.id: p.time_zone for p in patients}
    flags, follow_ups = _flags(ids), _follow_ups(ids, time_zones)
    last = adherence.last_session_at_many(ids, now)
    bone_due = bone.due(ids, now, time_zones)
    out = []
    for p in patients:
        today = local_date(now, p.time_zone)
        flag = flags.get(p.id, {"counts": dict.fromkeys(SEVERITIES, 0), "rules": set()})
        follow_up = follow_ups.get(p.id)
        out.append({
            "patient": {"id": p.id, "display_name": p.display_name, "neurological_level": p.neurological_level,
                        "time_zone": p.time_zone, "language": p.language},
            "today": today,
            "last_session_at": last.get(p.id),
            "last_session_date": local_date(last[p.id], p.time_zone) if p.id in last else None,
            "open_flags": {**flag["counts"], "total": sum(flag["counts"].values())},
            "open_flag_rules": sorted(flag["rules"]),
            "next_follow_up_on": follow_up,
            "follow_up_overdue": follow_up is not None and follow_up < today,
            **bone_due[p.id],
        })
    return out


ROW_WINDOW_DAYS = 30  # the longest window a row shows


def add_adherence(rows: list[dict], now: datetime, history_days: int = ROW_WINDOW_DAYS,
                  kept: dict | None = None) -> list[dict]:
    """7- and 30-day adherence, days with data and plan status for these rows, as the adherence
    service counts them (history_many: a fixed number of queries), in place. history_days: how
    far back the sessions are read (at least the 30 days the rows need); kept: a dict that
    receives the read as kept["history"] = (todays, History), for a caller that draws more of
    it (the console's sparklines) without reading it again."""
    if not rows:
        return rows
    with collector_paused():
        loaded = _add_adherence(rows, now, max(history_days, ROW_WINDOW_DAYS))
    if kept is not None:
        kept["history"] = loaded
    return rows


def _add_adherence(rows: list[dict], now: datetime, history_days: int):
    todays, history = adherence.history_many([r["patient"]["id"] for r in rows], now, history_days)
    for r in rows:
        pid, today = r["patient"]["id"], r["today"]
        running = [s for s in history.specs.get(pid, []) if s.running_on(today)]
        r["plan_status"] = "none" if not running else (
            "paused" if all(s.paused_on(today) for s in running) else "active")
        last_30 = adherence.window_metrics(history, pid, today - timedelta(days=29), today, today)
        r["adherence_7"] = _rate(adherence.window_metrics(history, pid, today - timedelta(days=6), today, today))
        r["adherence_30"] = _rate(last_30)
        r["days_with_data_last_30"] = last_30["days_with_data"]
        r["current_streak_days"] = last_30["current_streak_days"]
    return todays, history


def _keep(row: dict, args: dict) -> bool:
    """The filters that need no adherence."""
    if args.get("severity") and not any(row["open_flags"][s] for s in args["severity"]):
        return False
    if args.get("rule") and not set(args["rule"]) & set(row["open_flag_rules"]):
        return False
    since: date | None = args.get("no_session_since")
    if since is not None and row["last_session_date"] is not None and row["last_session_date"] >= since:
        return False
    if args.get("overdue") is not None and _overdue(row) != args["overdue"]:
        return False
    q = (args.get("q") or "").strip().lower()
    return not q or q in row["patient"]["display_name"].lower()


def _overdue(row: dict) -> bool:
    return row["follow_up_overdue"] or row["dxa_overdue"] or row["dose_overdue"]


def _none_last(value, descending=False):
    if value is None:
        return (1, 0)
    return (0, -value if descending else value)


def _sort_key(sort: str):
    if sort == "name":
        return lambda r: (r["patient"]["display_name"].lower(), str(r["patient"]["id"]))
    if sort == "last_session":  # longest without a session first; never logged first of all
        return lambda r: (r["last_session_at"] is not None, r["last_session_at"] or datetime.min,
                          str(r["patient"]["id"]))
    if sort in ("adherence_7", "adherence_30"):
        return lambda r: (_none_last(r[sort]["rate"]), str(r["patient"]["id"]))
    # risk: urgent, warning, info flags; anything overdue; the longest without a session
    return lambda r: (-r["open_flags"]["urgent"], -r["open_flags"]["warning"], -r["open_flags"]["info"],
                      not _overdue(r), r["last_session_at"] is not None, r["last_session_at"] or datetime.min,
                      r["patient"]["display_name"].lower(), str(r["patient"]["id"]))


def _below(row: dict, args: dict) -> bool:
    rate = row[f"adherence_{args.get('adherence_window', 30)}"]["rate"]
    return rate is not None and rate < args["adherence_below"]


def caseload(actor, args: dict, now: datetime, page: int | None = None, per_page: int | None = None,
             history_days: int = ROW_WINDOW_DAYS, history: dict | None = None):
    """(rows of the page, or all rows, in the order asked for; the total). Adherence is
    computed for the page only, unless a filter or the order needs it for every row.
    history_days, history: as add_adherence's (the read covers every row of the page)."""
    kept = [r for r in rows(actor, now) if _keep(r, args)]
    sort = args.get("sort", "risk")
    if args.get("adherence_below") is not None or sort.startswith("adherence") or page is None:
        kept = [r for r in add_adherence(kept, now, history_days, history)
                if args.get("adherence_below") is None or _below(r, args)]
        kept.sort(key=_sort_key(sort))
        return (kept if page is None else kept[(page - 1) * per_page: page * per_page]), len(kept)
    kept.sort(key=_sort_key(sort))
    return add_adherence(kept[(page - 1) * per_page: page * per_page], now, history_days, history), len(kept)
