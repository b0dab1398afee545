"""A patient's page: profile, flags, plan, adherence, sessions, DXA, medicines, contacts, timeline.
Every section comes from the API's services (app/console/pages/patient_data.py)."""
from datetime import date

from babel.dates import get_day_names
from babel.lists import format_list
from flask import render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from app.common.clock import local_date
from app.common.types import utcnow
from app.console import identity
from app.console.blueprint import bp
from app.console.charts.dxa import site_name
from app.console.forms import LANGUAGE_NAMES
from app.console.i18n import page_language
from app.console.pages import patient_data as data
from app.console.pages.flags import prime_patient_zones
from app.plans.models import DAY_NAMES


def _timeline_page() -> int:
    try:
        return max(1, min(int(request.args.get("timeline_page", 1)), 100000))
    except ValueError:
        return 1


def _day_names(days: list[str]) -> str:
    """["mon", "thu"] as the page's language writes them: "Mon and Thu", "周一和周四"."""
    names = get_day_names("abbreviated", locale=get_locale())
    return format_list([names[DAY_NAMES.index(d)] for d in days], locale=get_locale())


@bp.route("/patients/<uuid:patient_id>", methods=["GET"])
@identity.staff_page
def patient(patient_id):
    reader = data.Reader(identity.current_actor(), patient_id, page_language(), utcnow())
    record = data.profile(reader)  # 404 here for anyone the policy does not let read the patient
    zone = record.time_zone
    prime_patient_zones({record.id: zone})  # the flags' dates, as every other, in the patient's zone
    today = local_date(reader.now, zone)
    adherence = data.adherence_section(reader)
    bone = data.dxa_section(reader)
    latest = data.latest_sessions(reader)
    timeline = data.timeline(reader, _timeline_page())
    timeline_sessions = [e["session"] for e in timeline.items if e["kind"] == "session"]
    treatments = data.medication_section(reader)
    return render_template(
        "console/patient.html", patient=record, patient_id=record.id, today=today,
        age=data.age_on(record.date_of_birth, today),
        flags=data.flags(reader), plans=data.plan_section(reader),
        adherence=adherence, adherence_chart=data.adherence_chart(adherence["weeks"], _("Adherence per week")),
        sessions=latest, symptoms=data.symptom_labels(reader.language),
        exercises=data.exercise_names(latest + timeline_sessions, reader.language),
        dxa=bone, dxa_chart=data.dxa_chart(bone["series"], _("Bone density per site")),
        treatments=treatments, medicines={t["treatment"].id: t["treatment"].medicine_name for t in treatments},
        contacts=data.contact_log(reader), people=data.people(reader), timeline=timeline,
        exercise_name=lambda exercise: data.exercise_name(exercise, reader.language),
        local=lambda moment: data.in_zone(moment, zone), iso_day=date.fromisoformat, day_names=_day_names,
        site_name=site_name, language_names=LANGUAGE_NAMES)
