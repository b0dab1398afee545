"""DXA results (change against the least significant change, knee fracture risk), the per-patient
monitoring protocol, follow-ups with appointments, and what is due for reminders and rules."""
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select

from app.access.policy import MANAGE, READ, patient_for
from app.common.clock import local_date, local_moment
from app.common.db import delete_row, insert_ignoring_conflict, lock_row, patient_row_or_404
from app.common.notices import DueNotice
from app.common.pagination import Page, paginate
from app.common.views import Extends
from app.dxa import content
from app.dxa.models import KNEE_SITES, OPEN_STATUSES, DxaFollowUp, DxaProtocol, DxaResult
from app.dxa.signals import dxa_result_written, followup_changed
from app.errors import ApiError
from app.extensions import db
from app.patients.models import Patient

FINAL_STATUSES = ("done", "missed", "cancelled")
# Patient-local dates lie within a day of UTC ones: select a little wider, then filter exactly.
_SLACK = timedelta(days=2)


# --- results ------------------------------------------------------------------------------

def _not_after_today(value: date, today: date, field: str) -> None:
    if value > today:
        raise ApiError(422, "A scan cannot be dated in the future.",
                       errors={field: [f"Must be {today.isoformat()} (the patient's today) or earlier."]})


def _not_before(value: date | None, bound: date, what: str, field: str) -> dict:
    """The field error of a date before bound (what names it: "the date of birth"), or none."""
    return {field: [f"Must be {bound.isoformat()} ({what}) or later."]} if value and value < bound else {}


def _refuse(errors: dict, detail: str) -> None:
    if errors:
        raise ApiError(422, detail, errors=errors)


def create_result(actor, patient_ref, data: dict, now: datetime, language: str) -> "ResultWithChange":
    patient = patient_for(actor, patient_ref, MANAGE)
    lock_row(Patient, patient.id)  # two writes at once cannot both plan a follow-up
    today = local_date(now, patient.time_zone)
    _not_after_today(data["scan_date"], today, "scan_date")
    _refuse(_not_before(data["scan_date"], patient.date_of_birth, "the date of birth", "scan_date"),
            "A scan cannot be dated before the patient's birth.")
    earlier_scans = _scan_dates(patient.id)
    values = {"id": uuid.uuid4(), "patient_id": patient.id, "scan_date": data["scan_date"], "site": data["site"],
              "side": data.get("side", "none"), "bmd": round(data["bmd"], 3), "t_score": data.get("t_score"),
              "z_score": data.get("z_score"), "centre": data.get("centre"), "machine": data.get("machine"),
              "entered_by_id": actor.id, "created_at": now}
    if not insert_ignoring_conflict(DxaResult, values, ["patient_id", "site", "side", "scan_date"]):
        raise ApiError(409, "A result for this site and side on this scan date is already recorded.",
                       title="Conflict")
    result = db.session.get(DxaResult, values["id"])
    if data["scan_date"] not in earlier_scans:
        _complete_open_followup(patient, data["scan_date"], earlier_scans, actor, now)
    _commit()
    dxa_result_written.send(current_app._get_current_object(), result=result, change="created")
    return result_views([result], language)[0]


def delete_result(actor, patient_ref, result_id, now: datetime) -> None:
    """Remove a result entered in error (audited as a write); the last result of a scan date
    takes back what entering it did to the follow-ups."""
    patient = patient_for(actor, patient_ref, MANAGE)
    lock_row(Patient, patient.id)  # the follow-ups are rewritten, as by a result's write
    result = _result(patient, result_id)
    if not delete_row(result):  # deleted by another request at once
        raise ApiError(404, "No such DXA result for this patient.", title="Not Found")
    if not _has_results_on(patient.id, result.scan_date):
        _take_back_scan(patient, result.scan_date, actor, now)
    _commit()
    dxa_result_written.send(current_app._get_current_object(), result=result, change="deleted")


def _result(patient, result_id) -> DxaResult:
    return patient_row_or_404(DxaResult, result_id, patient.id, "DXA result")


def get_result(actor, patient_ref, result_id, language: str) -> "ResultWithChange":
    patient = patient_for(actor, patient_ref, READ)
    return result_views([_result(patient, result_id)], language)[0]


def list_results(actor, patient_ref, args: dict, language: str = "en") -> Page:
    """The page (args: page, per_page and the filters) of results, newest first, each with its
    change and explanation in language."""
    patient = patient_for(actor, patient_ref, READ)
    stmt = select(DxaResult).where(DxaResult.patient_id == patient.id) \
        .order_by(DxaResult.scan_date.desc(), DxaResult.site, DxaResult.side)
    if args.get("site"):
        stmt = stmt.where(DxaResult.site == args["site"])
    if args.get("side"):
        stmt = stmt.where(DxaResult.side == args["side"])
    if args.get("date_from"):
        stmt = stmt.where(DxaResult.scan_date >= args["date_from"])
    if args.get("date_to"):
        stmt = stmt.where(DxaResult.scan_date <= args["date_to"])
    if args.get("high_fracture_risk") is not None:
        risky = and_(DxaResult.site.in_(KNEE_SITES),
                     DxaResult.bmd < float(content.knee_threshold()))
        stmt = stmt.where(risky if args["high_fracture_risk"] else ~risky)
    return paginate(stmt, args).map_all(lambda rows: result_views(rows, language))


def _history(patient_ids) -> dict:
    """{(patient_id, site, side): [results, oldest first]} in one query."""
    rows = db.session.scalars(select(DxaResult).where(DxaResult.patient_id.in_(patient_ids))
                              .order_by(DxaResult.scan_date))
    history: dict = {}
    for row in rows:
        history.setdefault((row.patient_id, row.site, row.side), []).append(row)
    return history


def _with_change(result: DxaResult, series: list[DxaResult]) -> dict | None:
    earlier = [r for r in series if r.scan_date < result.scan_date]
    return content.change(result, earlier[-1] if earlier else None)


@dataclass
class ResultWithChange(Extends):
    """A result with its change from the previous scan at the same site and side, and its
    explanation in language: the rest is the row's (DxaResultSchema dumps it)."""

    result: DxaResult
    change: dict | None
    language: str
    _extends = ("result",)

    @property
    def high_fracture_risk(self) -> bool:
        return content.high_fracture_risk(self.result.site, self.result.bmd)

    @property
    def explanation(self):
        return content.explanation(self.result, self.change, self.language)


def result_views(results: list[DxaResult], language: str) -> list[ResultWithChange]:
    """Each result with its change (one query for the history of all of them)."""
    history = _history(list({r.patient_id for r in results})) if results else {}
    return [ResultWithChange(r, _with_change(r, history.get((r.patient_id, r.site, r.side), [r])), language)
            for r in results]


# --- protocol and follow-ups ------------------------------------------------------------------

def _scan_dates(patient_id) -> set[date]:
    results = db.session.scalars(select(DxaResult.scan_date).where(DxaResult.patient_id == patient_id))
    done = db.session.scalars(select(DxaFollowUp.completed_on).where(
        DxaFollowUp.patient_id == patient_id, DxaFollowUp.status == "done", DxaFollowUp.completed_on.isnot(None),
        DxaFollowUp.closed_by_result.is_(False)))  # a result's closure is on its result's date
    return set(results) | set(done)


def _protocol_row(patient_id) -> DxaProtocol | None:
    return db.session.get(DxaProtocol, patient_id)


def protocol_view(patient, now: datetime) -> dict:
    patient_id = patient.id
    row = _protocol_row(patient_id)
    open_followup = _open_followup(patient_id)
    seed = content.protocol()
    return {
        "patient_id": patient_id,
        "medically_stable_on": row.medically_stable_on if row else None,
        "treatment_started_on": row.treatment_started_on if row else None,
        "interval_months": row.interval_months if row else content.default_interval_months(),
        "sites": seed["sites"], "steps": content.protocol_steps(), "source": " ".join(seed["source"].split()),
        "next_followup": followup_view(open_followup, patient, now) if open_followup else None,
    }


def get_protocol(actor, patient_ref, now: datetime) -> dict:
    patient = patient_for(actor, patient_ref, READ)
    return protocol_view(patient, now)


def put_protocol(actor, patient_ref, data: dict, now: datetime) -> dict:
    patient = patient_for(actor, patient_ref, MANAGE)
    lock_row(Patient, patient.id)
    low, high = content.interval_bounds()
    months = data.get("interval_months", content.default_interval_months())
    if not low <= months <= high:
        raise ApiError(422, "The interval follows the protocol (every 1 to 2 years).",
                       errors={"interval_months": [f"Between {low} and {high} months."]})
    _refuse(_not_before(data.get("medically_stable_on"), patient.injury_date, "the injury date", "medically_stable_on")
            | _not_before(data.get("treatment_started_on"), patient.date_of_birth, "the date of birth",
                          "treatment_started_on"),
            "Medically stable comes after the injury, a treatment after birth.")
    row = _protocol_row(patient.id)
    if row is None:
        row = DxaProtocol(patient_id=patient.id)
        db.session.add(row)
    row.medically_stable_on = data.get("medically_stable_on")
    row.treatment_started_on = data.get("treatment_started_on")
    row.interval_months = months
    row.updated_by_id = actor.id
    db.session.flush()
    _reschedule_open_due(patient, actor, now)
    _commit()
    return protocol_view(patient, now)


def _open_followup(patient_id) -> DxaFollowUp | None:
    return db.session.scalar(select(DxaFollowUp).where(DxaFollowUp.patient_id == patient_id,
                                                       DxaFollowUp.status.in_(OPEN_STATUSES))
                             .order_by(DxaFollowUp.due_date).limit(1))


def _planned(patient_id, scan_dates: set[date]) -> content.NextScan | None:
    row = _protocol_row(patient_id)
    return content.next_scan(sorted(scan_dates), row.medically_stable_on if row else None,
                             row.treatment_started_on if row else None,
                             row.interval_months if row else content.default_interval_months())


def plan_next(patient, actor, now: datetime) -> DxaFollowUp | None:
    """Create the follow-up the protocol calls for next, unless one is open. The caller holds the
    patient's lock and commits."""
    if _open_followup(patient.id) is not None:
        return None
    nxt = _planned(patient.id, _scan_dates(patient.id))
    if nxt is None:
        return None
    followup = DxaFollowUp(patient_id=patient.id, kind=nxt.kind, due_date=nxt.due_date, status="due",
                           created_by_id=actor.id if actor else None, created_at=now, updated_at=now)
    db.session.add(followup)
    db.session.flush()
    _changed(followup, "created")
    return followup


def _reschedule_open_due(patient, actor, now: datetime) -> None:
    """After a protocol change: an unbooked follow-up the protocol planned moves to the new date."""
    open_followup = _open_followup(patient.id)
    if open_followup is None:
        plan_next(patient, actor, now)
        return
    if open_followup.status != "due":
        return
    nxt = _planned(patient.id, _scan_dates(patient.id))
    if nxt is not None and nxt.kind == open_followup.kind and nxt.due_date != open_followup.due_date:
        open_followup.due_date = nxt.due_date
        open_followup.updated_at = now
        _changed(open_followup, "updated")


def _complete_open_followup(patient, scan_date: date, earlier_scans: set[date], actor, now) -> None:
    """A result from a new scan date closes the open follow-up and plans the next one."""
    if earlier_scans and scan_date < max(earlier_scans):
        return  # an older scan entered late: history, not the follow-up
    open_followup = _open_followup(patient.id)
    if open_followup is not None:
        open_followup.status = "done"
        open_followup.completed_on = scan_date
        open_followup.closed_by_result = True
        open_followup.updated_at = now
        _changed(open_followup, "updated")
    db.session.flush()
    plan_next(patient, actor, now)


def _has_results_on(patient_id, scan_date: date) -> bool:
    return db.session.scalar(select(DxaResult.id).where(DxaResult.patient_id == patient_id,
                                                        DxaResult.scan_date == scan_date).limit(1)) is not None


def _take_back_scan(patient, scan_date: date, actor, now) -> None:
    """Once scan_date has no result left, the follow-ups become what the scans left plan: the open
    one stays if it is what they plan (or booked, or moved by hand to a date of the right kind); the
    follow-ups closed by a scan gone open again as they were if one is what is owed, else are
    cancelled; then the next is planned from the scans left, as recording only them would have."""
    left = _scan_dates(patient.id)
    orphans = _closed_by_scans_gone(patient.id, left)
    later = sorted(day for day in left if day > scan_date)
    if later:
        orphans = _hand_over_closure(patient.id, orphans, scan_date, later[0], now)
    nxt = _planned(patient.id, left)
    _drop_open_not_owed(patient.id, nxt, _planned(patient.id, left | {scan_date}))
    _reopen_or_cancel(orphans, nxt if _open_followup(patient.id) is None else None, left, now)
    db.session.flush()
    plan_next(patient, actor, now)


def _closed_by_scans_gone(patient_id, scan_dates: set[date]) -> list[DxaFollowUp]:
    return [f for f in db.session.scalars(select(DxaFollowUp).where(
        DxaFollowUp.patient_id == patient_id, DxaFollowUp.status == "done",
        DxaFollowUp.closed_by_result.is_(True)).order_by(DxaFollowUp.due_date))
        if f.completed_on not in scan_dates]


def _hand_over_closure(patient_id, orphans: list[DxaFollowUp], scan_date: date, later: date,
                       now) -> list[DxaFollowUp]:
    """The follow-up scan_date closed is closed by the next scan left instead, as if scan_date had
    never been recorded; the one that scan closed (planned after scan_date) is the orphan then."""
    gone = [f for f in orphans if f.completed_on == scan_date]
    if not gone:
        return orphans
    moved = gone[-1]
    freed = db.session.scalar(select(DxaFollowUp).where(
        DxaFollowUp.patient_id == patient_id, DxaFollowUp.status == "done",
        DxaFollowUp.completed_on == later, DxaFollowUp.closed_by_result.is_(True)).limit(1))
    moved.completed_on, moved.updated_at = later, now
    _changed(moved, "updated")
    return [f for f in orphans if f is not moved] + ([freed] if freed is not None else [])


def _drop_open_not_owed(patient_id, nxt: content.NextScan | None, planned_with_gone: content.NextScan | None) -> None:
    """The open follow-up goes unless it is what the scans left plan, is booked, or is of the kind
    they plan on a date moved by hand (neither what they plan nor what the deleted scan planned)."""
    open_followup = _open_followup(patient_id)
    if open_followup is None or open_followup.status != "due":
        return
    if nxt is not None and open_followup.kind == nxt.kind and (
            open_followup.due_date == nxt.due_date
            or planned_with_gone is None or open_followup.due_date != planned_with_gone.due_date):
        return
    delete_row(open_followup)
    _changed(open_followup, "deleted")


def _reopen_or_cancel(orphans: list[DxaFollowUp], owed: content.NextScan | None, scan_dates: set[date],
                      now) -> None:
    """The latest orphan of the kind owed opens again as it was (due on the date planned if its own
    is no longer after the latest scan left); the others are cancelled, no scan having closed them."""
    reopened = next((f for f in reversed(orphans) if owed is not None and f.kind == owed.kind), None)
    for followup in orphans:
        followup.completed_on, followup.closed_by_result, followup.updated_at = None, False, now
        if followup is reopened:
            followup.status = "booked" if followup.appointment_date else "due"
            if followup.status == "due" and scan_dates and followup.due_date <= max(scan_dates):
                followup.due_date = owed.due_date
        else:
            followup.status = "cancelled"
        _changed(followup, "updated")


_CHANGED = "dxa.followups_changed"


def _changed(followup: DxaFollowUp, change: str) -> None:
    """Announced by _commit, once the change is stored: a receiver may run its own transaction."""
    db.session.info.setdefault(_CHANGED, []).append((followup, change))


def _commit() -> None:
    changed = db.session.info.pop(_CHANGED, [])
    db.session.commit()
    app = current_app._get_current_object()
    for followup, change in changed:
        followup_changed.send(app, followup=followup, change=change)


def list_followups(actor, patient_ref, args: dict, now: datetime) -> Page:
    """The page (args: page, per_page and the filters) of follow-ups, latest due first; overdue as of now."""
    patient = patient_for(actor, patient_ref, READ)
    stmt = select(DxaFollowUp).where(DxaFollowUp.patient_id == patient.id) \
        .order_by(DxaFollowUp.due_date.desc(), DxaFollowUp.created_at.desc())
    if args.get("status"):
        stmt = stmt.where(DxaFollowUp.status.in_(args["status"]))
    if args.get("date_from"):
        stmt = stmt.where(DxaFollowUp.due_date >= args["date_from"])
    if args.get("date_to"):
        stmt = stmt.where(DxaFollowUp.due_date <= args["date_to"])
    return paginate(stmt, args).map_all(lambda rows: followup_views(rows, {patient.id: patient.time_zone}, now))


def _followup(patient, followup_id) -> DxaFollowUp:
    return patient_row_or_404(DxaFollowUp, followup_id, patient.id, "DXA follow-up")


def get_followup(actor, patient_ref, followup_id) -> tuple:
    patient = patient_for(actor, patient_ref, READ)
    return _followup(patient, followup_id), patient


def create_followup(actor, patient_ref, data: dict, now: datetime) -> tuple:
    """A follow-up outside the protocol's plan (for example an extra scan); one open at a time."""
    patient = patient_for(actor, patient_ref, MANAGE)
    lock_row(Patient, patient.id)
    if _open_followup(patient.id) is not None:
        raise ApiError(409, "This patient already has an open DXA follow-up; change that one.", title="Conflict")
    _due_after_the_latest_scan(patient, data["due_date"])
    followup = DxaFollowUp(patient_id=patient.id, kind=data["kind"], due_date=data["due_date"], status="due",
                           created_by_id=actor.id, created_at=now, updated_at=now)
    db.session.add(followup)
    db.session.flush()
    if data.get("appointment"):
        _book(followup, data["appointment"], local_date(now, patient.time_zone))
    _changed(followup, "created")
    _commit()
    return followup, patient


def _due_after_the_latest_scan(patient, due: date) -> None:
    """A follow-up is the scan after the latest one (and after birth): it is not due before it."""
    scans = _scan_dates(patient.id)
    bound, what = (max(scans), "the latest scan") if scans else (patient.date_of_birth, "the date of birth")
    _refuse(_not_before(due, bound, what, "due_date"), f"A follow-up is due on or after {what}.")


def _book(followup: DxaFollowUp, appointment: dict, today: date) -> None:
    if appointment["date"] < today:
        raise ApiError(422, "An appointment is booked for today or later.",
                       errors={"appointment": {"date": [f"Must be {today.isoformat()} or later."]}})
    followup.appointment_date = appointment["date"]
    followup.appointment_time = appointment["time"]
    followup.appointment_place = appointment["place"]
    followup.status = "booked"


def update_followup(actor, patient_ref, followup_id, data: dict, now: datetime) -> tuple:
    """Book (or rebook) an appointment, move the due date, or close the follow-up."""
    patient = patient_for(actor, patient_ref, MANAGE)
    lock_row(Patient, patient.id)
    followup = _followup(patient, followup_id)
    if followup.status in FINAL_STATUSES:
        raise ApiError(409, f"This follow-up is {followup.status}; plan a new one instead.", title="Conflict")
    today = local_date(now, patient.time_zone)
    if "due_date" in data:
        _due_after_the_latest_scan(patient, data["due_date"])
        followup.due_date = data["due_date"]
    if "appointment" in data:
        if data["appointment"] is None:
            followup.appointment_date = followup.appointment_time = followup.appointment_place = None
            followup.status = "due"
        else:
            _book(followup, data["appointment"], today)
    status = data.get("status")
    if status == "booked" and followup.appointment_date is None:
        raise ApiError(422, "Book with an appointment (date, time, place).",
                       errors={"appointment": ["Needed to book."]})
    if status == "due" and "appointment" not in data:
        followup.appointment_date = followup.appointment_time = followup.appointment_place = None
        followup.status = "due"
    if status in FINAL_STATUSES:
        followup.status = status
        if status == "done":
            done_on = data.get("completed_on") or followup.appointment_date or today
            if done_on > today:
                raise ApiError(422, "A scan is done on or before today.",
                               errors={"completed_on": [f"Must be {today.isoformat()} or earlier."]})
            _refuse(_not_before(done_on, patient.date_of_birth, "the date of birth", "completed_on"),
                    "A scan cannot be dated before the patient's birth.")
            followup.completed_on = done_on
    elif "completed_on" in data:
        raise ApiError(422, "completed_on goes with status done.", errors={"completed_on": ["Only with status done."]})
    followup.updated_at = now
    _changed(followup, "updated")
    db.session.flush()
    if followup.status in ("done", "missed"):
        if followup.status == "missed":
            _replan_missed(patient, followup, actor, now)
        else:
            plan_next(patient, actor, now)
    _commit()
    return followup, patient


def _replan_missed(patient, missed: DxaFollowUp, actor, now) -> None:
    """A missed scan is still owed: the same step is due again at once."""
    today = local_date(now, patient.time_zone)
    again = DxaFollowUp(patient_id=patient.id, kind=missed.kind, due_date=max(missed.due_date, today),
                        status="due", created_by_id=actor.id, created_at=now, updated_at=now)
    db.session.add(again)
    db.session.flush()
    _changed(again, "created")


@dataclass
class FollowUpOn(Extends):
    """A follow-up as of its patient's local today, in its patient's time zone: the rest is the
    row's (DxaFollowUpSchema dumps it)."""

    followup: DxaFollowUp
    zone: str
    today: date
    _extends = ("followup",)

    @property
    def appointment(self) -> dict | None:
        f = self.followup
        if f.appointment_date is None:
            return None
        return {"date": f.appointment_date, "time": f.appointment_time, "place": f.appointment_place,
                "starts_at": local_moment(f.appointment_date, f.appointment_time, self.zone)}

    @property
    def overdue(self) -> bool:
        f = self.followup
        return f.status in OPEN_STATUSES and f.due_date < self.today \
            and (f.appointment_date is None or f.appointment_date < self.today)


def followup_view(followup: DxaFollowUp, patient, now: datetime) -> FollowUpOn:
    return followup_views([followup], {patient.id: patient.time_zone}, now)[0]


def followup_views(followups: list[DxaFollowUp], zones: dict, now: datetime) -> list[FollowUpOn]:
    """zones: {patient_id: IANA time zone}."""
    return [FollowUpOn(f, zones[f.patient_id], local_date(now, zones[f.patient_id])) for f in followups]


# --- for reminders (10a's materialiser), rules (11) and the calendar -------------------------

def _reminder_settings() -> tuple[list[int], str]:
    reminders = content.protocol()["reminders"]
    return reminders["days_before_appointment"], reminders["local_time"]


_APPOINTMENT_KINDS = {14: "dxa_appointment_in_14_days", 1: "dxa_appointment_tomorrow"}


def due_notices(start: datetime, end: datetime) -> list[DueNotice]:
    """Every DXA reminder whose due_at (UTC) falls in [start, end): appointments in 14 days and in
    1 day, and follow-ups falling due unbooked. One query whatever the number of patients."""
    days_before, at = _reminder_settings()
    # Patient-local dates can be a day either side of the UTC dates: over-select, then filter exactly.
    first, last = start.date() - timedelta(days=1), end.date() + timedelta(days=1)
    appointment_window = or_(*[DxaFollowUp.appointment_date.between(first + timedelta(days=d),
                                                                     last + timedelta(days=d))
                               for d in days_before])
    rows = db.session.execute(
        select(DxaFollowUp, Patient.time_zone).join(Patient, Patient.id == DxaFollowUp.patient_id).where(or_(
            and_(DxaFollowUp.status == "booked", appointment_window),
            and_(DxaFollowUp.status == "due", or_(DxaFollowUp.due_date.between(first, last),
                                                  and_(DxaFollowUp.due_date < first,
                                                       DxaFollowUp.created_at >= start - _SLACK)))))
    ).all()
    notices = []
    for followup, zone in rows:
        if followup.status == "booked":
            for d in days_before:
                due_at = local_moment(followup.appointment_date - timedelta(days=d), at, zone)
                if start <= due_at < end:
                    notices.append(DueNotice(
                        followup.patient_id, _APPOINTMENT_KINDS.get(d, "dxa_appointment_in_14_days"),
                        f"dxa-appointment:{followup.id}:{followup.appointment_date.isoformat()}:{d}d", due_at,
                        {"followup_id": str(followup.id), "date": followup.appointment_date.isoformat(),
                         "time": followup.appointment_time, "place": followup.appointment_place, "days_before": d}))
        else:
            due_at = _first_reminder_at_or_after(followup.due_date, at, zone, followup.created_at)
            if start <= due_at < end:
                notices.append(DueNotice(
                    followup.patient_id, "dxa_followup_due",
                    f"dxa-followup-due:{followup.id}:{followup.due_date.isoformat()}", due_at,
                    {"followup_id": str(followup.id), "due_date": followup.due_date.isoformat(),
                     "kind": followup.kind}))
    return notices


def _first_reminder_at_or_after(day: date, at: str, zone: str, not_before: datetime) -> datetime:
    """The reminder time on day; for a follow-up created already past it, the next one after."""
    moment = local_moment(day, at, zone)
    if moment >= not_before:
        return moment
    later = local_date(not_before, zone)
    moment = local_moment(later, at, zone)
    return moment if moment >= not_before else local_moment(later + timedelta(days=1), at, zone)


def latest_results(patient_ids) -> list[dict]:
    """For rules: per patient, site and side, the latest result with its change against the LSC
    and the knee flag. One query."""
    out = []
    for (patient_id, site, side), series in _history(list(patient_ids)).items():
        latest = series[-1]
        out.append({"patient_id": patient_id, "site": site, "side": side, "result_id": latest.id,
                    "scan_date": latest.scan_date, "bmd": latest.bmd,
                    "change": _with_change(latest, series),
                    "high_fracture_risk": content.high_fracture_risk(site, latest.bmd)})
    return out


def overdue_followups(patient_ids, days: int, now: datetime) -> list[dict]:
    """For rules: open follow-ups more than `days` past their due date (patient-local) with no
    appointment still to come. One query."""
    rows = db.session.execute(
        select(DxaFollowUp, Patient.time_zone).join(Patient, Patient.id == DxaFollowUp.patient_id)
        .where(DxaFollowUp.patient_id.in_(list(patient_ids)), DxaFollowUp.status.in_(OPEN_STATUSES),
               DxaFollowUp.due_date < now.date() - timedelta(days=days) + _SLACK)).all()
    out = []
    for followup, zone in rows:
        today = local_date(now, zone)
        late = (today - followup.due_date).days
        upcoming = followup.appointment_date is not None and followup.appointment_date >= today
        if late > days and not upcoming:
            out.append({"patient_id": followup.patient_id, "followup_id": followup.id, "kind": followup.kind,
                        "due_date": followup.due_date, "status": followup.status, "days_overdue": late})
    return out


def booked_appointments(patient_id) -> list[tuple[DxaFollowUp, datetime]]:
    """For the calendar feed: booked follow-ups with their start in UTC."""
    zone = db.session.scalar(select(Patient.time_zone).where(Patient.id == patient_id))
    rows = db.session.scalars(select(DxaFollowUp).where(DxaFollowUp.patient_id == patient_id,
                                                        DxaFollowUp.status == "booked")
                              .order_by(DxaFollowUp.appointment_date))
    return [(f, local_moment(f.appointment_date, f.appointment_time, zone)) for f in rows]


def profile_date_errors(sender, patient, date_of_birth: date, injury_date: date) -> dict:
    """For a profile change (app/patients/signals.py): the field errors these birth and injury
    dates would give the patient's DXA records (a scan before birth, stable before the injury)."""
    scans = _scan_dates(patient.id)
    row = _protocol_row(patient.id)
    errors: dict = {}
    earliest = min([d for d in (*scans, row.treatment_started_on if row else None) if d], default=None)
    if earliest is not None and earliest < date_of_birth:
        errors["date_of_birth"] = [f"Must be {earliest.isoformat()} (the first DXA scan or bone treatment "
                                   "on record) or earlier."]
    if row is not None and row.medically_stable_on and row.medically_stable_on < injury_date:
        errors["injury_date"] = [f"Must be {row.medically_stable_on.isoformat()} (medically stable, "
                                 "in the DXA protocol) or earlier."]
    return errors
