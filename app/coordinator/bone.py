"""What the coordinator sees of DXA (app/dxa) and bone medicines (app/medications): next due
dates for the caseload, timeline entries, FHIR resources. Each part is empty while its
domain is not installed, so the caseload, timeline and export work without them."""
from datetime import datetime, timedelta
from importlib.util import find_spec

from sqlalchemy import select

from app.common.clock import local_date
from app.extensions import db

# LOINC T-scores named in CLINICAL.md (US Core examples); a BMD value itself carries a local code.
T_SCORE_LOINC = {"distal_femur": ("80948-3", "Femur [T-score] Bone density"),
                 "femoral_neck": ("80948-3", "Femur [T-score] Bone density"),
                 "total_hip": ("80946-7", "Hip [T-score] Bone density")}
LOCAL_CODES = "https://standstrong.app/fhir/CodeSystem/dxa-site"


def has_dxa() -> bool:
    return find_spec("app.dxa") is not None


def has_medications() -> bool:
    return find_spec("app.medications") is not None


def due(ids, now: datetime, zones: dict) -> dict:
    """{patient_id: {next_dxa_due, dxa_overdue, next_dose_due, dose_overdue}}: one query per domain."""
    out = {pid: {"next_dxa_due": None, "dxa_overdue": False, "next_dose_due": None, "dose_overdue": False}
           for pid in ids}
    if has_dxa():
        from app.dxa.models import OPEN_STATUSES, DxaFollowUp

        rows = db.session.execute(select(DxaFollowUp.patient_id, DxaFollowUp.due_date, DxaFollowUp.appointment_date)
                                  .where(DxaFollowUp.patient_id.in_(ids), DxaFollowUp.status.in_(OPEN_STATUSES)))
        for pid, due_date, appointment in rows:
            entry, today = out[pid], local_date(now, zones[pid])
            when = appointment or due_date
            if entry["next_dxa_due"] is None or when < entry["next_dxa_due"]:
                entry["next_dxa_due"] = when
            entry["dxa_overdue"] = entry["dxa_overdue"] or (due_date < today and not (appointment and appointment >= today))
    if has_medications():
        from app.medications import service as medications

        for row in medications.dose_status(ids, now):
            entry = out[row["patient_id"]]
            if entry["next_dose_due"] is None or row["next_due_on"] < entry["next_dose_due"]:
                entry["next_dose_due"] = row["next_due_on"]
            entry["dose_overdue"] = entry["dose_overdue"] or row["days_overdue"] > 0
    return out


def timeline_parts(patient_id, entry) -> dict:
    """{kind: SELECT (at, kind, ref)} for the timeline's UNION."""
    parts = {}
    if has_dxa():
        from app.dxa.models import DxaResult

        parts["dxa_result"] = entry(DxaResult.created_at, "dxa_result", DxaResult.id).where(
            DxaResult.patient_id == patient_id)
    if has_medications():
        from app.medications.models import BoneDose

        parts["dose"] = entry(BoneDose.created_at, "dose", BoneDose.id).where(BoneDose.patient_id == patient_id)
    return parts


def timeline_details(kind: str, ids: set) -> dict:
    """{id: view} for the page's DXA results or doses (one query)."""
    if kind == "dxa_result":
        from app.dxa.models import DxaResult

        rows = db.session.scalars(select(DxaResult).where(DxaResult.id.in_(ids)))
        return {r.id: {"id": r.id, "scan_date": r.scan_date, "site": r.site, "side": r.side, "bmd": r.bmd,
                       "t_score": r.t_score, "z_score": r.z_score} for r in rows}
    from app.medications.models import BoneDose, BoneTreatment

    rows = db.session.execute(select(BoneDose, BoneTreatment.medicine)
                              .join(BoneTreatment, BoneTreatment.id == BoneDose.treatment_id)
                              .where(BoneDose.id.in_(ids)))
    return {d.id: {"id": d.id, "treatment_id": d.treatment_id, "medicine": medicine, "given_on": d.given_on}
            for d, medicine in rows}


def fhir_resources(patient, subject: dict, now: datetime) -> list[dict]:
    """Observation per DXA result, Appointment per booked scan, MedicationStatement per treatment."""
    resources = []
    if has_dxa():
        from app.dxa.models import DxaFollowUp, DxaResult

        for r in db.session.scalars(select(DxaResult).where(DxaResult.patient_id == patient.id)
                                    .order_by(DxaResult.scan_date, DxaResult.id)):
            resources.append(_dxa_observation(r, subject))
        for f in db.session.scalars(select(DxaFollowUp).where(DxaFollowUp.patient_id == patient.id,
                                                              DxaFollowUp.status == "booked")):
            resources.append(_appointment(f, patient, subject))
    if has_medications():
        from app.medications import catalogue
        from app.medications.models import BoneTreatment

        today = local_date(now, patient.time_zone)
        for t in db.session.scalars(select(BoneTreatment).where(BoneTreatment.patient_id == patient.id)
                                    .order_by(BoneTreatment.started_on, BoneTreatment.id)):
            resources.append(_medication_statement(t, catalogue.medicines()[t.medicine], subject, today))
    return resources


def _dxa_observation(r, subject: dict) -> dict:
    place = f"{r.site.replace('_', ' ')}" + (f" ({r.side})" if r.side != "none" else "")
    resource = {"resourceType": "Observation", "id": str(r.id), "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                          "code": "imaging", "display": "Imaging"}]}],
                "code": {"coding": [{"system": LOCAL_CODES, "code": f"bmd-{r.site}"}], "text": f"DXA BMD, {place}"},
                "subject": subject, "effectiveDateTime": r.scan_date.isoformat(),
                "valueQuantity": {"value": r.bmd, "unit": "g/cm2", "system": "http://unitsofmeasure.org",
                                  "code": "g/cm2"},
                "bodySite": {"text": place}}
    if r.t_score is not None:
        code, display = T_SCORE_LOINC.get(r.site, (f"t-score-{r.site}", f"T-score, {place}"))
        system = "http://loinc.org" if r.site in T_SCORE_LOINC else LOCAL_CODES
        resource["component"] = [{"code": {"coding": [{"system": system, "code": code, "display": display}]},
                                  "valueQuantity": {"value": r.t_score, "unit": "SD",
                                                    "system": "http://unitsofmeasure.org", "code": "{SD}"}}]
    return resource


def _appointment(f, patient, subject: dict) -> dict:
    from zoneinfo import ZoneInfo

    hour, minute = (int(x) for x in (f.appointment_time or "09:00").split(":"))
    start = datetime(f.appointment_date.year, f.appointment_date.month, f.appointment_date.day, hour, minute,
                     tzinfo=ZoneInfo(patient.time_zone))
    resource = {"resourceType": "Appointment", "id": str(f.id), "status": "booked",
                "description": "DXA scan (total hip, distal femur, proximal tibia)",
                "start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat(),
                "participant": [{"actor": subject, "status": "accepted"}]}
    if f.appointment_place:
        resource["comment"] = f.appointment_place
    return resource


def _medication_statement(t, entry: dict, subject: dict, today) -> dict:
    period = {"start": t.started_on.isoformat()}
    if t.end_date:
        period["end"] = t.end_date.isoformat()
    return {"resourceType": "MedicationStatement", "id": str(t.id),
            "status": "active" if t.end_date is None or t.end_date >= today else "completed",
            "medicationCodeableConcept": {"text": entry["name"]["en"]}, "subject": subject,
            "effectivePeriod": period}
