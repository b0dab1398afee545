"""Patients, care teams, caregivers and the invitations that activate their logins."""
import hashlib
import secrets
from dataclasses import replace
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update

from app.access import care_teams
from app.access.models import CaregiverLink, CareTeamMember
from app.access.policy import (
    ADMINISTER,
    CONSENT,
    CREATE_PATIENT,
    EDIT_PROFILE,
    MANAGE,
    READ,
    caregiver_patient_ids,
    listed_fields,
    patient_for,
    readable_patient_ids,
    require,
)
from app.audit import service as audit
from app.auth import service as auth
from app.auth.models import User
from app.auth.passwords import dummy_hash, password_problems, verify_password
from app.common.clock import local_date
from app.common.conditional import advance_revision, require_match
from app.common.db import insert_ignoring_conflict, lock_address
from app.common.i18n import choose_language
from app.common.pagination import MAX_PER_PAGE, Page, paginate
from app.common.types import utcnow
from app.errors import ApiError
from app.extensions import db
from app.patients.models import Invitation, Patient
from app.patients.signals import caregiver_revoking, profile_dates_changing


def _hash_code(code: str) -> str:
    """Codes are read out and typed: case, spaces and dashes do not matter."""
    return hashlib.sha256("".join(code.split()).replace("-", "").upper().encode()).hexdigest()


def _new_invitation(kind: str, patient: Patient, actor, relationship_note=None) -> tuple[Invitation, str]:
    # 12 characters from an unambiguous alphabet: easy to read out, ~60 bits.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    code = "".join(secrets.choice(alphabet) for _ in range(12))
    invitation = Invitation(
        kind=kind, patient_id=patient.id, code_hash=_hash_code(code),
        relationship_note=relationship_note, created_by_id=actor.id,
        expires_at=utcnow() + timedelta(hours=current_app.config["INVITATION_TTL_HOURS"]),
    )
    db.session.add(invitation)
    return invitation, code


def _invitation_out(invitation: Invitation, code: str) -> dict:
    return {"code": code, "kind": invitation.kind, "expires_at": invitation.expires_at}


# --- patients -----------------------------------------------------------------------------

def create_patient(actor, data: dict, now: datetime) -> dict:
    require(actor, CREATE_PATIENT)
    _not_after_today(data, local_date(now, data["time_zone"]))
    _dates_possible(None, data)
    data["known_fractures"] = _fractures_json(data.get("known_fractures", []))
    data["known_clots"] = _fractures_json(data.get("known_clots", []))
    if not care_teams.lock_joining(actor.id):  # deactivated since its token was checked
        raise auth.account_unavailable()
    patient = Patient(**data, created_by_id=actor.id)
    db.session.add(patient)
    db.session.flush()
    db.session.add(CareTeamMember(patient_id=patient.id, coordinator_id=actor.id))
    invitation, code = _new_invitation("patient", patient, actor)
    audit.record("write", actor, patient_id=patient.id, resource_id=patient.id, detail="patient created")
    db.session.commit()
    return {"patient": patient, "invitation": _invitation_out(invitation, code)}


def _not_after_today(data: dict, today: date) -> None:
    """Birth, injury, fractures and clots are dated on or before the patient's own today (their
    zone's date, not the server's: early morning in Shanghai is still yesterday in UTC)."""
    message = f"Must be {today.isoformat()} (the patient's today) or earlier."
    errors = {field: [message] for field in ("date_of_birth", "injury_date") if field in data and data[field] > today}
    for listed in ("known_fractures", "known_clots"):
        late = {str(i): {"date": [message]} for i, entry in enumerate(data.get(listed) or []) if entry["date"] > today}
        if late:
            errors[listed] = late
    if errors:
        raise ApiError(422, "A date of birth, injury, fracture or clot cannot be in the future.", errors=errors)


_DATED_LISTS = ("known_fractures", "known_clots")


def _not_before_birth(patient: Patient | None, data: dict) -> dict:
    """The field errors of an injury, fracture or clot before birth as data (loaded) would leave
    the profile. The field sent is named: the dated one, or the date of birth when it came
    alone and a stored date is before it."""
    birth = data.get("date_of_birth", patient.date_of_birth if patient else None)
    message = f"Must be {birth.isoformat()} (the date of birth) or later."
    errors: dict = {}
    if "injury_date" in data and data["injury_date"] < birth:
        errors["injury_date"] = [message]
    for listed in _DATED_LISTS:
        early = {str(i): {"date": [message]} for i, entry in enumerate(data.get(listed) or []) if entry["date"] < birth}
        if early:
            errors[listed] = early
    if patient is not None and "date_of_birth" in data:
        kept = ([] if "injury_date" in data else [patient.injury_date]) + [
            date.fromisoformat(entry["date"]) for listed in _DATED_LISTS if listed not in data
            for entry in getattr(patient, listed) or []]
        if kept and min(kept) < birth:
            errors["date_of_birth"] = [f"Must be {min(kept).isoformat()} (the injury, a fracture or a clot "
                                       "on record) or earlier."]
    return errors


def _dates_possible(patient: Patient | None, data: dict) -> None:
    """Refuse dates that cannot be: an injury, fracture or clot before birth and, for a stored
    patient, what the domains above say of their records (a DXA scan before a new date of birth,
    medically stable before a new injury date): the stored date bounds a partial update."""
    errors = _not_before_birth(patient, data)
    if patient is not None and ("date_of_birth" in data or "injury_date" in data):
        for _receiver, found in profile_dates_changing.send(
                current_app._get_current_object(), patient=patient,
                date_of_birth=data.get("date_of_birth", patient.date_of_birth),
                injury_date=data.get("injury_date", patient.injury_date)):
            for field, messages in (found or {}).items():
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ApiError(422, "These dates cannot be: an injury, fracture or clot before birth, or a "
                            "record of the patient's dated before birth or stable before the injury.",
                       errors=errors)


def _fractures_json(fractures: list[dict]) -> list[dict]:
    return [{**f, "date": f["date"].isoformat()} for f in fractures]


def list_patients(actor, args: dict | None = None) -> Page:
    """The patients the policy lets actor list (args: q, page, per_page); each listed one is audited."""
    args = args or {}
    stmt = (select(Patient).where(Patient.id.in_(readable_patient_ids(actor)))
            .order_by(Patient.display_name, Patient.id))
    if args.get("q"):
        stmt = stmt.where(Patient.display_name.icontains(args["q"].strip(), autoescape=True))
    page = paginate(stmt, args)
    audit_listed(actor, page.items)
    return replace(page, items=listed(actor, page.items))


def listed(actor, patients) -> list[dict]:
    """Each listed patient with only the fields the policy lets actor see."""
    fields = listed_fields(actor)
    return [{name: getattr(patient, name) for name in fields} for patient in patients]


def audit_listed(actor, patients) -> None:
    """A list shows patients' data too: each one shown to someone else is an audited read."""
    for patient in patients:
        if patient.id != actor.patient_id:
            audit.record_read(actor, patient.id, detail="listed")


def get_patient(actor, patient_ref) -> Patient:
    return patient_for(actor, patient_ref, READ)


def update_patient(actor, patient_ref, data: dict, now: datetime, if_match=None) -> Patient:
    """if_match: the ETags the change is based on (werkzeug ETags); 428 without, 412 when stale."""
    patient = patient_for(actor, patient_ref, EDIT_PROFILE, fields=set(data))
    require_match(if_match, patient.etag)
    _not_after_today(data, local_date(now, data.get("time_zone", patient.time_zone)))
    _dates_possible(patient, data)
    for dated in ("known_fractures", "known_clots"):
        if dated in data:
            data[dated] = _fractures_json(data[dated])
    advance_revision(patient)
    for key, value in data.items():
        setattr(patient, key, value)
    db.session.commit()
    return patient


def reissue_patient_invitation(actor, patient_ref) -> dict:
    patient = patient_for(actor, patient_ref, MANAGE)
    if db.session.scalar(select(User.id).where(User.patient_id == patient.id)):
        raise ApiError(409, "This patient has already activated a login.", title="Conflict")
    _revoke_open_invitations(patient.id, "patient")
    invitation, code = _new_invitation("patient", patient, actor)
    db.session.commit()
    return _invitation_out(invitation, code)


def _revoke_open_invitations(patient_id, kind):
    db.session.execute(
        update(Invitation)
        .where(Invitation.patient_id == patient_id, Invitation.kind == kind,
               Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# --- activation ---------------------------------------------------------------------------

def _invalid_invitation() -> ApiError:
    # One answer for unknown, used, revoked and expired codes: which one it is tells a guesser
    # that a code exists.
    return ApiError(422, "This invitation code is not valid: it is unknown, used, revoked or expired.",
                    title="Invalid invitation", type_slug="invalid-invitation",
                    errors={"code": ["Not valid: unknown, used, revoked or expired."]})


def activate(code: str, email: str, password: str, display_name: str | None) -> User:
    """Nothing changes unless it succeeds. Giving an existing account's e-mail (a caregiver
    linking another patient) needs its password; a wrong one counts towards its lockout.

    Any patient can make a caregiver code, so the answer must not tell whether an address has
    an account: the owner of one (its password given) links it; everyone else gets the checks
    of a new account first (password, name), the same for every address and each counted
    towards the address's lockout the way a failed login is."""
    invitation = db.session.scalar(select(Invitation).where(Invitation.code_hash == _hash_code(code)))
    now = utcnow()
    if (invitation is None or invitation.used_at or invitation.revoked_at
            or invitation.expires_at <= now):
        raise _invalid_invitation()
    existing = _existing_account(invitation, email, password, display_name, now)
    claimed = db.session.execute(
        update(Invitation).where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if claimed != 1:
        raise _invalid_invitation()
    patient = db.session.get(Patient, invitation.patient_id)
    if invitation.kind == "patient":
        if db.session.scalar(select(User.id).where(User.patient_id == patient.id)):
            raise ApiError(409, "This patient already has a login.", title="Conflict")
        user = auth.create_user(email=email, password=password, role="patient",
                                display_name=patient.display_name, patient_id=patient.id, commit=False)
    else:
        user = existing or auth.create_user(email=email, password=password, role="caregiver",
                                            display_name=display_name, commit=False)
        _link_caregiver(patient.id, user, invitation)
    audit.record("activate", user, patient_id=patient.id, resource_id=invitation.id)
    db.session.commit()
    return user


def _existing_account(invitation: Invitation, email: str, password: str, display_name: str | None,
                      now) -> User | None:
    """The caregiver account this code links, when the caller gave its password; None when a
    new account is to be made. Refuses what a new account would be refused for (a weak
    password, no name) before it says anything an address's account decides."""
    email = auth.normalise_email(email)
    if invitation.kind != "caregiver":
        auth.check_password(password, email)
        if db.session.scalar(select(User.id).where(User.email == email)):
            raise ApiError(409, "An account with this e-mail address exists.", title="Conflict")
        return None
    auth.check_not_locked(email, now)
    lock_address(email)  # one activation at a time per address: a second one at once links the account
    user = db.session.scalar(select(User).where(User.email == email))
    stored = user.password_hash if user else dummy_hash()  # the same work for every address
    if verify_password(stored, password) and user is not None and user.is_active:
        if user.role != "caregiver":
            raise ApiError(409, "This account is not a caregiver's: it cannot take a caregiver invitation.",
                           title="Conflict")
        return user
    refusal = _new_caregiver_refusal(email, password, display_name)
    if refusal is None and user is None:
        return None
    # A wrong password for an account, or a refused new one: a failure for the address either way.
    auth.fail_login(email, user, now, refusal or ApiError(
        409, "An account with this e-mail address exists. A caregiver links "
        "another patient by giving the account's password.", title="Conflict"))


def _new_caregiver_refusal(email: str, password: str, display_name: str | None) -> ApiError | None:
    problems = password_problems(password, email)
    if problems:
        return ApiError(422, " ".join(problems), title="Weak password", errors={"password": problems})
    if not display_name:
        return ApiError(422, "Caregivers give their name.",
                        errors={"display_name": ["Missing data for required field."]})
    return None


def _link_caregiver(patient_id, user: User, invitation: Invitation) -> None:
    """Link the caregiver by the invitation, or relink them if the patient revoked them: only by
    a code made after the revocation (one made before, kept, does not undo it)."""
    link = db.session.scalar(select(CaregiverLink).where(
        CaregiverLink.patient_id == patient_id, CaregiverLink.caregiver_id == user.id))
    if link is None:
        db.session.add(CaregiverLink(patient_id=patient_id, caregiver_id=user.id,
                                     relationship_note=invitation.relationship_note))
    elif link.revoked_at is None:
        raise ApiError(409, "You already care for this patient.", title="Conflict")
    elif invitation.created_at <= link.revoked_at:
        raise ApiError(409, "This code was made before the patient ended your access; "
                       "ask the patient for a new one.", title="Conflict")
    else:
        link.revoked_at = None
        link.relationship_note = invitation.relationship_note


# --- care team ----------------------------------------------------------------------------

def care_team(actor, patient_ref, args: dict | None = None) -> Page:
    patient = patient_for(actor, patient_ref, READ)
    return _care_team_page(patient.id, args or {})


def _care_team_page(patient_id, args: dict) -> Page:
    stmt = (select(CareTeamMember.coordinator_id, User.display_name, User.email, CareTeamMember.added_at)
            .join(User, User.id == CareTeamMember.coordinator_id)
            .where(CareTeamMember.patient_id == patient_id)
            .order_by(CareTeamMember.added_at, CareTeamMember.coordinator_id))
    return paginate(stmt, args, scalars=False)


def add_to_care_team(actor, patient_ref, coordinator_id) -> Page:
    patient = patient_for(actor, patient_ref, ADMINISTER, resource=coordinator_id)
    if not care_teams.lock_joining(coordinator_id):
        raise ApiError(422, "No active coordinator has this id.",
                       errors={"coordinator_id": ["No active coordinator has this id."]})
    insert_ignoring_conflict(CareTeamMember, {"patient_id": patient.id, "coordinator_id": coordinator_id,
                                              "added_at": utcnow()}, ["patient_id", "coordinator_id"])
    db.session.commit()
    return _care_team_page(patient.id, {"per_page": MAX_PER_PAGE})


def remove_from_care_team(actor, patient_ref, coordinator_id) -> None:
    patient = patient_for(actor, patient_ref, ADMINISTER, resource=coordinator_id)
    member = (CareTeamMember.patient_id == patient.id, CareTeamMember.coordinator_id == coordinator_id)
    if db.session.scalar(select(CareTeamMember.coordinator_id).where(*member)) is None:
        raise ApiError(404, "This coordinator is not on the patient's care team.", title="Not Found")
    care_teams.lock_for_removal(patient.id, coordinator_id)  # 409 when no other active one would remain
    if not db.session.execute(delete(CareTeamMember).where(*member)).rowcount:  # removed meanwhile
        raise ApiError(404, "This coordinator is not on the patient's care team.", title="Not Found")
    db.session.commit()


# --- caregivers ---------------------------------------------------------------------------

def invite_caregiver(actor, patient_ref, relationship_note=None) -> dict:
    patient = patient_for(actor, patient_ref, CONSENT)
    invitation, code = _new_invitation("caregiver", patient, actor, relationship_note)
    db.session.commit()
    return _invitation_out(invitation, code)


def caregivers(actor, patient_ref, args: dict | None = None) -> Page:
    patient = patient_for(actor, patient_ref, READ)
    stmt = (select(CaregiverLink.id, CaregiverLink.caregiver_id, User.display_name,
                   CaregiverLink.relationship_note, CaregiverLink.created_at)
            .join(User, User.id == CaregiverLink.caregiver_id)
            .where(CaregiverLink.patient_id == patient.id, CaregiverLink.revoked_at.is_(None))
            .order_by(CaregiverLink.created_at, CaregiverLink.id))
    return paginate(stmt, args or {}, scalars=False)


def revoke_caregiver(actor, patient_ref, link_id) -> None:
    patient = patient_for(actor, patient_ref, CONSENT, resource=link_id)
    link = db.session.get(CaregiverLink, link_id)
    now = utcnow()
    if link is None or link.patient_id != patient.id or not db.session.execute(  # or revoked at once
            update(CaregiverLink).where(CaregiverLink.id == link.id, CaregiverLink.revoked_at.is_(None))
            .values(revoked_at=now)).rowcount:
        raise ApiError(404, "No such caregiver for this patient.", title="Not Found")
    # in this transaction: what the caregiver was given for this patient ends with the link
    caregiver_revoking.send(current_app._get_current_object(), patient_id=patient.id,
                            caregiver_id=link.caregiver_id, now=now)
    db.session.commit()


def language_for(actor, wanted: str | None) -> str:
    """The language to answer this actor in: the one asked for, else a staff account's own
    (requested_language already puts it in wanted), else a patient's own."""
    if wanted or getattr(actor, "staff_language", None):
        return wanted or actor.staff_language
    patient_language = None
    if actor is not None and actor.patient_id:
        patient_language = db.session.scalar(select(Patient.language).where(Patient.id == actor.patient_id))
    return choose_language(None, patient_language)


# --- the account itself -------------------------------------------------------------------

def me(actor) -> dict:
    patient = db.session.get(Patient, actor.patient_id) if actor.patient_id else None
    caring_for = []
    if actor.role == "caregiver":
        ids = caregiver_patient_ids(actor)
        caring_for = list(db.session.scalars(select(Patient).where(Patient.id.in_(ids)))) if ids else []
    return {"id": actor.id, "email": actor.email, "role": actor.role,
            "display_name": actor.display_name, "patient": patient, "caring_for": caring_for}
