"""A patient's timeline: sessions, plan changes, flags, contacts, DXA results and doses in one
ordered, paginated list. One UNION query for the page, then one query per kind for the page's rows."""
from sqlalchemy import false, literal, select, union_all

from app.coordinator import bone
from app.coordinator.models import ContactLog
from app.extensions import db
from app.plans.models import Plan, PlanPause, PlanVersion
from app.rules.models import Flag
from app.sessions.models import ExerciseSession

KINDS = ("session", "plan_version", "plan_paused", "plan_resumed", "flag_opened", "flag_resolved", "contact",
         "dxa_result", "dose")


def _entry(at, kind: str, ref):
    return select(at.label("at"), literal(kind).label("kind"), ref.label("ref"))


def _entries(patient_id, kinds):
    parts = {
        "session": _entry(ExerciseSession.started_at, "session", ExerciseSession.id).where(ExerciseSession.patient_id == patient_id,
                                                                  ExerciseSession.deleted_at.is_(None)),
        "plan_version": _entry(PlanVersion.created_at, "plan_version", PlanVersion.id)
        .join(Plan, Plan.id == PlanVersion.plan_id).where(Plan.patient_id == patient_id),
        "plan_paused": _entry(PlanPause.created_at, "plan_paused", PlanPause.id)
        .join(Plan, Plan.id == PlanPause.plan_id).where(Plan.patient_id == patient_id),
        "plan_resumed": _entry(PlanPause.resumed_at, "plan_resumed", PlanPause.id)
        .join(Plan, Plan.id == PlanPause.plan_id).where(Plan.patient_id == patient_id,
                                                         PlanPause.resumed_at.is_not(None)),
        "flag_opened": _entry(Flag.opened_at, "flag_opened", Flag.id).where(Flag.patient_id == patient_id),
        "flag_resolved": _entry(Flag.resolved_at, "flag_resolved", Flag.id)
        .where(Flag.patient_id == patient_id, Flag.resolved_at.is_not(None)),
        "contact": _entry(ContactLog.contacted_at, "contact", ContactLog.id)
        .where(ContactLog.patient_id == patient_id),
        **bone.timeline_parts(patient_id, _entry),
    }
    chosen = [parts[k] for k in dict.fromkeys(kinds) if k in parts]
    if not chosen:  # only kinds of a domain not installed: nothing
        return parts["session"].where(false())
    return union_all(*chosen)


def statement(patient_id, kinds=None, oldest_first=False):
    entries = _entries(patient_id, kinds or KINDS).subquery()
    order = (entries.c.at.asc(), entries.c.ref.asc()) if oldest_first else (entries.c.at.desc(), entries.c.ref.desc())
    return select(entries.c.at, entries.c.kind, entries.c.ref).order_by(*order)


def details(rows, flag_view, session_view) -> list[dict]:
    """The page's rows with what each is about (one query per kind present)."""
    wanted: dict = {}
    for row in rows:
        wanted.setdefault(row.kind, set()).add(row.ref)
    loaded: dict = {}
    if "session" in wanted:
        loaded["session"] = {s.id: s for s in db.session.scalars(
            select(ExerciseSession).where(ExerciseSession.id.in_(wanted["session"])))}
    if "plan_version" in wanted:
        loaded["plan_version"] = {v.id: v for v in db.session.scalars(
            select(PlanVersion).where(PlanVersion.id.in_(wanted["plan_version"])))}
    pauses = wanted.get("plan_paused", set()) | wanted.get("plan_resumed", set())
    if pauses:
        loaded["pause"] = {p.id: p for p in db.session.scalars(select(PlanPause).where(PlanPause.id.in_(pauses)))}
    flags = wanted.get("flag_opened", set()) | wanted.get("flag_resolved", set())
    if flags:
        loaded["flag"] = {f.id: f for f in db.session.scalars(select(Flag).where(Flag.id.in_(flags)))}
    if "contact" in wanted:
        loaded["contact"] = {c.id: c for c in db.session.scalars(
            select(ContactLog).where(ContactLog.id.in_(wanted["contact"])))}
    for kind in ("dxa_result", "dose"):
        if kind in wanted:
            loaded[kind] = bone.timeline_details(kind, wanted[kind])
    out = []
    for row in rows:
        entry = {"at": row.at, "kind": row.kind, "id": row.ref}
        if row.kind == "session":
            entry["session"] = session_view(loaded["session"][row.ref])
        elif row.kind == "plan_version":
            v = loaded["plan_version"][row.ref]
            entry["plan"] = {"plan_id": v.plan_id, "version": v.number, "effective_from": v.effective_from,
                             "change_note": v.change_note}
        elif row.kind in ("plan_paused", "plan_resumed"):
            p = loaded["pause"][row.ref]
            entry["plan"] = {"plan_id": p.plan_id, "pause_start": p.start_date, "pause_end": p.end_date,
                             "reason": p.reason}
        elif row.kind in ("flag_opened", "flag_resolved"):
            entry["flag"] = flag_view(loaded["flag"][row.ref])
        elif row.kind in ("dxa_result", "dose"):
            entry[row.kind] = loaded[row.kind][row.ref]
        else:
            c = loaded["contact"][row.ref]
            entry["contact"] = contact_view(c)
        out.append(entry)
    return out


def contact_view(c: ContactLog) -> dict:
    return {"id": c.id, "patient_id": c.patient_id, "coordinator_id": c.coordinator_id, "flag_id": c.flag_id,
            "channel": c.channel, "outcome": c.outcome, "note": c.note, "contacted_at": c.contacted_at,
            "follow_up_on": c.follow_up_on, "created_at": c.created_at}
