"""The ONE place that decides who may touch a patient's data.

An actor with no relation to a patient gets 404, exactly as for a patient that does not
exist, so IDs cannot be probed. An actor who is related but may not do this action gets 403.
"""
import uuid

from flask import g
from sqlalchemy import select

from app.audit import service as audit
from app.errors import ApiError
from app.extensions import db
from app.patients.models import CaregiverLink, CareTeamMember, Patient

READ = "read"            # see the patient's data
LOG = "log"              # record on the patient's behalf: sessions, reading progress, answers
MANAGE = "manage"        # clinical management: profile, plans, recommendations
CONSENT = "consent"      # the patient's own decisions: who may act as caregiver
ADMINISTER = "administer"  # care-team membership, audit trail

_ALLOWED = {
    "self": {READ, LOG, CONSENT},
    "caregiver": {READ, LOG},
    "coordinator": {READ, MANAGE, ADMINISTER},
    "admin": {ADMINISTER},
}


def not_found() -> ApiError:
    return ApiError(404, "No such patient.", title="Not Found")


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
    everyone for an admin (to run care teams), oneself, or those a caregiver acts for."""
    if actor.role == "admin":
        return select(Patient.id)
    if actor.role == "coordinator":
        return select(CareTeamMember.patient_id).where(CareTeamMember.coordinator_id == actor.id)
    if actor.role == "caregiver":
        return select(CaregiverLink.patient_id).where(CaregiverLink.caregiver_id == actor.id,
                                                      CaregiverLink.revoked_at.is_(None))
    return select(Patient.id).where(Patient.id == actor.patient_id)


def resolve_patient_id(actor, patient_ref: str) -> uuid.UUID:
    """'me' means the patient's own record, or the one patient a caregiver acts for."""
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
        return uuid.UUID(patient_ref)
    except ValueError:
        raise not_found() from None


def relation(actor, patient_id: uuid.UUID) -> str | None:
    if actor.role == "patient":
        return "self" if actor.patient_id == patient_id else None
    if actor.role == "admin":
        return "admin"
    if actor.role == "caregiver":
        linked = db.session.scalar(
            select(CaregiverLink.id).where(
                CaregiverLink.caregiver_id == actor.id,
                CaregiverLink.patient_id == patient_id,
                CaregiverLink.revoked_at.is_(None),
            )
        )
        return "caregiver" if linked else None
    if actor.role == "coordinator":
        member = db.session.get(CareTeamMember, (patient_id, actor.id))
        return "coordinator" if member else None
    return None


def patient_for(actor, patient_ref: str, action: str) -> Patient:
    """Return the patient if actor may do action on it; else 404 (no relation) or 403."""
    patient_id = resolve_patient_id(actor, str(patient_ref))
    rel = relation(actor, patient_id)
    patient = db.session.get(Patient, patient_id) if rel else None
    if patient is None:
        raise not_found()
    if action not in _ALLOWED[rel]:
        raise ApiError(403, f"Your role may not {action} this patient's data.", title="Forbidden")
    g.patient = patient
    audit.record_access(actor, patient.id)
    return patient

