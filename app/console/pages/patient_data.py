"""What the patient page shows, section by section, each from the service the API answers with
(so the same access policy and audit trail): no query or rule of its own. A fixed number of
statements whatever the number of sessions or results: lists are pages, names come in one go."""
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.common.pagination import MAX_PER_PAGE, paginate
from app.console import charts, figures
from app.console.plan_templates import plans_of
from app.coordinator import service as coordinator
from app.coordinator.timeline import contact_view
from app.dxa import service as dxa
from app.exercises.service import ServedExercise, exercises_by_id
from app.medications import service as medications
from app.patients import service as patients
from app.rules import service as rules
from app.rules.evaluators import SEVERITY_ORDER
from app.sessions import service as sessions

ALL = {"page": 1, "per_page": MAX_PER_PAGE}
SESSIONS_SHOWN = 20
TIMELINE_PER_PAGE = 20
ADHERENCE_WINDOWS = (7, 30, 90)
CHART_SPAN = 13  # weeks drawn: the 90 days


@dataclass
class Reader:
    """Who reads which patient, in which language, when: what every service call here takes."""

    actor: object
    patient_id: object
    language: str
    now: datetime


def profile(r: Reader):
    return patients.get_patient(r.actor, r.patient_id)


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def flags(r: Reader) -> list[dict]:
    """Active flags, urgent first, then newest first."""
    page = paginate(rules.patient_flags(r.actor, r.patient_id, {"status": "active"}), ALL)
    views = [rules.flag_view(flag, r.language) for flag in page.items]
    return sorted(views, key=lambda f: -SEVERITY_ORDER.get(f["severity"], 0))


def plan_section(r: Reader) -> dict:
    """The plans not ended (the one in force first) and the ended ones, each with its versions and pauses."""
    listed = plans_of(r.actor, r.patient_id)
    return {"current": [p for p in listed if p.status != "ended"],
            "ended": [p for p in listed if p.status == "ended"]}


def exercise_name(exercise, language: str) -> str:
    return ServedExercise(exercise, language).name


def adherence_section(r: Reader) -> dict:
    """The 7/30/90-day rates and the weekly chart from one read of the patient's history."""
    rates, weeks = figures.patient_adherence(r.actor, r.patient_id, r.now, ADHERENCE_WINDOWS, CHART_SPAN)
    return {"rates": rates, "weeks": weeks}


def adherence_chart(weeks, title: str):
    return charts.weekly_adherence(weeks, text=charts.ChartText("adherence-chart-svg", title))


def latest_sessions(r: Reader) -> list[dict]:
    return sessions.list_sessions(r.actor, r.patient_id, {"page": 1, "per_page": SESSIONS_SHOWN}, r.language).items


def symptom_labels(language: str) -> dict:
    return {s["code"]: s["label"] for s in sessions.symptom_checklist(language, ALL).items}


def dxa_section(r: Reader) -> dict:
    results = figures.all_results(r.actor, r.patient_id, r.language)  # one read for the table and the chart
    return {"results": results, "series": figures.series_of(results),
            "followups": dxa.list_followups(r.actor, r.patient_id, ALL, r.now).items,
            "protocol": dxa.get_protocol(r.actor, r.patient_id, r.now)}


def dxa_chart(series, title: str):
    return charts.dxa_sites(series, text=charts.ChartText("dxa-chart-svg", title))


def medication_section(r: Reader) -> list[dict]:
    """Each treatment with its doses (a patient has a few treatments: one read each)."""
    treatments = medications.list_treatments(r.actor, r.patient_id, ALL, r.now, r.language).items
    return [{"treatment": t, "doses": medications.list_doses(r.actor, r.patient_id, t.id, ALL).items}
            for t in treatments]


def contact_log(r: Reader) -> list[dict]:
    return paginate(coordinator.contacts(r.actor, r.patient_id), ALL).map(contact_view).items


def timeline(r: Reader, page: int):
    stmt, render = coordinator.timeline(r.actor, r.patient_id, {}, r.language)
    return paginate(stmt, {"page": page, "per_page": TIMELINE_PER_PAGE}, scalars=False).map_all(render)


def people(r: Reader) -> dict:
    """{user id: name} of those who log or record for the patient: the patient's own login is
    named by the role, caregivers and the care team by their accounts."""
    names = {row.caregiver_id: row.display_name for row in patients.caregivers(r.actor, r.patient_id, ALL).items}
    names |= {row.coordinator_id: row.display_name for row in patients.care_team(r.actor, r.patient_id, ALL).items}
    return names


def exercise_names(session_views: list[dict], language: str) -> dict:
    """{exercise id: its name in language} for the sessions shown (one query)."""
    found = exercises_by_id({s["exercise_id"] for s in session_views})
    return {exercise_id: exercise_name(e, language) for exercise_id, e in found.items()}


def in_zone(moment: datetime | None, zone: str) -> datetime | None:
    return moment.astimezone(ZoneInfo(zone)) if moment else None
