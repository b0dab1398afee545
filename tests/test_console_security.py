"""The console under attack (issue 15): another coordinator's ids in one's own forms, forged or
stale CSRF tokens, script in every free text, redirects out of /console, database refusals and
routing errors; each answer is an HTML page, never a 500, and nothing is written."""
import html
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from app.extensions import db
from app.rules.models import Flag, active_key
from tests.console_client import Console, signed_in
from tests.factories import PASSWORD, activate, caregiver_for, create_patient
from tests.test_console_actions import _every_action, _unchanged, messages, today_of

HOSTILE = 'Zq<script>alert(1)</script>"><img src=x onerror=alert(2)></svg>{{7*7}}'


def _is_page(response, status):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.content_type.startswith("text/html"), response.content_type


# --- access: another patient's ids in one's own forms -------------------------------------

def _flashed(console, response) -> list[str]:
    return re.findall(r'<p class="message (?:\w+)">(.*?)</p>', messages(console, response))


def test_another_patients_ids_under_ones_own_patient_change_nothing_and_tell_nothing(app, world):
    console = signed_in(app, world.coord_b)
    for path, data in _every_action(world).items():
        if path == "contacts":
            continue
        theirs = _flashed(console, console.post(f"/console/patients/{world.b_id}/{path}", data=data))
        random = _flashed(console, console.post(f"/console/patients/{world.b_id}/{path}", data={
            **data, **{k: str(uuid.uuid4()) for k in ("plan_id", "followup_id", "treatment_id") if k in data}}))
        assert theirs == random and len(theirs) == 1, path  # "No such ... for this patient.": no oracle
    for action in ("acknowledge", "resolve"):
        r = console.post(f"/console/patients/{world.b_id}/flags/{world.flag_a}/{action}",
                         data={"outcome": "other", "note": "not mine"})
        _is_page(r, 404)
    _unchanged(world)
    assert db.session.get(Flag, uuid.UUID(world.flag_a)).status == "open"


# --- CSRF -----------------------------------------------------------------------------------

def test_a_token_of_another_session_or_from_before_the_sign_in_is_refused(app, world):
    elsewhere = signed_in(app, world.coord_a).token("/console/")
    console = Console(app)
    before = console.token()
    anonymous = console.client.get_cookie("standstrong_console", path="/console").value
    console.sign_in(world.coord_a.email)
    assert console.client.get_cookie("standstrong_console", path="/console").value != anonymous
    base = f"/console/patients/{world.a_id}"
    for url, data in {"/console/logout": {}, "/console/language": {"language": "zh-CN"},
                      f"{base}/flags/{world.flag_a}/acknowledge": {},
                      **{f"{base}/{path}": data for path, data in _every_action(world).items()}}.items():
        for token in (elsewhere, before):
            _is_page(console.client.post(url, data={**data, "csrf_token": token}), 400)
    assert console.get("/console/").status_code == 200  # the sign-out was refused too
    _unchanged(world)
    assert db.session.get(Flag, uuid.UUID(world.flag_a)).status == "open"


def test_a_cookie_replayed_after_sign_out_opens_nothing(app, world):
    console = signed_in(app, world.coord_a)
    cookie = console.client.get_cookie("standstrong_console", path="/console").value
    console.post("/console/logout")
    replay = app.test_client()
    replay.set_cookie("standstrong_console", cookie, path="/console")
    r = replay.get(f"/console/patients/{world.a_id}")
    assert r.status_code == 302 and r.headers["Location"].startswith("/console/login")


# --- script in every free text --------------------------------------------------------------

def _escaped(page: str, where: str):
    assert "<script" not in page and "<img" not in page, where
    assert page.count("</svg>") == page.count("<svg"), where
    assert "Zq&lt;script&gt;" in page, where


def test_hostile_text_everywhere_is_escaped(app, world):
    created = create_patient(world.coord_a, display_name="P " + HOSTILE, clinical_notes=HOSTILE,
                             known_fractures=[{"site": HOSTILE, "date": "2024-01-01", "note": HOSTILE}])
    patient_id = created["patient"]["id"]
    caregiver_for(world.client, activate(world.client, created["invitation"]["code"]), name=HOSTILE)
    base = f"/api/v1/patients/{patient_id}"
    assert world.coord_a.post(f"{base}/plans", json={"template": "combined-programme", "change_note": HOSTILE,
                                                     "acknowledge_warnings": ["autonomic_dysreflexia"]}).status_code == 201
    for days, bmd in ((60, 0.71), (5, 0.64)):
        assert world.coord_a.post(f"{base}/dxa/results", json={
            "scan_date": (today_of() - timedelta(days=days)).isoformat(), "site": "distal_femur", "side": "left",
            "bmd": bmd, "centre": HOSTILE, "machine": HOSTILE}).status_code == 201
    now = datetime.now(timezone.utc)
    flag = Flag(patient_id=uuid.UUID(patient_id), rule_id="lapse", severity="urgent", status="open",
                active_key=active_key(patient_id, "lapse"), opened_at=now, last_seen_at=now,
                evidence={"days": 3, "last_session_date": HOSTILE, "as_of": today_of().isoformat(), HOSTILE: HOSTILE})
    db.session.add(flag)
    db.session.commit()
    flag_id = str(flag.id)
    console = signed_in(app, world.coord_a)
    pages = f"/console/patients/{patient_id}"
    console.post(f"{pages}/contacts", data={"channel": "phone", "outcome": "reached", "note": HOSTILE})
    console.post(f"{pages}/dxa/bookings", data={"appointment_date": (today_of() + timedelta(days=3)).isoformat(),
                                                "appointment_time": "09:00", "appointment_place": HOSTILE})
    console.post(f"{pages}/flags/{flag_id}/resolve", data={"outcome": "other", "note": HOSTILE})
    for url in (pages, f"{pages}?plan_template=gentle-start", "/console/", "/console/flags?status=all",
                f"/console/?q={HOSTILE}", f"/console/flags?q={HOSTILE}"):
        r = console.get(url)
        assert r.status_code == 200 and "script-src" not in r.headers["Content-Security-Policy"]
        _escaped(r.get_data(as_text=True), url)
    refused = console.post(f"{pages}/contacts", data={"channel": HOSTILE, "outcome": HOSTILE, "follow_up_on": HOSTILE,
                                                      "note": HOSTILE})
    page = refused.get_data(as_text=True)  # the page again, the form as typed
    assert refused.status_code == 422 and 'class="message error"' in page
    _escaped(page, "flashed messages and the form shown again")
    refused = console.post(f"{pages}/flags/{flag_id}/resolve", data={"outcome": HOSTILE, "note": HOSTILE})
    assert refused.status_code in (409, 422)
    _escaped(refused.get_data(as_text=True), "a resolve form shown again")


# --- redirects ----------------------------------------------------------------------------

OUTSIDE = ("//evil.example", "/\\evil.example", "https:evil.example", "%2F%2Fevil.example",
           "/console/../api/v1/me", "/console/%2e%2e/api/v1/me", "/console/.%2E/api/v1/me",
           "/console/\t/../../api/v1/me", "/console/\r\nSet-Cookie: a=b", "/console/x\x7f")


@pytest.mark.parametrize("target", OUTSIDE)
def test_next_never_leaves_the_console_nor_breaks_the_redirect(app, world, target):
    console = Console(app)
    r = console.client.post("/console/login", query_string={"next": target}, data={
        "email": world.coord_a.email, "password": PASSWORD, "csrf_token": console.token()})
    assert r.status_code == 302 and r.headers["Location"] == "/console/"
    r = console.get("/console/login", query_string={"next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/console/"
    r = console.post("/console/language", data={"language": "en", "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/console/"
    r = console.post(f"/console/patients/{world.a_id}/flags/{world.flag_a}/acknowledge", data={"next": target})
    assert r.status_code == 302 and r.headers["Location"] == f"/console/patients/{world.a_id}#flags"


def test_next_inside_the_console_is_kept(app, world):
    console = signed_in(app, world.coord_a)
    for target in ("/console/flags?status=all", f"/console/patients/{world.a_id}#flags", "/console/?q=%2e%2e"):
        r = console.post("/console/language", data={"language": "en", "next": target})
        assert r.headers["Location"] == target


# --- errors are pages ---------------------------------------------------------------------

@pytest.mark.parametrize("error, status", [
    (DataError("INSERT", {}, Exception("refused")), 422),
    (IntegrityError("INSERT", {}, Exception("duplicate")), 409),
    (OperationalError("INSERT", {}, Exception("gone")), 503),
])
def test_a_database_refusal_is_the_apis_answer_as_a_page(app, world, monkeypatch, error, status):
    from app.coordinator import service

    def refused(*args, **kwargs):
        raise error

    monkeypatch.setattr(service, "log_contact", refused)
    console = signed_in(app, world.coord_a)
    r = console.post(f"/console/patients/{world.a_id}/contacts", data={"channel": "phone", "outcome": "reached"})
    _is_page(r, status)
    if status == 503:
        assert r.headers["Retry-After"]


def test_a_nul_in_any_console_form_is_refused_by_its_field_on_both_databases(app, world):
    """PostgreSQL cannot store a NUL in text and SQLite can: the console refuses one by the field
    (as the API's parser does): the page again (422) with the error by the field."""
    console = signed_in(app, world.coord_a)
    base = f"/console/patients/{world.a_id}"
    for url, data, label in (
            (f"{base}/contacts", {"channel": "phone", "outcome": "reached", "note": "a\x00b"}, "Note"),
            (f"{base}/flags/{world.flag_a}/resolve", {"outcome": "other", "note": "a\x00b"}, "Note"),
            (f"{base}/dxa/bookings", {"followup_id": world.followup_a["id"], "appointment_time": "09:30",
                                      "appointment_date": today_of().isoformat(), "appointment_place": "\x00"},
             "Centre and room")):
        r = console.post(url, data=data)
        page = html.unescape(r.get_data(as_text=True))
        assert r.status_code == 422 and r.content_type.startswith("text/html"), (url, r.status_code)
        assert f"{label}: Text cannot contain the NUL character" in page, url
    assert console.get("/console/?q=a%00b").status_code == 400


@pytest.mark.parametrize("email, password", [("a\x00b@example.org", "x\x00"), ("\x00", PASSWORD),
                                             ("coord-a\x00", PASSWORD), ("coord-a", "wrong\x00")])
def test_a_sign_in_with_a_nul_is_any_failed_sign_in_on_both_databases(app, world, email, password):
    """Not a 422 naming the field (PostgreSQL's refusal) where SQLite says 401: one answer, which
    tells nothing of the account."""
    email = email.replace("coord-a", world.coord_a.email)
    r = Console(app).sign_in(email, password, expect=401)
    assert "E-mail or password is wrong." in r.get_data(as_text=True)


def test_routing_errors_under_the_console_are_pages(app, world):
    console = signed_in(app, world.coord_a)
    for method, url, status in (("GET", "/console/logout", 405), ("GET", f"/console/patients/{world.a_id}/contacts", 405),
                                ("GET", "/console/patients/not-a-uuid", 404), ("GET", "/console/no-such-page", 404),
                                ("POST", "/console/patients/not-a-uuid/contacts", 404)):
        r = console.client.open(url, method=method)
        _is_page(r, status)
        assert "Content-Security-Policy" in r.headers, url
    for method, url, status in (("GET", "/api/v1/no-such-route", 404), ("GET", "/api/v1/auth/login", 405)):
        r = app.test_client().open(url, method=method)
        assert r.status_code == status and r.content_type == "application/problem+json", url


# --- logs ---------------------------------------------------------------------------------

def test_console_requests_log_no_patient_data(app, world):
    from tests.log_capture import SUITE_LOG

    canary = f"Canary fell at home {uuid.uuid4().hex}"
    before = len(SUITE_LOG.lines)
    console = signed_in(app, world.coord_a)
    base = f"/console/patients/{world.a_id}"
    console.post(f"{base}/contacts", data={"channel": "phone", "outcome": "reached", "note": canary})
    console.post(f"{base}/contacts", data={"channel": canary, "outcome": "reached", "note": canary})
    console.post(f"{base}/flags/{world.flag_a}/resolve", data={"outcome": "other", "note": canary,
                                                              "next": f"/console/{canary}"})
    for url in (f"/console/?q={canary}", f"{base}?plan_template={canary}", f"/console/patients/{canary}",
                f"{base}/{canary}", f"/console/login?next=/console/{canary}"):
        console.get(url)
    console.post(f"{base}/dxa/bookings", data={"appointment_date": "2099-01-01", "appointment_time": "09:00",
                                               "appointment_place": canary})
    Console(app).post("/console/login", data={"email": f"x{uuid.uuid4().hex}@example.org", "password": canary},
                      page="/console/login")
    lines = SUITE_LOG.lines[before:]
    assert sum('"/console/' in line for line in lines) >= 10
    leaks = [line for line in lines if canary in line or world.a_id in line or world.flag_a in line
             or "Alice" in line]
    assert not leaks, leaks[:3]


def test_a_form_sent_with_a_method_or_to_a_url_no_page_takes_gets_the_console_page(app, world):
    """The JSON-only guard answered these with the API's 415 problem+json: routing fails before
    the blueprint is known. The 404/405 answers first, as a console page."""
    console = signed_in(app, world.coord_a)
    base = f"/console/patients/{world.a_id}"
    for method, url, status in (("PUT", f"{base}/contacts", 405), ("PATCH", f"{base}/plans", 405),
                                ("DELETE", f"{base}/contacts", 405), ("POST", "/console/", 405),
                                ("PUT", "/console/login", 405), ("POST", "/console/no-such-page", 404)):
        r = console.client.open(url, method=method, data={"note": "x"})
        _is_page(r, status)
    # The API: the route's own 404/405 (problem+json), not 415 for a body it would never read.
    for method, url, status in (("POST", "/api/v1/no-such-route", 404), ("PUT", "/api/v1/auth/login", 405)):
        r = app.test_client().open(url, method=method, data={"email": "a"})
        assert r.status_code == status and r.content_type == "application/problem+json", url
