"""A refused form post loses nothing typed: the patient page is shown again at once (422, or 409
for a conflict) with the form as the coordinator filled it, the error by the field and above; the
note never goes into the cookie; the form shown again carries its CSRF token, and a post without
one is still refused."""
import html
import re
from datetime import timedelta

from tests.console_client import csrf_token, signed_in
from tests.test_console_actions import (
    contact,
    hidden,
    plan_of,
    plan_post,
    render_partial,
    today_of,
)

NOTE = "Spoke with his wife: he stood 20 min on Sunday, dizzy after; will call back Thursday."


def typed_note(page: str) -> bool:
    """The note back in a textarea (WTForms starts its content with a newline, which browsers drop)."""
    return re.search(rf"<textarea[^>]*>(\r?\n)?{re.escape(NOTE)}</textarea>", page) is not None


def _session_of(app, console) -> dict:
    """What the console's cookie holds (signed, not encrypted: no clinical note belongs there)."""
    cookie = console.client.get_cookie("standstrong_console", path="/console")
    return app.session_interface.get_signing_serializer(app).loads(cookie.value) if cookie else {}


def test_a_refused_contact_comes_back_as_typed(app, world):
    console = signed_in(app, world.coord_a)
    follow_up = (today_of() + timedelta(days=2)).isoformat()
    r = console.post(f"/console/patients/{world.a_id}/contacts",
                     data=contact(channel="pigeon", outcome="left_message", note=NOTE, follow_up_on=follow_up))
    assert r.status_code == 422 and "Location" not in r.headers
    page = html.unescape(r.get_data(as_text=True))
    assert "Channel: Not a valid choice." in page  # above the page
    assert re.search(r'<div class="field invalid">\s*<label for="contact-channel">', page)  # and by the field
    assert typed_note(page)
    assert '<option selected value="left_message">' in page and f'value="{follow_up}"' in page
    assert NOTE not in str(_session_of(app, console))
    assert world.coord_a.get(f"/api/v1/patients/{world.a_id}/contacts").get_json()["items"] == []

    # the form shown again is a working form: its token, the channel corrected, and it is logged
    again = {"csrf_token": csrf_token(page), "channel": "phone", "outcome": "left_message", "note": NOTE,
             "follow_up_on": follow_up}
    assert console.client.post(f"/console/patients/{world.a_id}/contacts", data=again).status_code == 302
    listed = world.coord_a.get(f"/api/v1/patients/{world.a_id}/contacts").get_json()["items"]
    assert [(c["channel"], c["note"]) for c in listed] == [("phone", NOTE)]


def test_a_refusal_by_the_service_comes_back_as_typed_too(app, world):
    console = signed_in(app, world.coord_a)
    yesterday = (today_of() - timedelta(days=1)).isoformat()
    r = console.post(f"/console/patients/{world.a_id}/contacts", data=contact(note=NOTE, follow_up_on=yesterday))
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 422 and "A follow-up date is today or later" in page
    assert typed_note(page) and 'aria-invalid="true"' in page


def test_a_post_without_its_token_is_still_refused(app, world):
    console = signed_in(app, world.coord_a)
    r = console.client.post(f"/console/patients/{world.a_id}/contacts", data=contact(channel="pigeon", note=NOTE))
    assert r.status_code == 400 and NOTE not in r.get_data(as_text=True)


def test_a_plan_change_refused_keeps_the_note_and_the_ticks(app, world):
    console = signed_in(app, world.coord_a)
    page = render_partial(app, world.coord_a, world.a_id, "plan_form", "?plan_template=gentle-start")
    plan_url = f"/api/v1/patients/{world.a_id}/plans/{world.plan_a['id']}"
    assert world.coord_a.post(f"{plan_url}/pause", json={"reason": "hospital stay"},
                              if_match_of=plan_url).status_code == 200  # changed since the page was shown
    r = console.post(f"/console/patients/{world.a_id}/plans", data=plan_post(
        page, acknowledge_warnings="autonomic_dysreflexia", change_note="lighter start after a cold"))
    assert r.status_code == 409
    again = html.unescape(r.get_data(as_text=True))
    assert "Someone changed this plan" in again
    assert 'name="change_note" type="text" value="lighter start after a cold"' in again
    assert re.search(r'<input checked id="plan-acknowledge-warnings-0" name="acknowledge_warnings" type="checkbox" '
                     r'value="autonomic_dysreflexia">', again)
    assert hidden(again, "revision") != hidden(page, "revision")  # the plan as it is now, which the page shows
    assert len(plan_of(world, world.a_id, world.plan_a["id"])["versions"]) == 1
    r = console.post(f"/console/patients/{world.a_id}/plans", data=plan_post(
        again, acknowledge_warnings="autonomic_dysreflexia", change_note="lighter start after a cold"))
    assert r.status_code == 302
    assert plan_of(world, world.a_id, world.plan_a["id"])["versions"][-1]["change_note"] == "lighter start after a cold"


def test_a_refused_booking_and_dose_keep_what_was_typed(app, world):
    console = signed_in(app, world.coord_a)
    past = (today_of() - timedelta(days=3)).isoformat()
    r = console.post(f"/console/patients/{world.a_id}/dxa/bookings", data={
        "followup_id": world.followup_a["id"], "appointment_date": past, "appointment_time": "10:30",
        "appointment_place": "Spine centre, room 4"})
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 422 and "Appointment date: An appointment is booked for today or later." in page
    assert 'value="Spine centre, room 4"' in page and f'value="{past}"' in page and 'value="10:30"' in page
    later = (today_of() + timedelta(days=3)).isoformat()
    r = console.post(f"/console/patients/{world.a_id}/doses", data={"treatment_id": world.treatment_a["id"],
                                                                  "given_on": later})
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 422 and re.search(rf'id="dose-given-on" name="given_on" required type="date" value="{later}"',
                                              page)


def test_a_refused_resolve_keeps_the_note(app, world):
    console = signed_in(app, world.coord_a)
    r = console.post(f"/console/patients/{world.a_id}/flags/{world.flag_a}/resolve",
                     data={"outcome": "", "note": NOTE, "next": "/console/flags"})
    assert r.status_code == 422
    page = html.unescape(r.get_data(as_text=True))
    article = page.split(f'id="flag-{world.flag_a}" data-flag-id="{world.flag_a}"')[1].split("</article>")[0]
    assert typed_note(article) and 'aria-invalid="true"' in article and "Outcome: " in page
    assert NOTE not in str(_session_of(app, console))
    r = console.post(f"/console/patients/{world.a_id}/flags/{world.flag_a}/resolve",
                     data={"outcome": "contacted_patient", "note": "x" * 2001})
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 422 and '<option value="contacted_patient" selected>' in page


def test_a_nul_in_a_contact_note_is_refused_by_its_field_on_both_databases(app, world):
    """A call note pasted from a PDF carries a NUL. The API refuses it by the field before the
    schema; the console's forms must too: on SQLite it was stored with the NUL (served as is to
    every client and export), on PostgreSQL the coordinator got a bare "Please check the form"
    naming no field, with everything typed gone. Both: the form again (422), the note's problem
    by the field, the note as typed, nothing stored."""
    console = signed_in(app, world.coord_a)
    response = console.post(f"/console/patients/{world.a_id}/contacts",
                            data=contact(note="Called: stood 20 min\x00 dizzy after"))
    stored = world.coord_a.get(f"/api/v1/patients/{world.a_id}/contacts").get_json()["items"]
    assert [c["note"] for c in stored] == []
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422 and "NUL" in page and "stood 20 min" in page, response.status_code
    assert "Note: Text cannot contain the NUL character" in page


def test_a_nul_in_a_resolve_note_is_refused_in_the_pages_language(app, world):
    console = signed_in(app, world.coord_a)
    assert console.post("/console/language", data={"language": "zh-CN"}).status_code == 302
    r = console.post(f"/console/patients/{world.a_id}/flags/{world.flag_a}/resolve",
                     data={"outcome": "contacted_patient", "note": "stood 20 min\x00 dizzy after"})
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 422 and "文本不能包含 NUL 字符" in page and "stood 20 min" in page
    active = world.coord_a.get(f"/api/v1/patients/{world.a_id}/flags").get_json()["items"]
    assert str(world.flag_a) in [f["id"] for f in active]
