"""Every patient keeps an active coordinator: removing one from a care team, or deactivating a
coordinator's account, is refused (409) when a patient would be left with none who is active
(a deactivated coordinator cannot sign in, so is no one to turn to).

Both lock the rows of the patients concerned first (SELECT ... FOR UPDATE, in id order), and
count after the lock, so two such changes at once cannot each count the other's coordinator
and both go through (SQLite needs no lock: a write transaction there holds the database's).
Giving a coordinator a patient (a new patient, a place on a care team) locks the coordinator's
account row, as its deactivation does before the patients' rows, and checks under that lock
that it is still active: a deactivation at once either commits first and is seen, or waits
and counts the new patient.
"""
from sqlalchemy import func, select

from app.access import policy
from app.access.models import CareTeamMember
from app.auth.models import User
from app.common.db import lock_row
from app.errors import ApiError
from app.extensions import db

LAST_ONE = "A patient keeps at least one active coordinator; add another first."


def _patient():
    return policy._patient_model  # handed to access by patients (policy.use_patient_model)


def _lock_patients(patient_ids) -> list:
    """Lock the patients' rows (a list of ids, or a SELECT of them), in id order; their ids."""
    patient = _patient()
    return list(db.session.scalars(select(patient.id).where(patient.id.in_(patient_ids))
                                   .order_by(patient.id).with_for_update()))


def _alone(patient_ids, coordinator_id) -> int:
    """How many of the patients (a list of ids, or a SELECT of them) have no active coordinator
    but coordinator_id."""
    patient = _patient()
    others = (select(CareTeamMember.patient_id)
              .join(User, User.id == CareTeamMember.coordinator_id)
              .where(CareTeamMember.patient_id.in_(patient_ids), CareTeamMember.coordinator_id != coordinator_id,
                     User.is_active.is_(True)))
    return db.session.scalar(select(func.count()).select_from(patient)
                             .where(patient.id.in_(patient_ids), patient.id.not_in(others)))


def lock_joining(coordinator_id) -> bool:
    """Before coordinator_id gets a patient, in the same transaction and before any patient's row
    is locked (the order of a deactivation, which locks the admins' rows, then the account's,
    then its patients'; an assignment locks no admin's): lock its account's row; whether it is
    an active coordinator, read under the lock."""
    lock_row(User, coordinator_id)
    return db.session.execute(select(User.id).where(User.id == coordinator_id, User.role == "coordinator",
                                                    User.is_active.is_(True))).first() is not None


def lock_for_removal(patient_id, coordinator_id) -> None:
    """Before coordinator_id leaves the patient's care team, in the same transaction: 409 when
    no other active coordinator would remain."""
    _lock_patients([patient_id])
    if _alone([patient_id], coordinator_id):
        raise ApiError(409, LAST_ONE, title="Conflict")


def lock_for_deactivation(user_id) -> None:
    """Before the account is deactivated, in the same transaction: 409 when it is the only
    active coordinator of some patient. The detail gives how many, never which."""
    lock_row(User, user_id)  # an addition of it to a care team at once is seen (its foreign key's lock), or waits
    if not db.session.scalar(select(User.is_active).where(User.id == user_id)):
        return  # no such account (the caller answers 404), or deactivated already: nothing changes
    caseload = select(CareTeamMember.patient_id).where(CareTeamMember.coordinator_id == user_id)
    alone = _alone(caseload, user_id) if _lock_patients(caseload) else 0
    if alone:
        patients = "1 patient" if alone == 1 else f"{alone} patients"
        raise ApiError(409, f"This account is the only active coordinator of {patients}: add another "
                            "coordinator to their care teams first.", title="Conflict")
