"""Rules: the periodic sweep, the on-write safety check, and the coordinator's flag review."""
import logging
from datetime import datetime

from sqlalchemy import select, update

from app.audit import service as audit
from app.access.policy import ACT_ON_FLAGS, READ_RULES, REVIEW, REVIEW_CASELOAD, patient_for, readable_patient_ids, require
from app.common.batches import collector_paused
from app.common.db import writing
from app.common.pagination import MAX_PER_PAGE, Page, paginate
from app.errors import ApiError
from app.extensions import db
from app.patients.models import Patient
from app.rules import engine, notify
from app.rules.evaluators import triggered
from app.rules.definitions import all_rules, enabled_rules, setting, text_values
from app.rules.models import ACKNOWLEDGED, ACTIVE, OPEN, RESOLVED, Flag

log = logging.getLogger("standstrong.rules")
COORDINATOR_OUTCOMES = ("contacted_patient", "plan_changed", "referred", "no_action_needed", "false_alarm", "other")
SYSTEM_OUTCOMES = (engine.CLEARED, engine.PAUSED)


def sweep(now: datetime, patient_ids=None, batch_size: int | None = None) -> dict:
    """Every enabled rule (on-write ones again, as a backstop) for every patient, or the ones
    given, in batches; each batch is a fixed number of queries and its own transaction."""
    rules = enabled_rules()
    batch_size = batch_size or setting("sweep_batch_size")
    totals = {"patients": 0, "batches": 0, "opened": 0, "escalated": 0, "updated": 0, "resolved": 0,
              "notified": 0}
    with writing():
        db.session.commit()  # begin each batch afresh, as a writer
        for batch in _batches(patient_ids, batch_size):
            with collector_paused():
                changes = engine.run(rules, batch, now)
            totals["notified"] += notify.urgent(changes.opened + changes.escalated, now)
            db.session.commit()
            totals["patients"] += len(batch)
            totals["batches"] += 1
            for key, value in changes.counts().items():
                totals[key] += value
    return totals


def _batches(patient_ids, size: int):
    if patient_ids is not None:
        ids = list(patient_ids)
        for start in range(0, len(ids), size):
            yield ids[start:start + size]
        return
    last = None
    while True:  # keyset pages over the ids: each batch reads only its own slice
        stmt = select(Patient.id).order_by(Patient.id).limit(size)
        if last is not None:
            stmt = stmt.where(Patient.id > last)
        ids = list(db.session.scalars(stmt))
        if not ids:
            return
        yield ids
        last = ids[-1]


def digest(now: datetime) -> int:
    with writing():
        db.session.commit()
        created = notify.digest(now)
        db.session.commit()
    return created


def on_session_written(_sender, session, change, **_kw) -> None:
    """The safety rules that this session can trigger (its safety answers, its pain), right after
    it was written (the write is committed already); most sessions trigger none and cost nothing.
    A failure here never fails the write: the next sweep evaluates the same rules."""
    from app.common.types import utcnow

    rules = [rule for rule in enabled_rules("on_write") if triggered(rule, session)]
    if not rules:
        return
    try:
        now = utcnow()
        with writing():
            changes = engine.run(rules, [session.patient_id], now, history=False)
            notify.urgent(changes.opened + changes.escalated, now)
            db.session.commit()
    except Exception as error:  # noqa: BLE001 - the sweep retries
        db.session.rollback()  # the type only: a database error's text carries the row's values
        log.error("on-write rules failed (%s); the next sweep will evaluate them", type(error).__name__)


def _reevaluate(patient_id, requires: str) -> None:
    """The rules that read one domain, for one patient, right after that domain changed (a DXA
    result, a dose); a failure is logged and left to the next sweep."""
    from app.common.types import utcnow

    try:
        now = utcnow()
        with writing():
            changes = engine.run([r for r in enabled_rules() if requires in r.requires], [patient_id], now)
            notify.urgent(changes.opened + changes.escalated, now)
            db.session.commit()
    except Exception as error:  # noqa: BLE001 - the sweep retries
        db.session.rollback()  # the type only: a database error's text carries the row's values
        log.error("rules after a %s change failed (%s); the next sweep will evaluate them", requires,
                  type(error).__name__)


def on_dxa_result_written(_sender, result, **_kw) -> None:
    _reevaluate(result.patient_id, "dxa")


def on_dose_recorded(_sender, dose, **_kw) -> None:
    _reevaluate(dose.patient_id, "medications")


# --- the coordinator's review ---------------------------------------------------------------

def flag_view(flag: Flag, language: str) -> dict:
    rule = all_rules().get(flag.rule_id)
    values = text_values(flag.evidence or {}, language)
    return {
        "id": flag.id, "patient_id": flag.patient_id, "rule_id": flag.rule_id, "severity": flag.severity,
        "status": flag.status, "language": language,
        "title": rule.text("title", language, values) if rule else flag.rule_id,
        "explanation": rule.text("explanation", language, values) if rule else "",
        "source": rule.source if rule else None, "evidence": flag.evidence,
        "opened_at": flag.opened_at, "last_seen_at": flag.last_seen_at,
        "acknowledged_at": flag.acknowledged_at, "acknowledged_by_id": flag.acknowledged_by_id,
        "resolved_at": flag.resolved_at, "resolved_by": _resolver(flag), "outcome": flag.outcome,
        "resolution_note": flag.resolution_note, "reopened_from_id": flag.reopened_from_id,
    }


def _resolver(flag: Flag):
    if flag.status != RESOLVED:
        return None
    return str(flag.resolved_by_id) if flag.resolved_by_id else engine.SYSTEM


def _filtered(stmt, args: dict):
    if args.get("status") == "active":
        stmt = stmt.where(Flag.status.in_(ACTIVE))
    elif args.get("status"):
        stmt = stmt.where(Flag.status == args["status"])
    if args.get("severity"):
        stmt = stmt.where(Flag.severity.in_(args["severity"]))
    if args.get("rule"):
        stmt = stmt.where(Flag.rule_id.in_(args["rule"]))
    return stmt.order_by(Flag.opened_at.desc(), Flag.id)


def caseload_flags(actor, args: dict):
    """The flags of the actor's caseload, newest first (a SELECT to paginate)."""
    require(actor, REVIEW_CASELOAD)
    return _filtered(select(Flag).where(Flag.patient_id.in_(readable_patient_ids(actor))), args)


def patient_flags(actor, patient_ref, args: dict):
    patient = patient_for(actor, patient_ref, REVIEW)
    return _filtered(select(Flag).where(Flag.patient_id == patient.id), args)


def _flag_of(patient, flag_id) -> Flag:
    flag = db.session.get(Flag, flag_id, populate_existing=True)
    if flag is None or flag.patient_id != patient.id:
        raise ApiError(404, "No such flag for this patient.", title="Not Found")
    return flag


def acknowledge(actor, patient_ref, flag_id, now: datetime) -> Flag:
    """Open -> acknowledged (again: no change). A resolved flag cannot be acknowledged."""
    patient = patient_for(actor, patient_ref, ACT_ON_FLAGS, resource=flag_id)
    flag = _flag_of(patient, flag_id)
    done = db.session.execute(update(Flag).where(Flag.id == flag.id, Flag.status == OPEN).values(
        status=ACKNOWLEDGED, acknowledged_at=now, acknowledged_by_id=actor.id)).rowcount
    if done:
        audit.record("flag_acknowledged", actor, patient_id=patient.id, resource_id=flag.id)
    else:
        _refresh(flag)
        if flag.status == RESOLVED:
            raise ApiError(409, "This flag is resolved already.", title="Conflict", type_slug="flag-resolved")
    db.session.commit()
    return _refresh(flag)


def resolve(actor, patient_ref, flag_id, data: dict, now: datetime) -> Flag:
    patient = patient_for(actor, patient_ref, ACT_ON_FLAGS, resource=flag_id)
    flag = _flag_of(patient, flag_id)
    done = db.session.execute(update(Flag).where(Flag.id == flag.id, Flag.status.in_(ACTIVE)).values(
        status=RESOLVED, active_key=None, resolved_at=now, resolved_by_id=actor.id,
        outcome=data["outcome"], resolution_note=data["note"])).rowcount
    if not done:
        raise ApiError(409, "This flag is resolved already.", title="Conflict", type_slug="flag-resolved")
    audit.record("flag_resolved", actor, patient_id=patient.id, resource_id=flag.id, detail=data["outcome"])
    db.session.commit()
    return _refresh(flag)


def _refresh(flag: Flag) -> Flag:
    db.session.refresh(flag)
    return flag


def rules_view(actor, language: str, args: dict | None = None) -> Page:
    """The rules in force, in the seed file's order (args: page, per_page; default all)."""
    require(actor, READ_RULES)
    return paginate([{"id": r.id, "severity": r.severity, "runs": r.runs, "enabled": r.enabled,
             "title": r.text("title", language, text_values(r.parameters, language)),
             "explanation": r.text("explanation", language, text_values(r.parameters, language)),
             "parameters": r.parameters, "source": r.source, "auto_resolve": r.auto_resolve,
             "suppressed_when_paused": r.suppressed_when_paused} for r in all_rules().values()],
                    args or {"page": 1, "per_page": MAX_PER_PAGE})
