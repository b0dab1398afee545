"""Exports: the caseload as CSV (safe to open in a spreadsheet), a patient as a FHIR R4 Bundle,
and the patient's own data (JSON and CSV)."""
import csv
import io
import json
from datetime import datetime

from app.common.clock import local_date
from app.common.types import utc_timestamp

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
# LOINC: 55411-3 Exercise duration; 73985-4 Exercise activity;
# 72514-3 Pain severity - 0-10 verbal numeric rating [Score] - Reported.
EXERCISE_DURATION, EXERCISE_ACTIVITY, PAIN_SCORE = "55411-3", "73985-4", "72514-3"
RULE_SYSTEM = "https://standstrong.app/fhir/CodeSystem/rules"


def safe_cell(value) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection): text that starts
    with = + - @ tab or CR gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = (utc_timestamp(value) if isinstance(value, datetime)  # as in every JSON answer: UTC, Z
                else value.isoformat() if hasattr(value, "isoformat") else str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unguard(text: str) -> str:
    """The inverse of safe_cell for text cells (for readers of the file, and the round-trip test)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def to_csv(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue()


CASELOAD_COLUMNS = ["patient_id", "display_name", "neurological_level", "plan_status",
                    "adherence_7_rate", "adherence_7_completed", "adherence_7_expected",
                    "adherence_30_rate", "adherence_30_completed", "adherence_30_expected",
                    "last_session_at", "days_with_data_last_30", "flags_urgent", "flags_warning", "flags_info",
                    "open_flag_rules", "next_follow_up_on", "follow_up_overdue", "next_dxa_due", "dxa_overdue",
                    "next_dose_due", "dose_overdue"]


def caseload_csv(rows: list[dict]) -> str:
    def line(r):
        a7, a30, flags = r["adherence_7"], r["adherence_30"], r["open_flags"]
        return [r["patient"]["id"], r["patient"]["display_name"], r["patient"]["neurological_level"],
                r["plan_status"], a7["rate"], a7["completed"], a7["expected"], a30["rate"], a30["completed"],
                a30["expected"], utc_timestamp(r["last_session_at"]) if r["last_session_at"] else None,
                r["days_with_data_last_30"], flags["urgent"], flags["warning"], flags["info"],
                ";".join(r["open_flag_rules"]), r["next_follow_up_on"], str(r["follow_up_overdue"]).lower(),
                r["next_dxa_due"], str(r["dxa_overdue"]).lower(), r["next_dose_due"], str(r["dose_overdue"]).lower()]
    return to_csv(CASELOAD_COLUMNS, [line(r) for r in rows])


SESSION_COLUMNS = ["id", "started_at", "local_date", "exercise_id", "item_key", "duration_minutes", "pain",
                   "exertion", "symptoms", "measures", "note", "logged_by_role", "deleted"]


def sessions_csv(sessions: list[dict]) -> str:
    return to_csv(SESSION_COLUMNS, [[s["id"], s["started_at"], s["local_date"], s["exercise_id"], s["item_key"],
                                     s["duration_minutes"], s["pain"], s["exertion"], ";".join(s["symptoms"] or []),
                                     s["measures"], s["note"], s["logged_by_role"], str(s["deleted"]).lower()]
                                    for s in sessions])


# --- FHIR R4 -------------------------------------------------------------------------------

def _ref(resource: dict) -> dict:
    return {"reference": f"urn:uuid:{resource['id']}"}


def _patient(p) -> dict:
    resource = {"resourceType": "Patient", "id": str(p.id), "name": [{"text": p.display_name}],
                "gender": p.sex if p.sex in ("female", "male", "other") else "unknown",
                "birthDate": p.date_of_birth.isoformat(),
                "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": p.language}]},
                                   "preferred": True}]}
    if p.contact_email:
        resource["telecom"] = [{"system": "email", "value": p.contact_email}]
    return resource


_CAREPLAN_STATUS = {"active": "active", "paused": "on-hold", "ended": "completed", "scheduled": "active"}


def _care_plan(plan: dict, subject: dict) -> dict:
    version = plan["version_in_force"] or plan["versions"][-1]
    activities = []
    for item in version["items"]:
        when = (f"{item['sessions_per_week']} per week" if item["sessions_per_week"]
                else ", ".join(item["days_of_week"] or []))
        activities.append({"detail": {"status": "in-progress" if plan["status"] == "active" else "on-hold",
                                      "code": {"text": item["exercise_slug"] or str(item["exercise_id"])},
                                      "description": f"{item['minutes']} min, {when}"}})
    period = {"start": str(plan["start_date"])}  # PlanSchema's ISO dates
    if plan["ended_on"]:
        period["end"] = str(plan["ended_on"])
    return {"resourceType": "CarePlan", "id": str(plan["id"]), "status": _CAREPLAN_STATUS[plan["status"]],
            "intent": "plan", "title": plan["name"], "subject": subject, "period": period,
            "activity": activities}


def _session_observation(s, slug: str | None, subject: dict) -> dict:
    components = [{"code": {"coding": [{"system": LOINC, "code": EXERCISE_ACTIVITY, "display": "Exercise activity"}]},
                   "valueCodeableConcept": {"text": slug or str(s.exercise_id)}}]
    if s.pain is not None:
        components.append({"code": {"coding": [{"system": LOINC, "code": PAIN_SCORE,
                                                "display": "Pain severity - 0-10 verbal numeric rating"}]},
                           "valueInteger": s.pain})
    return {"resourceType": "Observation", "id": str(s.id), "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "activity", "display": "Activity"}]}],
            "code": {"coding": [{"system": LOINC, "code": EXERCISE_DURATION, "display": "Exercise duration"}]},
            "subject": subject, "effectiveDateTime": s.started_at.isoformat(),
            "valueQuantity": {"value": s.duration_minutes, "unit": "min", "system": UCUM, "code": "min"},
            "component": components}


def _flag(view: dict, subject: dict) -> dict:
    period = {"start": view["opened_at"].isoformat()}
    if view["resolved_at"]:
        period["end"] = view["resolved_at"].isoformat()
    return {"resourceType": "Flag", "id": str(view["id"]),
            "status": "inactive" if view["status"] == "resolved" else "active",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/flag-category",
                                      "code": "clinical", "display": "Clinical"}]}],
            "code": {"coding": [{"system": RULE_SYSTEM, "code": view["rule_id"]}], "text": view["title"]},
            "subject": subject, "period": period}


def fhir_bundle(patient, plans: list[dict], sessions: list, slugs: dict, flags: list[dict], now,
                bone_resources=None) -> dict:
    """A collection Bundle. Resource ids are the API's UUIDs; entries refer to each other by urn:uuid."""
    patient_resource = _patient(patient)
    subject = _ref(patient_resource)
    resources = [patient_resource]
    resources += [_care_plan(p, subject) for p in plans]
    resources += [_session_observation(s, slugs.get(s.exercise_id), subject) for s in sessions]
    resources += (bone_resources or (lambda _subject: []))(subject)
    resources += [_flag(f, subject) for f in flags]
    return {"resourceType": "Bundle", "id": str(patient.id), "type": "collection",
            "timestamp": now.isoformat(),
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}


def local_export_date(now, time_zone: str) -> str:
    return local_date(now, time_zone).isoformat()
