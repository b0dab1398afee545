"""The ONE place that decides who may do what to which patient's data.

An actor with no relation to a patient gets 404, exactly as for a patient that does not
exist, so IDs cannot be probed. An actor who is related but may not do this action gets 403.
Role gates (staff-only operations) and field rules (which profile fields a patient may
change) are actions in the same table. Routes only authenticate; services call the policy,
so a route, a CLI command and a job pass the same checks. Callable anywhere: nothing here
reads the request.
"""
import uuid
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.access.models import CaregiverLink, CareTeamMember
from app.audit import rows as audit_rows
from app.audit import service as audit
from app.errors import ApiError
from app.extensions import db

# The relations an actor can have to a patient.
SELF, CAREGIVER, COORDINATOR, ADMIN, SYSTEM = "self", "caregiver", "coordinator", "admin", "system"

SELF_EDITABLE = frozenset({"language", "time_zone", "contact_email"})


@dataclass(frozen=True)
class Action:
    """verb: for messages. relations: the relations to the patient that may do it (empty: the
    action is not about one patient). roles: a role gate, checked first: other roles get 403
    before any patient is looked up. fields: per relation, the fields it may change (a
    relation not listed may change every field). audit: the audit trail's word for it."""

    verb: str
    relations: frozenset = frozenset()
    roles: tuple | None = None
    fields: dict | None = None
    audit: str = "write"


def _action(verb, relations=(), roles=None, fields=None, audit="write") -> Action:
    return Action(verb, frozenset(relations), tuple(roles) if roles else None, fields, audit)


# --- the table ----------------------------------------------------------------------------
# About one patient:
READ = _action("read", {SELF, CAREGIVER, COORDINATOR, SYSTEM}, audit="read")  # see their data
LOG = _action("log", {SELF, CAREGIVER})  # record on their behalf: reading progress, quiz answers
LOG_SESSION = _action("log", {SELF, CAREGIVER}, roles=("patient", "caregiver"))  # sessions
MANAGE = _action("manage", {COORDINATOR}, roles=("coordinator",))  # plans, recommendations, invitations
EDIT_PROFILE = _action("manage", {SELF, CAREGIVER, COORDINATOR},
                       fields={SELF: SELF_EDITABLE, CAREGIVER: SELF_EDITABLE})
CONSENT = _action("consent", {SELF}, roles=("patient",))  # who may act as their caregiver
ADMINISTER = _action("administer", {COORDINATOR, ADMIN}, roles=("coordinator", "admin"))  # care team
REVIEW = _action("review", {COORDINATOR}, roles=("coordinator",), audit="read")  # flags, timeline, contacts, FHIR
RECORD_CONTACT = _action("record contacts for", {COORDINATOR}, roles=("coordinator",))
ACT_ON_FLAGS = _action("acknowledge or resolve the flags of", {COORDINATOR}, roles=("coordinator",))
EXPORT_OWN = _action("export", {SELF}, roles=("patient",), audit="read")  # the patient's own data
# Reminders: the patient's choices (a caregiver may change all but whether caregivers get them),
# and answering one's own notifications about the patient (mark read, snooze).
SET_REMINDERS = _action("change the reminders of", {SELF, CAREGIVER}, roles=("patient", "caregiver"),
                        fields={CAREGIVER: frozenset({"channels", "quiet_hours", "reminder_times", "opted_out"})})
ANSWER_NOTIFICATIONS = _action("answer notifications about", {SELF, CAREGIVER, COORDINATOR})
# Not about one patient (role gates):
REVIEW_CASELOAD = _action("review a caseload", roles=("coordinator",))
READ_RULES = _action("read the rules", roles=("coordinator", "admin"))
CREATE_PATIENT = _action("create patients", roles=("coordinator",))
ADMINISTER_ACCOUNTS = _action("administer accounts", roles=("admin",))
READ_AUDIT_TRAIL = _action("read the audit trail", roles=("admin",))

# What a patient list shows of each patient: the clinical fields only to a relation that may
# READ the patient's data. An admin lists patients to run care teams and reads no clinical data.
LIST_FIELDS = ("id", "display_name", "time_zone", "language")
CLINICAL_LIST_FIELDS = ("neurological_level", "ais_grade")
_LIST_RELATION = {"patient": SELF, "caregiver": CAREGIVER, "coordinator": COORDINATOR, "admin": ADMIN,
                  "system": SYSTEM}


def listed_fields(actor) -> tuple[str, ...]:
    """The fields of each patient that actor's patient list may show."""
    clinical = _LIST_RELATION.get(actor.role) in READ.relations
    return LIST_FIELDS + (CLINICAL_LIST_FIELDS if clinical else ())


# access sits below patients, so patients hands it the Patient model in its register(app).
_patient_model = None


def use_patient_model(model) -> None:
    global _patient_model
    _patient_model = model


def not_found() -> ApiError:
    return ApiError(404, "No such patient.", title="Not Found")


def require(actor, action: Action) -> None:
    """The role gate of an action (403 for any other role)."""
    if action.roles is not None and actor.role not in action.roles:
        raise ApiError(403, f"This needs the role {' or '.join(action.roles)}.", title="Forbidden")


def caregiver_patient_ids(actor) -> list[uuid.UUID]:
    return list(
        db.session.scalars(
            select(CaregiverLink.patient_id).where(
                CaregiverLink.caregiver_id == actor.id, CaregiverLink.revoked_at.is_(None)
            )
        )
    )


def readable_patient_ids(actor):
    """A SELECT of the ids of every patient actor may list: the caseload of a coordinator,
    everyone for an admin (to run care teams) or a system actor, oneself, or those a
    caregiver acts for."""
    if actor.role in ("admin", "system"):
        return select(_patient_model.id)
    if actor.role == "coordinator":
        return select(CareTeamMember.patient_id).where(CareTeamMember.coordinator_id == actor.id)
    if actor.role == "caregiver":
        return select(CaregiverLink.patient_id).where(CaregiverLink.caregiver_id == actor.id,
                                                      CaregiverLink.revoked_at.is_(None))
    return select(_patient_model.id).where(_patient_model.id == actor.patient_id)


def resolve_patient_id(actor, patient_ref) -> uuid.UUID:
    """'me' means the patient's own record, or the one patient a caregiver acts for."""
    if isinstance(patient_ref, uuid.UUID):
        return patient_ref
    if patient_ref == "me":
        if actor.role == "patient" and actor.patient_id:
            return actor.patient_id
        if actor.role == "caregiver":
            ids = caregiver_patient_ids(actor)
            if len(ids) == 1:
                return ids[0]
            if len(ids) > 1:
                raise ApiError(400, "You care for several patients: use the patient's id instead of 'me'.",
                               title="Ambiguous patient")
        raise not_found()
    try:
        return uuid.UUID(str(patient_ref))
    except ValueError:
        raise not_found() from None


def relation(actor, patient_id: uuid.UUID) -> str | None:
    if actor.role == "patient":
        return SELF if actor.patient_id == patient_id else None
    if actor.role == "admin":
        return ADMIN
    if actor.role == "system":
        return SYSTEM
    if actor.role == "caregiver":
        linked = db.session.scalar(
            select(CaregiverLink.id).where(
                CaregiverLink.caregiver_id == actor.id,
                CaregiverLink.patient_id == patient_id,
                CaregiverLink.revoked_at.is_(None),
            )
        )
        return CAREGIVER if linked else None
    if actor.role == "coordinator":
        member = db.session.get(CareTeamMember, (patient_id, actor.id))
        if member is not None:
            _keep_loaded(member)
        return COORDINATOR if member else None
    return None


def still_may(actor, patient_id: uuid.UUID, action: Action) -> bool:
    """Whether actor may do action on the patient now (its role gate and relation), answering
    nothing and auditing nothing: for what was granted under an action earlier and lives only
    as long as that grant (a calendar feed token)."""
    if action.roles is not None and actor.role not in action.roles:
        return False
    return relation(actor, patient_id) in action.relations


def related_pairs(pairs) -> set:
    """Of (recipient, patient id) pairs (a recipient: id, role, patient_id), those in which the
    recipient has a relation to the patient now, as relation() decides it, in at most two
    statements whatever the number of pairs: for a job that acts for many at once (the
    reminder dispatcher)."""
    pairs = list(pairs)
    related = {(actor.id, pid) for actor, pid in pairs
               if actor.role in ("admin", "system") or (actor.role == "patient" and actor.patient_id == pid)}
    for role, model, column in (("caregiver", CaregiverLink, CaregiverLink.caregiver_id),
                                ("coordinator", CareTeamMember, CareTeamMember.coordinator_id)):
        wanted = {(actor.id, pid) for actor, pid in pairs if actor.role == role}
        if not wanted:
            continue
        stmt = select(column, model.patient_id).where(column.in_({u for u, _ in wanted}),
                                                      model.patient_id.in_({p for _, p in wanted}))
        if model is CaregiverLink:
            stmt = stmt.where(CaregiverLink.revoked_at.is_(None))
        related |= wanted & {tuple(row) for row in db.session.execute(stmt)}
    return related


KEPT = "policy_rows"


def _keep_loaded(row) -> None:
    """Keep row in the session's identity map (which holds rows weakly) until the transaction
    ends, so the next check of the same relation in it is answered from there, not by the same
    SELECT again (a page read through several services checks it once per service). A row
    deleted through the session leaves the identity map, so get() looks again and finds none;
    a commit or rollback lets go of every kept row, so the next transaction reads them again."""
    db.session.info.setdefault(KEPT, {})[type(row), db.inspect(row).identity] = row


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _let_go(session) -> None:
    session.info.pop(KEPT, None)


def patient_for(actor, patient_ref, action: Action, *, resource=None, fields=None, carry_audit: list | None = None):
    """The patient if actor may do action on it; else 403 (role gate, or related but not
    allowed, or a field it may not change) or 404 (no relation, or no such patient).

    resource: the id of what is acted on (a session, a plan), for the audit trail.
    fields: the fields a change touches, checked against the action's field rules.
    An allowed write is audited in the caller's transaction; a read by someone other than
    the patient is audited after the read (audit.flush_reads).
    carry_audit: a list that receives the write's audit row (audit.rows.write_row) instead of it being
    inserted here, for a caller that inserts it in a statement of its own transaction.
    """
    require(actor, action)
    patient_id = resolve_patient_id(actor, patient_ref)
    rel = relation(actor, patient_id)
    patient = db.session.get(_patient_model, patient_id) if rel else None
    if patient is None:
        raise not_found()
    if rel not in action.relations:
        raise ApiError(403, f"Your role may not {action.verb} this patient's data.", title="Forbidden")
    allowed = (action.fields or {}).get(rel)
    if fields and allowed is not None and set(fields) - allowed:
        raise ApiError(403, "Only your care team can change: " + ", ".join(sorted(set(fields) - allowed)) + ".",
                       title="Forbidden")
    if action.audit == "read":
        if actor.patient_id != patient.id:
            audit.record_read(actor, patient.id, resource_id=resource)
    elif carry_audit is not None:
        carry_audit.append(audit_rows.write_row(action.audit, actor, patient_id=patient.id, resource_id=resource))
    else:
        audit.record_at_once(action.audit, actor, patient_id=patient.id, resource_id=resource)
    return patient
