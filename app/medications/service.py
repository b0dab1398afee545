"""Infrequent bone treatments and their doses: the next due date, what reminders and rules need.
Education only: nothing here advises on doses; it follows the schedule the care team records."""
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select

from app.access.policy import MANAGE, READ, patient_for
from app.common.clock import local_date, local_moment
from app.common.db import insert_ignoring_conflict, lock_row, patient_row_or_404
from app.common.notices import DueNotice
from app.common.pagination import Page, paginate
from app.common.views import Extends
from app.errors import ApiError
from app.extensions import db
from app.medications import catalogue
from app.medications.models import BoneDose, BoneTreatment
from app.medications.signals import dose_recorded, treatment_changed
from app.patients.models import Patient


def _active(today: date):
    return or_(BoneTreatment.end_date.is_(None), BoneTreatment.end_date >= today)


def _refuse_a_second_active(patient, medicine: str, today: date, other_than=None) -> None:
    """One active treatment per medicine (the caller holds the patient's lock): two would give two
    schedules of reminders, calendar events and overdue checks for one injection."""
    others = select(BoneTreatment.id).where(BoneTreatment.patient_id == patient.id,
                                            BoneTreatment.medicine == medicine, _active(today))
    if other_than is not None:
        others = others.where(BoneTreatment.id != other_than)
    if db.session.scalar(others.limit(1)):
        raise ApiError(409, "This medicine is already being recorded for the patient; end that treatment first.",
                       title="Conflict")


def create_treatment(actor, patient_ref, data: dict, now: datetime) -> tuple:
    patient = patient_for(actor, patient_ref, MANAGE)
    lock_row(Patient, patient.id)  # one active treatment per medicine, also with two requests at once
    today = local_date(now, patient.time_zone)
    entry = catalogue.medicines()[data["medicine"]]
    end = data.get("end_date")
    if entry["schedule"] == "daily_course" and end is None:
        raise ApiError(422, "A daily course is recorded with its end date.", errors={"end_date": ["Required."]})
    if end is not None and end < data["started_on"]:
        raise ApiError(422, "The treatment ends before it starts.", errors={"end_date": ["Before started_on."]})
    if data["started_on"] < patient.date_of_birth:
        raise ApiError(422, "A treatment cannot start before the patient's birth.", errors={"started_on": [
            f"Must be {patient.date_of_birth.isoformat()} (the date of birth) or later."]})
    _refuse_a_second_active(patient, data["medicine"], today)
    treatment = BoneTreatment(patient_id=patient.id, medicine=data["medicine"], started_on=data["started_on"],
                              end_date=end, created_by_id=actor.id, created_at=now, updated_at=now)
    treatment.next_due_on = catalogue.next_due(treatment.medicine, treatment.started_on, None, end)
    db.session.add(treatment)
    db.session.commit()
    treatment_changed.send(current_app._get_current_object(), treatment=treatment, change="created")
    return treatment, patient


def _treatment(patient, treatment_id) -> BoneTreatment:
    return patient_row_or_404(BoneTreatment, treatment_id, patient.id, "treatment")


def get_treatment(actor, patient_ref, treatment_id) -> tuple:
    patient = patient_for(actor, patient_ref, READ)
    return _treatment(patient, treatment_id), patient


def update_treatment(actor, patient_ref, treatment_id, data: dict, now: datetime) -> tuple:
    """Set or change the end date (stopping a treatment ends its reminders)."""
    patient = patient_for(actor, patient_ref, MANAGE)
    lock_row(Patient, patient.id)  # one active treatment per medicine, also with a create at once
    treatment = _treatment(patient, treatment_id)
    end = data["end_date"]
    if end is None and catalogue.medicines()[treatment.medicine]["schedule"] == "daily_course":
        raise ApiError(422, "A daily course keeps an end date.", errors={"end_date": ["Required."]})
    if end is not None and end < max(treatment.started_on, treatment.last_dose_on or treatment.started_on):
        raise ApiError(422, "The end date is on or after the start and the last dose.",
                       errors={"end_date": ["Before the start or the last dose."]})
    today = local_date(now, patient.time_zone)
    if end is None or end >= today:  # reopened or still running: not beside another active one
        _refuse_a_second_active(patient, treatment.medicine, today, other_than=treatment.id)
    treatment.end_date = end
    _refresh(treatment, now)
    db.session.commit()
    treatment_changed.send(current_app._get_current_object(), treatment=treatment, change="updated")
    return treatment, patient


def _refresh(treatment: BoneTreatment, now: datetime) -> None:
    treatment.last_dose_on = db.session.scalar(select(func.max(BoneDose.given_on))
                                               .where(BoneDose.treatment_id == treatment.id))
    treatment.next_due_on = catalogue.next_due(treatment.medicine, treatment.started_on,
                                               treatment.last_dose_on, treatment.end_date)
    treatment.updated_at = now


def list_treatments(actor, patient_ref, args: dict, now: datetime, language: str = "en") -> Page:
    """The page (args: page, per_page and the filters) of treatments, latest started first; due
    dates and status as of now, medicine names in language."""
    patient = patient_for(actor, patient_ref, READ)
    today = local_date(now, patient.time_zone)
    stmt = select(BoneTreatment).where(BoneTreatment.patient_id == patient.id) \
        .order_by(BoneTreatment.started_on.desc(), BoneTreatment.created_at.desc())
    if args.get("medicine"):
        stmt = stmt.where(BoneTreatment.medicine == args["medicine"])
    if args.get("active") is not None:
        stmt = stmt.where(_active(today) if args["active"] else ~_active(today))
    if args.get("overdue") is not None:
        overdue = and_(BoneTreatment.next_due_on.isnot(None), BoneTreatment.next_due_on < today)
        stmt = stmt.where(overdue if args["overdue"] else ~overdue)
    return paginate(stmt, args).map_all(
        lambda rows: treatment_views(rows, {patient.id: patient.time_zone}, now, language))


def record_dose(actor, patient_ref, treatment_id, data: dict, now: datetime) -> tuple:
    patient = patient_for(actor, patient_ref, MANAGE)
    lock_row(Patient, patient.id)
    treatment = _treatment(patient, treatment_id)
    today = local_date(now, patient.time_zone)
    if catalogue.medicines()[treatment.medicine]["schedule"] != "interval":
        raise ApiError(422, "A daily course is recorded as a course with its end date, not dose by dose.",
                       errors={"given_on": ["Not for a daily course."]})
    given = data["given_on"]
    latest = treatment.end_date if treatment.end_date and treatment.end_date < today else today
    if not treatment.started_on <= given <= latest:
        raise ApiError(422, "A dose is given within the treatment and not in the future.",
                       errors={"given_on": [f"Between {treatment.started_on.isoformat()} and {latest.isoformat()}."]})
    values = {"id": uuid.uuid4(), "treatment_id": treatment.id, "patient_id": patient.id, "given_on": given,
              "recorded_by_id": actor.id, "created_at": now}
    if not insert_ignoring_conflict(BoneDose, values, ["treatment_id", "given_on"]):
        raise ApiError(409, "A dose on this date is already recorded.", title="Conflict")
    _refresh(treatment, now)
    db.session.commit()
    dose = db.session.get(BoneDose, values["id"])
    dose_recorded.send(current_app._get_current_object(), dose=dose, treatment=treatment, change="created")
    return dose, treatment, patient


def delete_dose(actor, patient_ref, treatment_id, dose_id, now: datetime) -> None:
    """Remove a dose recorded in error; the next due date follows the doses left."""
    patient = patient_for(actor, patient_ref, MANAGE)
    lock_row(Patient, patient.id)
    treatment = _treatment(patient, treatment_id)
    dose = db.session.scalar(select(BoneDose).where(BoneDose.id == dose_id, BoneDose.treatment_id == treatment.id))
    if dose is None:
        raise ApiError(404, "No such dose for this treatment.", title="Not Found")
    db.session.delete(dose)
    db.session.flush()
    _refresh(treatment, now)
    db.session.commit()
    dose_recorded.send(current_app._get_current_object(), dose=dose, treatment=treatment, change="deleted")


def list_doses(actor, patient_ref, treatment_id, args: dict) -> Page:
    """The page (args: page, per_page, date_from, date_to) of the treatment's doses, latest first."""
    patient = patient_for(actor, patient_ref, READ)
    treatment = _treatment(patient, treatment_id)
    stmt = select(BoneDose).where(BoneDose.treatment_id == treatment.id).order_by(BoneDose.given_on.desc())
    if args.get("date_from"):
        stmt = stmt.where(BoneDose.given_on >= args["date_from"])
    if args.get("date_to"):
        stmt = stmt.where(BoneDose.given_on <= args["date_to"])
    return paginate(stmt, args)


@dataclass
class TreatmentOn(Extends):
    """A treatment as of the patient's local today, its medicine named in language: the rest is
    the row's (TreatmentSchema dumps it)."""

    treatment: BoneTreatment
    today: date
    language: str
    _extends = ("treatment",)

    @property
    def _entry(self) -> dict:
        return catalogue.medicines()[self.treatment.medicine]

    @property
    def medicine_name(self) -> str:
        return self._entry["name"].get(self.language, self._entry["name"]["en"])

    @property
    def schedule(self) -> str:
        return self._entry["schedule"]

    @property
    def interval_months(self) -> int | None:
        return catalogue.interval_months(self.treatment.medicine)

    @property
    def source(self) -> str:
        return " ".join(self._entry["source"].split())

    @property
    def days_overdue(self) -> int:
        due = self.treatment.next_due_on
        return (self.today - due).days if due and due < self.today else 0

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0

    @property
    def status(self) -> str:
        end = self.treatment.end_date
        return "active" if end is None or end >= self.today else "ended"


def treatment_views(treatments: list[BoneTreatment], zones: dict, now: datetime, language: str) -> list[TreatmentOn]:
    """zones: {patient_id: IANA time zone}, for each patient's today."""
    return [TreatmentOn(t, local_date(now, zones[t.patient_id]), language) for t in treatments]


def treatment_view(treatment, patient, now: datetime, language: str) -> TreatmentOn:
    return treatment_views([treatment], {patient.id: patient.time_zone}, now, language)[0]


# --- for reminders (10a's materialiser), rules (11) and the calendar -------------------------

def _payload(treatment: BoneTreatment, day: date) -> dict:
    name = catalogue.medicines()[treatment.medicine]["name"]
    return {"treatment_id": str(treatment.id), "medicine": treatment.medicine,
            "medicine_name": {"en": name["en"], "zh-CN": name["zh-CN"]}, "date": day.isoformat()}


_DOSE_KINDS = {14: "medication_due_in_14_days", 1: "medication_due_tomorrow", 0: "medication_due_today"}
_COURSE_KINDS = {14: "medication_course_ends_in_14_days", 1: "medication_course_ends_tomorrow"}


def due_notices(start: datetime, end: datetime) -> list[DueNotice]:
    """Every medication reminder whose due_at (UTC) falls in [start, end): a dose due in 14 days,
    tomorrow and today; a daily course ending in 14 days and tomorrow. One query."""
    days_before, at = catalogue.reminder_settings()
    offsets = sorted(set(days_before) | {0})
    first, last = start.date() - timedelta(days=1), end.date() + timedelta(days=1)

    def window(column, days):
        return or_(*[column.between(first + timedelta(days=d), last + timedelta(days=d)) for d in days])

    daily = [slug for slug, entry in catalogue.medicines().items() if entry["schedule"] == "daily_course"]
    rows = db.session.execute(
        select(BoneTreatment, Patient.time_zone).join(Patient, Patient.id == BoneTreatment.patient_id)
        .where(or_(window(BoneTreatment.next_due_on, offsets),
                   and_(BoneTreatment.medicine.in_(daily), window(BoneTreatment.end_date, days_before))))).all()
    notices = []
    for treatment, zone in rows:
        if treatment.next_due_on is not None:
            for d in offsets:
                due_at = local_moment(treatment.next_due_on - timedelta(days=d), at, zone)
                if start <= due_at < end and d in _DOSE_KINDS:
                    notices.append(DueNotice(
                        treatment.patient_id, _DOSE_KINDS[d],
                        f"medication-dose:{treatment.id}:{treatment.next_due_on.isoformat()}:{d}d", due_at,
                        _payload(treatment, treatment.next_due_on)))
        if treatment.medicine in daily and treatment.end_date is not None:
            for d in days_before:
                due_at = local_moment(treatment.end_date - timedelta(days=d), at, zone)
                if start <= due_at < end and d in _COURSE_KINDS:
                    notices.append(DueNotice(
                        treatment.patient_id, _COURSE_KINDS[d],
                        f"medication-course-end:{treatment.id}:{treatment.end_date.isoformat()}:{d}d", due_at,
                        _payload(treatment, treatment.end_date)))
    return notices


def dose_status(patient_ids, now: datetime, overdue_only: bool = False) -> list[dict]:
    """For rules: per patient and active interval treatment, the last dose date, the next due date
    and how many days (patient-local) it is overdue. One query."""
    rows = db.session.execute(
        select(BoneTreatment, Patient.time_zone).join(Patient, Patient.id == BoneTreatment.patient_id)
        .where(BoneTreatment.patient_id.in_(list(patient_ids)), BoneTreatment.next_due_on.isnot(None))).all()
    out = []
    for treatment, zone in rows:
        today = local_date(now, zone)
        late = max(0, (today - treatment.next_due_on).days)
        if overdue_only and not late:
            continue
        out.append({"patient_id": treatment.patient_id, "treatment_id": treatment.id,
                    "medicine": treatment.medicine, "last_dose_on": treatment.last_dose_on,
                    "next_due_on": treatment.next_due_on, "days_overdue": late})
    return out


def calendar_entries(patient_id) -> list[tuple[BoneTreatment, str, date]]:
    """For the calendar feed: (treatment, "dose_due" | "course_ends", date) for treatments with
    something still ahead or overdue."""
    rows = db.session.scalars(select(BoneTreatment).where(
        BoneTreatment.patient_id == patient_id,
        or_(BoneTreatment.next_due_on.isnot(None), BoneTreatment.end_date.isnot(None))))
    entries = []
    for t in rows:
        if t.next_due_on is not None:
            entries.append((t, "dose_due", t.next_due_on))
        elif catalogue.medicines()[t.medicine]["schedule"] == "daily_course":
            entries.append((t, "course_ends", t.end_date))
    return entries


def profile_date_errors(sender, patient, date_of_birth: date, injury_date: date) -> dict:
    """For a profile change (app/patients/signals.py): a treatment on record started before the
    new date of birth."""
    first = db.session.scalar(select(func.min(BoneTreatment.started_on)).where(BoneTreatment.patient_id == patient.id))
    if first is not None and first < date_of_birth:
        return {"date_of_birth": [f"Must be {first.isoformat()} (a bone treatment's start on record) or earlier."]}
    return {}
