"""The rules engine: evaluate rules for a batch of patients and move their flags.

Set-based: for a batch, the facts (a fixed number of queries), the latest flag of every
patient and rule (one query), then at most one bulk statement per kind of change (open,
update, resolve, audit). Never a query per patient.
"""
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from app.audit import service as audit
from app.common.actors import SystemActor
from app.extensions import db
from app.rules import facts as facts_loader
from app.rules.definitions import Rule
from app.rules.evaluators import EVALUATORS, NEEDS, SEVERITY_ORDER, history_days, lookback_days
from app.rules.models import ACTIVE, OPEN, RESOLVED, Flag, active_key

SYSTEM = "system:rules"
SYSTEM_ACTOR = SystemActor(SYSTEM)
PAUSED = "plan_paused"
CLEARED = "condition_cleared"


@dataclass
class Changes:
    """What one evaluation did, for the caller (counts) and for notifications."""

    opened: list = field(default_factory=list)     # flag dicts
    escalated: list = field(default_factory=list)  # flag dicts (now urgent, or a new urgent event)
    updated: int = 0
    resolved: int = 0

    def counts(self) -> dict:
        return {"opened": len(self.opened), "escalated": len(self.escalated), "updated": self.updated,
                "resolved": self.resolved}


def _latest_flags(patient_ids: list, rule_ids: list) -> dict:
    """{(patient_id, rule_id): the latest flag}, one query."""
    ranked = select(Flag, func.row_number().over(
        partition_by=(Flag.patient_id, Flag.rule_id), order_by=(Flag.opened_at.desc(), Flag.id.desc())
    ).label("rank")).where(Flag.patient_id.in_(patient_ids), Flag.rule_id.in_(rule_ids)).subquery()
    latest = aliased(Flag, ranked)
    rows = db.session.scalars(select(latest).where(ranked.c.rank == 1)).all()
    return {(f.patient_id, f.rule_id): f for f in rows}


@cache
def _insert_flags(dialect: str):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(Flag.__table__).on_conflict_do_nothing(index_elements=["active_key"]).returning(Flag.__table__.c.id)


@cache
def _update_statements():
    t = Flag.__table__
    active = t.c.active_key.is_not(None)  # open or acknowledged (no IN list: these run as executemany)
    refresh = (update(t).where(t.c.id == bindparam("flag_id"), active)
               .values(severity=bindparam("severity"), evidence=bindparam("evidence"),
                       last_seen_at=bindparam("now"), last_event_at=bindparam("event_at")))
    resolve = (update(t).where(t.c.id == bindparam("flag_id"), active)
               .values(status=RESOLVED, active_key=None, resolved_at=bindparam("now"),
                       outcome=bindparam("outcome"), resolved_by_id=None))
    return refresh, resolve


def _worse(a: str, b: str) -> bool:
    return SEVERITY_ORDER[a] > SEVERITY_ORDER[b]


def _decide(rule: Rule, pid, finding, paused: bool, latest, now: datetime, plan: dict, changes: Changes):
    is_active = latest is not None and latest.status in ACTIVE
    if rule.suppressed_when_paused and paused:
        if is_active:
            plan["resolve"].append((latest, PAUSED))
        return
    if finding is None:
        if is_active and rule.auto_resolve:
            plan["resolve"].append((latest, CLEARED))
        return
    if rule.runs == "on_write":
        known = latest.last_event_at if latest is not None else None
        if known is not None and finding.event_at is not None and finding.event_at <= known:
            return  # this trigger is already on a flag (open or reviewed)
        if latest is not None and finding.evidence == latest.evidence:
            return  # written again, the same trigger: an edit of its session that kept its answers
    if is_active:
        new_event = rule.runs == "on_write"
        if new_event or finding.evidence != latest.evidence or finding.severity != latest.severity:
            plan["refresh"].append((latest, finding, new_event or _worse(finding.severity, latest.severity)))
        return
    if (rule.runs == "sweep" and latest is not None and latest.resolved_by_id is not None
            and latest.resolved_at > now - timedelta(days=rule.quiet_days_after_review)
            and not _worse(finding.severity, latest.severity)):
        return  # a coordinator reviewed it lately; raise it again only if it got worse
    plan["open"].append((pid, rule, finding, latest))


def run(rules: list[Rule], patient_ids: list, now: datetime, *, history: bool = True) -> Changes:
    """Evaluate rules for the patients and apply the flag changes in the caller's transaction."""
    changes = Changes()
    if not patient_ids or not rules:
        return changes
    facts = facts_loader.load(patient_ids, lookback_days([r for r in rules if r.runs == "on_write"]),
                              now, history_days(rules) if history else None)
    facts_loader.load_extras(facts, {need for r in rules for need in NEEDS[r.evaluator]}, now)
    latest = _latest_flags(list(facts), [r.id for r in rules])
    plan = {"open": [], "refresh": [], "resolve": []}
    for pid, patient_facts in facts.items():
        paused = patient_facts.paused
        for rule in rules:
            finding = EVALUATORS[rule.evaluator](rule, patient_facts)
            _decide(rule, pid, finding, paused, latest.get((pid, rule.id)), now, plan, changes)
    _write(plan, now, changes)
    return changes


def _flag_dict(pid, rule_id, severity, evidence, flag_id=None) -> dict:
    return {"id": flag_id, "patient_id": pid, "rule_id": rule_id, "severity": severity, "evidence": evidence}


def _write(plan: dict, now: datetime, changes: Changes) -> None:
    events = []
    if plan["open"]:
        rows = [{"id": uuid.uuid4(), "patient_id": pid, "rule_id": rule.id, "severity": f.severity,
                 "status": OPEN, "active_key": active_key(pid, rule.id), "evidence": f.evidence,
                 "opened_at": now, "last_seen_at": now, "last_event_at": f.event_at,
                 "reopened_from_id": prev.id if prev is not None else None}
                for pid, rule, f, prev in plan["open"]]
        dialect = db.session.get_bind().dialect.name
        inserted = {r.id for r in db.session.execute(_insert_flags(dialect), rows)}
        for row in rows:
            if row["id"] in inserted:  # not opened meanwhile by someone else
                changes.opened.append(_flag_dict(row["patient_id"], row["rule_id"], row["severity"],
                                                 row["evidence"], row["id"]))
                events.append({"action": "flag_reopened" if row["reopened_from_id"] else "flag_opened",
                               "patient_id": row["patient_id"], "resource_id": row["id"], "detail": row["rule_id"]})
    refresh, resolve = _update_statements()
    if plan["refresh"]:
        db.session.execute(refresh, [{"flag_id": flag.id, "severity": f.severity, "evidence": f.evidence,
                                      "now": now, "event_at": f.event_at or flag.last_event_at}
                                     for flag, f, _notify in plan["refresh"]])
        changes.updated += len(plan["refresh"])
        for flag, f, notify in plan["refresh"]:
            if f.severity != flag.severity:
                events.append({"action": "flag_severity_changed", "patient_id": flag.patient_id,
                               "resource_id": flag.id, "detail": f"{flag.rule_id}:{f.severity}"})
            if notify:
                changes.escalated.append(_flag_dict(flag.patient_id, flag.rule_id, f.severity, f.evidence, flag.id))
    if plan["resolve"]:
        db.session.execute(resolve, [{"flag_id": flag.id, "now": now, "outcome": outcome}
                                     for flag, outcome in plan["resolve"]])
        changes.resolved += len(plan["resolve"])
        events += [{"action": "flag_resolved", "patient_id": flag.patient_id, "resource_id": flag.id,
                    "detail": outcome} for flag, outcome in plan["resolve"]]
    for e in events:  # one batched INSERT at the flush
        audit.record(e["action"], SYSTEM_ACTOR, patient_id=e["patient_id"], resource_id=e["resource_id"],
                     detail=e["detail"])
