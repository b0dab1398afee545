"""What a coordinator does from the patient page (issue 15): log a contact, assign or change a plan
with its safety acknowledgement, book a DXA scan, record a dose; each through the API's services,
seen through the API afterwards, audited as the API's write is, refused with a message and never
half-written."""
import html
import re
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import g, render_template_string
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import db
from app.patients.models import Patient
from tests.console_client import signed_in

PARTIALS = ("contact_form", "plan_form", "dxa_booking_form", "dose_form")


def render_partial(app, actor, patient_id, name, query="", language="en") -> str:
    """The partial as the patient page includes it, for actor (signed in) and the Patient row."""
    with app.test_request_context(f"/console/patients/{patient_id}{query}", headers={"Accept-Language": language}):
        g.actor = db.session.get(User, uuid.UUID(actor.id))
        patient = db.session.get(Patient, uuid.UUID(patient_id))
        return render_template_string('{% include "console/partials/' + name + '.html" %}', patient=patient)


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page) or \
        re.search(rf'type="hidden" name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name}"
    return found.group(1)


def today_of(zone="Asia/Shanghai") -> date:
    return datetime.now(ZoneInfo(zone)).date()


def messages(console, response) -> str:
    """The page after the post, with its flashed messages: the one a done post redirected to, or
    the patient page shown again at once for a refused one (422, or 409 for a conflict)."""
    if response.status_code != 302:
        assert response.status_code in (409, 422), (response.status_code, response.get_data(as_text=True)[:500])
        return html.unescape(response.get_data(as_text=True))
    return html.unescape(console.get(response.headers["Location"].split("#")[0]).get_data(as_text=True))


def writes(patient_id) -> Counter:
    return Counter(e.action for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.patient_id == uuid.UUID(patient_id), AuditEvent.action != "read")))


def console_writes(patient_id, route) -> list:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.patient_id == uuid.UUID(patient_id), AuditEvent.route == route)))


def contact(**overrides) -> dict:
    return {"channel": "phone", "outcome": "reached", "note": "Cold this week; restarting Monday.", **overrides}


# --- a contact ----------------------------------------------------------------------------

def test_a_contact_is_logged_and_listed_by_the_api(app, world):
    page = render_partial(app, world.coord_a, world.a_id, "contact_form")
    assert '<select' in page and 'name="channel"' in page and '<textarea' in page and 'name="note"' in page
    assert 'type="submit"' in page and 'for="contact-channel"' in page and 'for="contact-note"' in page
    console = signed_in(app, world.coord_a)
    follow_up = (today_of() + timedelta(days=7)).isoformat()
    r = console.post(f"/console/patients/{world.a_id}/contacts", data=contact(follow_up_on=follow_up))
    assert r.headers["Location"] == f"/console/patients/{world.a_id}#contacts"
    assert "The contact is logged." in messages(console, r)
    listed = world.coord_a.get(f"/api/v1/patients/{world.a_id}/contacts").get_json()["items"]
    assert [(c["channel"], c["outcome"], c["note"], c["follow_up_on"]) for c in listed] == [
        ("phone", "reached", "Cold this week; restarting Monday.", follow_up)]


def test_each_console_write_is_audited_as_the_apis(app, world):
    console = signed_in(app, world.coord_a)
    before = writes(world.a_id)
    assert world.coord_a.post(f"/api/v1/patients/{world.a_id}/contacts", json=contact()).status_code == 201
    by_api = writes(world.a_id) - before
    before = writes(world.a_id)
    console.post(f"/console/patients/{world.a_id}/contacts", data=contact())
    assert writes(world.a_id) - before == by_api == Counter({"write": 1, "contact_logged": 1})
    rows = console_writes(world.a_id, "/console/patients/<uuid:patient_id>/contacts")
    assert {(str(e.actor_id), e.actor_role, e.method) for e in rows} == {(world.coord_a.id, "coordinator", "POST")}

    before = writes(world.a_id)
    given = (today_of() - timedelta(days=1)).isoformat()
    assert world.coord_a.post(f"/api/v1/patients/{world.a_id}/medications/{world.treatment_a['id']}/doses",
                              json={"given_on": given}).status_code == 201
    by_api = writes(world.a_id) - before
    before = writes(world.a_id)
    console.post(f"/console/patients/{world.a_id}/doses", data={
        "treatment_id": world.treatment_a["id"], "given_on": today_of().isoformat()})
    assert writes(world.a_id) - before == by_api == Counter({"write": 1})


def test_refused_actions_write_no_audit_row(app, world):
    console = signed_in(app, world.coord_a)
    before = writes(world.a_id)
    events = db.session.scalar(select(db.func.count(AuditEvent.id)).where(AuditEvent.action == "write"))
    console.post(f"/console/patients/{world.a_id}/contacts", data=contact(channel="pigeon"))  # the form refuses
    console.post(f"/console/patients/{world.a_id}/doses", data={  # the service refuses
        "treatment_id": world.treatment_a["id"], "given_on": (today_of() + timedelta(days=3)).isoformat()})
    assert writes(world.a_id) == before
    assert db.session.scalar(select(db.func.count(AuditEvent.id)).where(AuditEvent.action == "write")) == events


def test_contact_form_errors_are_flashed_naming_the_field(app, world):
    console = signed_in(app, world.coord_a)
    r = console.post(f"/console/patients/{world.a_id}/contacts", data=contact(follow_up_on="next week"))
    assert r.status_code == 422 and "Location" not in r.headers  # the page again, as typed
    assert "Follow up on (optional): Not a valid date" in messages(console, r)
    r = console.post(f"/console/patients/{world.a_id}/contacts", data=contact(note="x" * 2001))
    assert "Note: Longer than maximum length 2000." in messages(console, r)  # the API schema's rule
    yesterday = (today_of() - timedelta(days=1)).isoformat()
    r = console.post(f"/console/patients/{world.a_id}/contacts", data=contact(follow_up_on=yesterday))
    assert "Follow up on (optional): A follow-up date is today or later" in messages(console, r)  # the service's
    r = console.post(f"/console/patients/{world.a_id}/contacts", data={"channel": "phone"})
    assert "Outcome: Required." in messages(console, r)
    assert world.coord_a.get(f"/api/v1/patients/{world.a_id}/contacts").get_json()["items"] == []


def test_messages_are_in_the_coordinators_language(app, world):
    console = signed_in(app, world.coord_a)
    console.post("/console/language", data={"language": "zh-CN", "next": "/console/"})
    r = console.post(f"/console/patients/{world.a_id}/doses", data={
        "treatment_id": world.treatment_a["id"], "given_on": (today_of() + timedelta(days=3)).isoformat()})
    page = messages(console, r)
    assert "给药日期：" in page and "给药日期须在疗程期间内" in page
    r = console.post(f"/console/patients/{world.a_id}/contacts", data=contact())
    assert "联系记录已保存。" in messages(console, r)
    zh_partial = render_partial(app, world.coord_a, world.a_id, "contact_form")  # the account's language
    assert "记录一次联系" in zh_partial and "电话" in zh_partial


# --- a plan -------------------------------------------------------------------------------

def plan_of(world, patient_id, plan_id) -> dict:
    return world_actor(world, patient_id).get(f"/api/v1/patients/{patient_id}/plans/{plan_id}").get_json()


def world_actor(world, patient_id):
    return world.coord_a if patient_id == world.a_id else world.coord_b


def plan_post(page: str, **fields) -> dict:
    data = {name: hidden(page, name) for name in ("template", "plan_id", "revision")}
    data.update(fields)
    return data


def test_the_plan_form_shows_the_templates_warnings_for_this_patient(app, world):
    page = render_partial(app, world.coord_a, world.a_id, "plan_form")
    assert 'name="plan_template"' in page and 'method="get"' in page and 'name="acknowledge_warnings"' not in page
    page = html.unescape(render_partial(app, world.coord_a, world.a_id, "plan_form", "?plan_template=gentle-start"))
    assert "<legend>Safety warnings for this patient</legend>" in page
    assert re.search(r'<input id="plan-acknowledge-warnings-0" name="acknowledge_warnings" type="checkbox" '
                     r'value="autonomic_dysreflexia"> <label for="plan-acknowledge-warnings-0">Injury at T4', page)
    assert "Change the plan to this template" in page
    zh = html.unescape(render_partial(app, world.coord_a, world.a_id, "plan_form", "?plan_template=gentle-start",
                                      language="zh-CN"))
    assert "损伤平面 T4" in zh and "自主神经反射异常" in zh and "本患者的安全警示" in zh


def test_changing_the_plan_needs_the_acknowledgement_then_makes_a_version(app, world):
    console = signed_in(app, world.coord_a)
    page = render_partial(app, world.coord_a, world.a_id, "plan_form", "?plan_template=gentle-start")
    r = console.post(f"/console/patients/{world.a_id}/plans", data=plan_post(page, change_note="lighter start"))
    assert r.status_code == 409  # the page again, the template's form as typed
    again = messages(console, r)
    assert "This plan needs safety warnings acknowledged" in again
    assert 'id="plan-change-note" name="change_note" type="text" value="lighter start"' in again
    assert '<option selected value="gentle-start">' in again and 'name="acknowledge_warnings"' in again
    assert len(plan_of(world, world.a_id, world.plan_a["id"])["versions"]) == 1

    r = console.post(f"/console/patients/{world.a_id}/plans", data=plan_post(
        page, acknowledge_warnings="autonomic_dysreflexia", change_note="lighter start after a cold"))
    assert r.headers["Location"] == f"/console/patients/{world.a_id}#plan-action"
    assert "The plan is changed: version 2" in messages(console, r)
    plan = plan_of(world, world.a_id, world.plan_a["id"])
    latest = plan["versions"][-1]
    assert len(plan["versions"]) == 2 and latest["warnings_acknowledged"] == ["autonomic_dysreflexia"]
    assert latest["change_note"] == "lighter start after a cold"
    assert sorted(i["exercise_slug"] for i in latest["items"]) == ["passive-range-of-motion", "passive-standing"]


def test_a_plan_changed_meanwhile_is_not_overwritten(app, world):
    console = signed_in(app, world.coord_a)
    page = render_partial(app, world.coord_a, world.a_id, "plan_form", "?plan_template=gentle-start")
    plan_url = f"/api/v1/patients/{world.a_id}/plans/{world.plan_a['id']}"
    assert world.coord_a.post(f"{plan_url}/pause", json={"reason": "hospital stay"},
                              if_match_of=plan_url).status_code == 200
    r = console.post(f"/console/patients/{world.a_id}/plans", data=plan_post(
        page, acknowledge_warnings="autonomic_dysreflexia"))
    assert r.status_code == 409
    assert "Someone changed this plan since the page was shown: check the plan as it is now" in messages(console, r)
    r = console.post(f"/console/patients/{world.a_id}/plans", data=plan_post(
        page, acknowledge_warnings="autonomic_dysreflexia", revision=""))  # no revision at all
    assert "Someone changed this plan" in messages(console, r)
    assert len(plan_of(world, world.a_id, world.plan_a["id"])["versions"]) == 1
    fresh = render_partial(app, world.coord_a, world.a_id, "plan_form", "?plan_template=gentle-start")
    r = console.post(f"/console/patients/{world.a_id}/plans", data=plan_post(
        fresh, acknowledge_warnings="autonomic_dysreflexia"))
    assert "The plan is changed: version 2" in messages(console, r)


def test_a_plan_is_assigned_when_none_is_in_force(app, world):
    console = signed_in(app, world.coord_b)
    page = render_partial(app, world.coord_b, world.b_id, "plan_form", "?plan_template=standing-for-bone")
    assert hidden(page, "plan_id") == "" and "Assign this plan" in page
    r = console.post(f"/console/patients/{world.b_id}/plans", data=plan_post(page))
    assert "This plan needs safety warnings acknowledged" in messages(console, r)
    r = console.post(f"/console/patients/{world.b_id}/plans", data=plan_post(
        page, acknowledge_warnings="autonomic_dysreflexia"))
    assert "The plan is assigned from" in messages(console, r)
    listed = world.coord_b.get(f"/api/v1/patients/{world.b_id}/plans").get_json()["items"]
    assert [(p["template_slug"], p["status"]) for p in listed] == [("standing-for-bone", "active")]
    # the same page again: a plan was assigned since it was shown
    r = console.post(f"/console/patients/{world.b_id}/plans", data=plan_post(
        page, acknowledge_warnings="autonomic_dysreflexia"))
    assert "Someone changed this plan" in messages(console, r)
    assert len(world.coord_b.get(f"/api/v1/patients/{world.b_id}/plans").get_json()["items"]) == 1


def test_a_contraindication_needs_an_override_reason(app, world):
    fracture = {"site": "left femur", "date": (today_of() - timedelta(days=30)).isoformat()}
    patient_url = f"/api/v1/patients/{world.b_id}"
    assert world.coord_b.patch(patient_url, json={"known_fractures": [fracture]},
                               if_match_of=patient_url).status_code == 200
    page = html.unescape(render_partial(app, world.coord_b, world.b_id, "plan_form", "?plan_template=standing-for-bone"))
    assert 'value="recent_fracture"' in page and 'name="override_reason"' in page
    console = signed_in(app, world.coord_b)
    codes = ["autonomic_dysreflexia", "recent_fracture"]
    r = console.post(f"/console/patients/{world.b_id}/plans", data=plan_post(page, acknowledge_warnings=codes))
    assert "This plan needs safety warnings acknowledged" in messages(console, r)
    r = console.post(f"/console/patients/{world.b_id}/plans", data=plan_post(
        page, acknowledge_warnings=codes, override_reason="ok"))
    assert "Reason for the override (the treating team's clearance): Length must be between 5 and 500." \
        in messages(console, r)
    r = console.post(f"/console/patients/{world.b_id}/plans", data=plan_post(
        page, acknowledge_warnings=codes, override_reason="Cleared by the orthopaedic team on review"))
    assert "The plan is assigned from" in messages(console, r)


# --- a DXA appointment --------------------------------------------------------------------

def test_a_dxa_scan_is_booked_on_the_open_follow_up(app, world):
    page = render_partial(app, world.coord_a, world.a_id, "dxa_booking_form")
    assert hidden(page, "followup_id") == world.followup_a["id"] and "Asia/Shanghai" in page
    console = signed_in(app, world.coord_a)
    day = (today_of() + timedelta(days=10)).isoformat()
    r = console.post(f"/console/patients/{world.a_id}/dxa/bookings", data={
        "followup_id": hidden(page, "followup_id"), "appointment_date": day, "appointment_time": "09:30",
        "appointment_place": "Imaging, room 3"})
    assert r.headers["Location"] == f"/console/patients/{world.a_id}#dxa-action"
    assert "The DXA scan is booked." in messages(console, r)
    followup = world.coord_a.get(f"/api/v1/patients/{world.a_id}/dxa/followups/{world.followup_a['id']}").get_json()
    assert followup["status"] == "booked"
    assert followup["appointment"]["date"] == day and followup["appointment"]["time"] == "09:30"
    assert followup["appointment"]["place"] == "Imaging, room 3"
    assert followup["appointment"]["starts_at"].startswith(f"{day}T01:30")  # 09:30 in Shanghai
    again = render_partial(app, world.coord_a, world.a_id, "dxa_booking_form")
    assert "Rebook the DXA scan" in again and 'value="Imaging, room 3"' in again and 'value="09:30"' in again


def test_a_dxa_booking_in_the_past_or_unreadable_is_refused(app, world):
    console = signed_in(app, world.coord_a)
    base = {"followup_id": world.followup_a["id"], "appointment_time": "09:30", "appointment_place": "Imaging"}
    r = console.post(f"/console/patients/{world.a_id}/dxa/bookings", data={
        **base, "appointment_date": (today_of() - timedelta(days=2)).isoformat()})
    assert "Appointment date: An appointment is booked for today or later." in messages(console, r)
    r = console.post(f"/console/patients/{world.a_id}/dxa/bookings", data={
        **base, "appointment_date": today_of().isoformat(), "appointment_time": "25:99"})
    assert "Appointment time: Not a valid time" in messages(console, r)
    r = console.post(f"/console/patients/{world.a_id}/dxa/bookings", data={
        **base, "followup_id": "not-a-follow-up", "appointment_date": today_of().isoformat()})
    assert "No such DXA follow-up for this patient." in messages(console, r)
    followup = world.coord_a.get(f"/api/v1/patients/{world.a_id}/dxa/followups/{world.followup_a['id']}").get_json()
    assert followup["status"] == "due" and followup["appointment"] is None


def test_a_follow_up_is_created_when_none_is_open(app, world):
    page = render_partial(app, world.coord_b, world.b_id, "dxa_booking_form")
    assert hidden(page, "followup_id") == "" and 'name="due_date"' in page and "No follow-up is open" in page
    console = signed_in(app, world.coord_b)
    day = (today_of("Europe/London") + timedelta(days=20)).isoformat()
    booking = {"followup_id": "", "kind": "baseline", "appointment_date": day, "appointment_time": "14:00",
               "appointment_place": "Walk Centre"}
    r = console.post(f"/console/patients/{world.b_id}/dxa/bookings", data=booking)
    assert "Due date: Missing data for required field." in messages(console, r)  # the API schema's rule
    r = console.post(f"/console/patients/{world.b_id}/dxa/bookings", data={**booking, "due_date": day})
    assert "The DXA scan is booked." in messages(console, r)
    items = world.coord_b.get(f"/api/v1/patients/{world.b_id}/dxa/followups").get_json()["items"]
    assert [(f["kind"], f["status"], f["appointment"]["time"]) for f in items] == [("baseline", "booked", "14:00")]
    r = console.post(f"/console/patients/{world.b_id}/dxa/bookings", data={**booking, "due_date": day})
    assert "already has an open DXA follow-up" in messages(console, r)  # the page was stale


def in_words(day, language) -> str:
    """A patient-local date as the console writes it for a page in language (app/console/evidence.long_date)."""
    from babel.dates import format_date

    return format_date(date.fromisoformat(str(day)), "medium", locale={"en": "en", "zh-CN": "zh_Hans_CN"}[language])


def test_the_dxa_and_plan_forms_write_their_dates_in_the_pages_language(app, world):
    """They said 2026-12-01 (ISO) where the rest of the console says "1 Dec 2026" / "2026年12月1日";
    a date input keeps the ISO value a browser needs."""
    console = signed_in(app, world.coord_a)
    console.post("/console/language", data={"language": "zh-CN", "next": "/console/"})
    due = world.followup_a["due_date"]
    started = world.plan_a["versions"][0]["effective_from"]
    page = html.unescape(console.get(f"/console/patients/{world.a_id}").get_data(as_text=True))
    assert f"应于 {in_words(due, 'zh-CN')} 检查" in page and f"应于 {due} " not in page
    assert f"第 1 版，自 {in_words(started, 'zh-CN')} 起生效" in page and f"自 {started} 起" not in page
    assert f"（自 {in_words(world.treatment_a['started_on'], 'zh-CN')} 起）" in page  # the dose form's treatment
    day = today_of() + timedelta(days=10)
    r = console.post(f"/console/patients/{world.a_id}/dxa/bookings", data={
        "followup_id": world.followup_a["id"], "appointment_date": day.isoformat(), "appointment_time": "09:30",
        "appointment_place": "Imaging, room 3"})
    page = messages(console, r)
    assert f"已预约：{in_words(day, 'zh-CN')} 09:30，Imaging, room 3。" in page
    assert f'value="{day.isoformat()}"' in page  # the date input's value
    page = render_partial(app, world.coord_b, world.b_id, "plan_form", "?plan_template=standing-for-bone")
    console_b = signed_in(app, world.coord_b)
    r = console_b.post(f"/console/patients/{world.b_id}/plans", data=plan_post(
        page, acknowledge_warnings="autonomic_dysreflexia"))
    assigned = world.coord_b.get(f"/api/v1/patients/{world.b_id}/plans").get_json()["items"][0]
    assert f"The plan is assigned from {in_words(assigned['versions'][0]['effective_from'], 'en')}." in \
        messages(console_b, r)


# --- a dose -------------------------------------------------------------------------------

def test_a_dose_is_recorded_and_the_next_due_date_follows(app, world):
    console = signed_in(app, world.coord_a)
    given = (today_of() - timedelta(days=1)).isoformat()
    r = console.post(f"/console/patients/{world.a_id}/doses", data={
        "treatment_id": world.treatment_a["id"], "given_on": given})
    assert r.headers["Location"] == f"/console/patients/{world.a_id}#dose-action"
    assert "The dose is recorded." in messages(console, r)
    treatment_url = f"/api/v1/patients/{world.a_id}/medications/{world.treatment_a['id']}"
    doses = world.coord_a.get(f"{treatment_url}/doses").get_json()["items"]
    assert doses[0]["given_on"] == given and len(doses) == 2
    assert world.coord_a.get(treatment_url).get_json()["last_dose_on"] == given


def test_a_dose_in_the_future_or_before_the_treatment_gets_the_services_message(app, world):
    console = signed_in(app, world.coord_a)
    started = date.fromisoformat(world.treatment_a["started_on"])
    for given in (today_of() + timedelta(days=1), started - timedelta(days=1)):
        r = console.post(f"/console/patients/{world.a_id}/doses", data={
            "treatment_id": world.treatment_a["id"], "given_on": given.isoformat()})
        assert "Date given: A dose is given within the treatment and not in the future." in messages(console, r)
    r = console.post(f"/console/patients/{world.a_id}/doses", data={
        "treatment_id": world.treatment_a["id"], "given_on": world.dose_a["given_on"]})
    assert "A dose on this date is already recorded." in messages(console, r)
    r = console.post(f"/console/patients/{world.a_id}/doses", data={"treatment_id": "x", "given_on": "soon"})
    assert "Date given: Not a valid date" in messages(console, r)
    r = console.post(f"/console/patients/{world.a_id}/doses", data={"treatment_id": "x", "given_on": today_of()})
    assert "No such treatment for this patient." in messages(console, r)
    doses = world.coord_a.get(f"/api/v1/patients/{world.a_id}/medications/{world.treatment_a['id']}/doses")
    assert len(doses.get_json()["items"]) == 1


def test_the_treatment_is_chosen_when_there_are_several(app, world):
    page = render_partial(app, world.coord_a, world.a_id, "dose_form")
    assert 'type="hidden" name="treatment_id"' in page and "Denosumab" in page
    started = (today_of() - timedelta(days=10)).isoformat()
    zoledronic = world.coord_a.post(f"/api/v1/patients/{world.a_id}/medications", json={
        "medicine": "zoledronic_acid", "started_on": started}).get_json()
    teriparatide = world.coord_a.post(f"/api/v1/patients/{world.a_id}/medications", json={
        "medicine": "teriparatide", "started_on": started,
        "end_date": (today_of() + timedelta(days=300)).isoformat()}).get_json()
    page = render_partial(app, world.coord_a, world.a_id, "dose_form")
    assert '<select id="dose-treatment-id" name="treatment_id"' in page and 'for="dose-treatment-id"' in page
    assert f'value="{zoledronic["id"]}"' in page and f'value="{world.treatment_a["id"]}"' in page
    assert teriparatide["id"] not in page  # a daily course is not recorded dose by dose
    console = signed_in(app, world.coord_a)
    r = console.post(f"/console/patients/{world.a_id}/doses", data={"treatment_id": zoledronic["id"],
                                                                   "given_on": started})
    assert "The dose is recorded." in messages(console, r)


# --- who may act, and how ---------------------------------------------------------------

def _every_action(world) -> dict:
    today = today_of().isoformat()
    return {
        "contacts": contact(),
        "plans": {"template": "gentle-start", "plan_id": world.plan_a["id"], "revision": "x",
                  "acknowledge_warnings": "autonomic_dysreflexia"},
        "dxa/bookings": {"followup_id": world.followup_a["id"], "appointment_date": today,
                         "appointment_time": "09:30", "appointment_place": "Imaging"},
        "doses": {"treatment_id": world.treatment_a["id"], "given_on": today},
    }


def _unchanged(world):
    assert world.coord_a.get(f"/api/v1/patients/{world.a_id}/contacts").get_json()["items"] == []
    assert len(plan_of(world, world.a_id, world.plan_a["id"])["versions"]) == 1
    followup = world.coord_a.get(f"/api/v1/patients/{world.a_id}/dxa/followups/{world.followup_a['id']}").get_json()
    assert followup["status"] == "due"
    doses = world.coord_a.get(f"/api/v1/patients/{world.a_id}/medications/{world.treatment_a['id']}/doses")
    assert len(doses.get_json()["items"]) == 1


def test_another_coordinators_patient_is_not_found(app, world):
    console = signed_in(app, world.coord_b)
    for path, data in _every_action(world).items():
        r = console.post(f"/console/patients/{world.a_id}/{path}", data=data)
        assert r.status_code == 404 and "text/html" in r.content_type, path
        assert "No such patient on your caseload." in r.get_data(as_text=True)
    _unchanged(world)


def test_an_admin_is_refused(app, world):
    console = signed_in(app, world.admin)
    for path, data in _every_action(world).items():
        r = console.post(f"/console/patients/{world.a_id}/{path}", data=data)
        assert r.status_code == 403 and "text/html" in r.content_type, path
        assert "This needs the role coordinator." in r.get_data(as_text=True)
    _unchanged(world)


def test_posts_without_the_csrf_token_are_refused(app, world):
    console = signed_in(app, world.coord_a)
    for path, data in _every_action(world).items():
        r = console.client.post(f"/console/patients/{world.a_id}/{path}", data=data)
        assert r.status_code == 400 and "expired" in r.get_data(as_text=True), path
        r = console.client.post(f"/console/patients/{world.a_id}/{path}", data={**data, "csrf_token": "forged"})
        assert r.status_code == 400, path
    _unchanged(world)


def test_signed_out_posts_go_to_the_sign_in_page(app, world):
    from tests.console_client import Console

    console = Console(app)
    r = console.post(f"/console/patients/{world.a_id}/contacts", data=contact(), page="/console/login")
    assert r.status_code == 302 and r.headers["Location"].startswith("/console/login")
    _unchanged(world)


@pytest.mark.parametrize("name", PARTIALS)
def test_the_partials_label_every_control_and_run_no_script(app, world, name):
    page = render_partial(app, world.coord_a, world.a_id, name, "?plan_template=combined-programme")
    assert "<script" not in page and "http://" not in page and "https://" not in page and " style=" not in page
    controls = re.findall(r'<(?:input|select|textarea)\b[^>]*>', page)
    assert controls
    for control in controls:
        if 'type="hidden"' in control or 'type="submit"' in control:
            continue
        control_id = re.search(r'id="([^"]+)"', control).group(1)
        assert f'for="{control_id}"' in page, control


def test_the_patient_page_includes_the_actions_once_it_does(app, world):
    page = signed_in(app, world.coord_a).get(f"/console/patients/{world.a_id}").get_data(as_text=True)
    if 'id="contact-action"' not in page:
        pytest.skip("the patient page does not include the action partials yet")
    assert re.search(r'id="contacts".*id="contact-action"', page, re.DOTALL)
    for anchor in ("plan-action", "dxa-action", "dose-action"):
        assert f'id="{anchor}"' in page


def test_the_service_texts_are_still_the_services_words():
    """app/console/service_texts.py translates the services' messages by their words: each must
    still be one (a string in a service, or marshmallow's), or the console shows it untranslated.
    A text with a value (%(name)s) must still be an f-string of a service or a marshmallow message."""
    import ast
    from pathlib import Path

    from marshmallow import validate

    root = Path(__file__).resolve().parents[1] / "app"
    listed = [node.args[0].value for node in ast.walk(ast.parse((root / "console/service_texts.py").read_text()))
              if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_l"]
    trees = [ast.parse(path.read_text()) for path in root.rglob("*.py")
             if "console" not in path.relative_to(root).parts]  # not the checkout's own folder name
    said = {node.value for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str)}
    formatted = {f"This follow-up is {status}; plan a new one instead." for status in ("done", "missed", "cancelled")}
    formatted |= {f"No such {what} for this patient." for what in ("DXA follow-up", "treatment")}  # patient_row_or_404
    schema = {"Missing data for required field.", "Not a valid date.", "This needs the role coordinator."}

    def shape(text: str) -> str:  # every value as one mark: "%(max)s", "{max}" and an f-string's {...}
        return re.sub(r"%\(\w+\)s|\{[^}]*\}", "…", text)

    with_values = {shape("".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values))
                   for tree in trees for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)}
    with_values |= {shape(m) for m in (validate.Length.message_min, validate.Length.message_max,
                                       validate.Length.message_all, validate.OneOf.default_message)}
    assert len(listed) > 20
    plain = [text for text in listed if "%(" not in text]
    valued = [text for text in listed if "%(" in text]
    assert not [text for text in plain if text not in said | formatted | schema]
    assert valued and not [text for text in valued if shape(text) not in with_values]


def test_tampered_posts_get_a_message_never_a_500(app, world):
    console = signed_in(app, world.coord_a)
    posts = [
        ("plans", {"template": "no-such-template", "plan_id": world.plan_a["id"], "revision": "x"}),
        ("plans", {"template": "gentle-start", "plan_id": "not-a-uuid", "revision": "x"}),
        ("plans", {"template": "gentle-start", "acknowledge_warnings": "bogus", "plan_id": world.plan_a["id"]}),
        ("plans", {}),
        ("dxa/bookings", {"kind": "bogus", "appointment_date": today_of().isoformat(), "appointment_time": "09:00",
                          "appointment_place": "x" * 500}),
        ("doses", {"treatment_id": str(uuid.uuid4()), "given_on": "2026-02-30"}),
        ("contacts", {"channel": "phone", "outcome": "reached", "follow_up_on": "9999-99-99"}),
    ]
    for path, data in posts:
        r = console.post(f"/console/patients/{world.a_id}/{path}", data=data)
        assert r.status_code in (409, 422), (path, data)  # the page again with the message, never a 500
        assert 'class="message error"' in messages(console, r), (path, data)
    _unchanged(world)
