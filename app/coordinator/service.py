"""Coordinator review: the caseload, a patient's timeline, the contact log and the exports."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.audit import service as audit
from app.access.policy import EXPORT_OWN, RECORD_CONTACT, REVIEW, REVIEW_CASELOAD, patient_for, require
from app.common.clock import local_date
from app.common.pagination import Page
from app.coordinator import bone
from app.coordinator import caseload as caseload_rows
from app.coordinator import exports, timeline as timeline_query
from app.coordinator.models import ContactLog
from app.errors import ApiError
from app.exercises.models import Exercise
from app.extensions import db
from app.plans import service as plans
from app.plans.models import Plan, PlanItem, PlanVersion
from app.plans.schemas import PlanSchema
from app.reminders.outbox import enqueue
from app.rules import service as rules
from app.rules.models import Flag
from app.sessions import service as sessions
from app.sessions.models import ExerciseSession

FOLLOW_UP_KIND = "contact_follow_up"
FOLLOW_UP_LOCAL_TIME = time(9, 0)


def _audit_listed(actor, rows: list[dict], detail: str) -> None:
    for r in rows:  # audited reads, written after the read (one batched INSERT)
        audit.record_read(actor, r["patient"]["id"], detail=detail)


def caseload_page(actor, args: dict, now: datetime, history_days: int = caseload_rows.ROW_WINDOW_DAYS,
                  history: dict | None = None) -> Page:
    """history_days, history: the sessions read for the rows' adherence, and where to keep that
    read (app/coordinator/caseload.add_adherence), for a page that draws more of it."""
    require(actor, REVIEW_CASELOAD)
    items, total = caseload_rows.caseload(actor, args, now, args["page"], args["per_page"], history_days, history)
    _audit_listed(actor, items, "caseload")
    return Page(items, args["page"], args["per_page"], total)


def caseload_csv(actor, args: dict, now: datetime) -> str:
    require(actor, REVIEW_CASELOAD)
    rows, _total = caseload_rows.caseload(actor, args, now)
    _audit_listed(actor, rows, "caseload export")
    return exports.caseload_csv(rows)


# --- timeline --------------------------------------------------------------------------------

def timeline(actor, patient_ref, args: dict, language: str):
    patient = patient_for(actor, patient_ref, REVIEW)
    stmt = timeline_query.statement(patient.id, args.get("kind"), args.get("order") == "oldest")

    def render(rows):
        return timeline_query.details(rows, lambda f: rules.flag_view(f, language),
                                      lambda s: sessions.view(s, language))
    return stmt, render


# --- contact log -----------------------------------------------------------------------------

def log_contact(actor, patient_ref, data: dict, now: datetime) -> ContactLog:
    patient = patient_for(actor, patient_ref, RECORD_CONTACT)
    contacted_at = data.get("contacted_at") or now
    if contacted_at > now + timedelta(minutes=5):
        raise ApiError(422, "A contact cannot be in the future.", errors={"contacted_at": ["Not in the future."]})
    follow_up = data.get("follow_up_on")
    if follow_up is not None and follow_up < local_date(now, patient.time_zone):
        raise ApiError(422, "A follow-up date is today or later (the patient's local date).",
                       errors={"follow_up_on": ["Today or later."]})
    flag_id = data.get("flag_id")
    if flag_id is not None and db.session.scalar(
            select(Flag.id).where(Flag.id == flag_id, Flag.patient_id == patient.id)) is None:
        raise ApiError(422, "No such flag for this patient.", errors={"flag_id": ["Not a flag of this patient."]})
    contact = ContactLog(patient_id=patient.id, coordinator_id=actor.id, flag_id=flag_id, channel=data["channel"],
                         outcome=data["outcome"], note=data.get("note"), contacted_at=contacted_at,
                         follow_up_on=follow_up, created_at=now)
    db.session.add(contact)
    db.session.flush()
    audit.record("contact_logged", actor, patient_id=patient.id, resource_id=contact.id)
    if follow_up is not None:
        _remind(actor, patient, contact, now)
    db.session.commit()
    return contact


def _remind(actor, patient, contact: ContactLog, now: datetime) -> None:
    """The coordinator is reminded at 09:00 on the follow-up date, in the patient's time zone."""
    due = datetime.combine(contact.follow_up_on, FOLLOW_UP_LOCAL_TIME, ZoneInfo(patient.time_zone))
    enqueue(recipient_user_id=actor.id, patient_id=patient.id, kind=FOLLOW_UP_KIND,
            dedupe_key=f"{actor.id}:contact-follow-up:{contact.id}", due_at=due.astimezone(ZoneInfo("UTC")),
            payload={"follow_up_on": contact.follow_up_on.isoformat(), "contact_id": str(contact.id)}, now=now)


def contacts(actor, patient_ref):
    patient = patient_for(actor, patient_ref, REVIEW)
    return (select(ContactLog).where(ContactLog.patient_id == patient.id)
            .order_by(ContactLog.contacted_at.desc(), ContactLog.id))


# --- exports ---------------------------------------------------------------------------------

def _slugs() -> dict:
    return dict(db.session.execute(select(Exercise.id, Exercise.slug)).all())


def _plan_views(patient, today) -> list:
    """The patient's plans as seen today (plans.PlanOn, dumped by PlanSchema), oldest first."""
    rows = db.session.scalars(select(Plan).where(Plan.patient_id == patient.id)
                              .options(selectinload(Plan.versions).selectinload(PlanVersion.items)
                                       .selectinload(PlanItem.exercise),
                                       selectinload(Plan.pauses)).order_by(Plan.start_date, Plan.id)).all()
    return [plans.PlanOn(p, today) for p in rows]


def _sessions(patient) -> list:
    return db.session.scalars(select(ExerciseSession).where(ExerciseSession.patient_id == patient.id,
                                                            ExerciseSession.deleted_at.is_(None))
                              .order_by(ExerciseSession.started_at, ExerciseSession.id)).all()


def fhir(actor, patient_ref, language: str, now: datetime) -> dict:
    patient = patient_for(actor, patient_ref, REVIEW, resource="fhir-export")
    today = local_date(now, patient.time_zone)
    flags = db.session.scalars(select(Flag).where(Flag.patient_id == patient.id).order_by(Flag.opened_at)).all()
    bundle = exports.fhir_bundle(patient, PlanSchema(many=True).dump(_plan_views(patient, today)), _sessions(patient), _slugs(),
                                 [rules.flag_view(f, language) for f in flags], now,
                                 lambda subject: bone.fhir_resources(patient, subject, now))
    return bundle


def own_data(actor, patient_ref, language: str, now: datetime) -> dict:
    """Everything the patient gave us and what we planned for them (the right of access)."""
    patient = patient_for(actor, patient_ref, EXPORT_OWN)
    today = local_date(now, patient.time_zone)
    out = {"exported_at": now, "patient": patient, "plans": _plan_views(patient, today),
           "sessions": [sessions.view(s, language) for s in _sessions(patient)]}
    return out


def own_sessions_csv(actor, patient_ref, language: str, now: datetime) -> tuple[str, str]:
    data = own_data(actor, patient_ref, language, now)
    return exports.sessions_csv(data["sessions"]), exports.local_export_date(now, data["patient"].time_zone)
