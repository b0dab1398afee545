"""Telling coordinators: urgent flags at once, the rest in a daily digest, through the outbox
(app.reminders.outbox; its dispatcher delivers to the in-app inbox and, by the coordinator's
channels, e-mail and push). Texts: seed/reminders/rules.yaml, in the recipient's language."""
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.auth.models import User
from app.common.i18n import LANGUAGES
from app.extensions import db
from app.reminders.outbox import enqueue
from app.access.models import CareTeamMember
from app.rules.definitions import all_rules, text_values
from app.rules.models import ACTIVE, Flag

URGENT_KIND = "rule_flag_urgent"
DIGEST_KIND = "rule_flag_digest"


def _title(rule_id: str, evidence: dict) -> dict:
    """The rule's title in each language: the outbox renders the reader's one."""
    rule = all_rules()[rule_id]
    return {language: rule.text("title", language, text_values(evidence, language)) for language in LANGUAGES}


def care_teams(patient_ids) -> dict:
    """{patient_id: [coordinator user ids]}, one query: active accounts only (a deactivated
    coordinator is sent nothing, as in digest)."""
    out: dict = {}
    rows = db.session.execute(select(CareTeamMember.patient_id, CareTeamMember.coordinator_id)
                              .join(User, User.id == CareTeamMember.coordinator_id)
                              .where(CareTeamMember.patient_id.in_(list(patient_ids)), User.is_active.is_(True)))
    for pid, coordinator_id in rows:
        out.setdefault(pid, []).append(coordinator_id)
    return out


def urgent(flags: list[dict], now: datetime) -> int:
    """One message per coordinator of the patient for each urgent flag opened or escalated."""
    flags = [f for f in flags if f["severity"] == "urgent"]
    if not flags:
        return 0
    teams = care_teams({f["patient_id"] for f in flags})
    created = 0
    for flag in flags:
        occurrence = flag["evidence"].get("session_id") or flag["evidence"].get("as_of") or now.date().isoformat()
        for coordinator_id in teams.get(flag["patient_id"], []):
            created += enqueue(recipient_user_id=coordinator_id, patient_id=flag["patient_id"], kind=URGENT_KIND,
                               dedupe_key=f"{coordinator_id}:flag:{flag['id']}:{occurrence}", due_at=now,
                               payload={"flag_id": str(flag["id"]), "rule_id": flag["rule_id"],
                                        "rule_title": _title(flag["rule_id"], flag["evidence"])}, now=now)
    return created


def digest(now: datetime) -> int:
    """Each coordinator's active non-urgent flags opened in the last day, as one message
    (one a day: the dedupe key carries the UTC date)."""
    since = now - timedelta(days=1)
    rows = db.session.execute(
        select(CareTeamMember.coordinator_id, Flag.severity, func.count(Flag.id))
        .join(Flag, Flag.patient_id == CareTeamMember.patient_id)
        .where(Flag.status.in_(ACTIVE), Flag.severity != "urgent", Flag.opened_at >= since)
        .group_by(CareTeamMember.coordinator_id, Flag.severity))
    counts: dict = {}
    for coordinator_id, severity, n in rows:
        counts.setdefault(coordinator_id, {"warning": 0, "info": 0})[severity] = n
    active = set(db.session.scalars(select(User.id).where(User.id.in_(list(counts)), User.is_active.is_(True))))
    created = 0
    for coordinator_id, by_severity in counts.items():
        if coordinator_id not in active:
            continue
        created += enqueue(recipient_user_id=coordinator_id, patient_id=None, kind=DIGEST_KIND,
                           dedupe_key=f"{coordinator_id}:rules-digest:{now.date().isoformat()}", due_at=now,
                           payload={"warning": by_severity["warning"], "info": by_severity["info"],
                                    "total": by_severity["warning"] + by_severity["info"]}, now=now)
    return created
