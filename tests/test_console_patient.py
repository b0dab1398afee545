"""The console's patient page (issue 15): every section from the API's services (patient A of the
world: plan, a session with a symptom and its safety answer, the DXA result and follow-up, the
denosumab dose, a contact logged through the API, the timeline), zh-CN, 404s, the read audit,
and a statement count that does not grow with the sessions."""
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from html import unescape

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.common.clock import local_date, local_today
from app.extensions import db
from app.rules.models import Flag, active_key
from app.sessions import content
from tests.console_client import signed_in
from tests.factories import at, enrolled_patient, session_body
from tests.statements import statements_on

UTC = timezone.utc
SECTIONS = ("profile", "flags", "plan", "adherence", "sessions", "dxa", "medications", "contacts", "timeline")


def page_of(app, actor, patient_id, **kw):
    response = signed_in(app, actor).get(f"/console/patients/{patient_id}", **kw)
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    return response.get_data(as_text=True)


def section(html: str, name: str) -> str:
    found = re.search(rf'<section id="{name}"[^>]*>(.*?)</section>', html, re.S)
    assert found, f"no section {name}"
    return found.group(1)


def text(fragment: str) -> str:
    """What a reader sees of the markup: the text, spaces collapsed (SVG left out)."""
    fragment = re.sub(r"<svg.*?</svg>", " ", fragment, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def log_headache(world):
    body = session_body(world, symptoms=["pounding_headache"], pain=4, duration_minutes=25)
    r = world.patient_a.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def log_contact(world):
    follow_up = (local_today("Asia/Shanghai") + timedelta(days=7)).isoformat()  # patient A's zone
    r = world.coord_a.post(f"/api/v1/patients/{world.a_id}/contacts", json={
        "channel": "phone", "outcome": "reached", "note": "Restarting standing on Monday.", "follow_up_on": follow_up})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_the_sections_come_in_order_with_headings(app, world):
    html = page_of(app, world.coord_a, world.a_id)
    places = [html.index(f'<section id="{name}"') for name in SECTIONS]
    assert places == sorted(places)
    assert html.count("<h1") == 1
    for name in SECTIONS:
        assert re.search(r"<h2[^>]*>", section(html, name))
    assert "<script" not in html
    for table in re.findall(r"<table.*?</table>", html, re.S):
        assert "<caption>" in table and 'scope="col"' in table


def test_each_section_shows_the_patients_data(app, world):
    logged = log_headache(world)
    contact = log_contact(world)
    url = f"/api/v1/patients/{world.a_id}"
    r = world.coord_a.patch(url, if_match_of=url, json={
        "known_clots": [{"site": "left calf", "date": "2025-09-01", "note": "DVT, treated"}]})
    assert r.status_code == 200, r.get_json()
    html = page_of(app, world.coord_a, world.a_id)

    profile = text(section(html, "profile"))
    assert "T4" in profile and "AIS grade A" in profile and "Asia/Shanghai" in profile
    assert "Feb 3, 1980" in profile and "Jun 1, 2024" in profile and "years old" in profile
    assert "left calf, Sep 1, 2025: DVT, treated" in profile and "中文（简体）" in profile

    flags = section(html, "flags")
    summaries = text(re.search(r'<ul id="flag-summaries".*?</ul>', flags, re.S).group(0))
    assert "Warning" in summaries and "No session for 3 days" in summaries
    assert "opened " in summaries and str(local_today("Asia/Shanghai").year) in summaries  # in patient A's zone

    plan = text(section(html, "plan"))
    assert "Passive standing" in plan and "FES cycling" in plan and "5 times a week" in plan
    assert "Mon, Wed, and Fri" in plan and "Version 1" in plan and "Autonomic dysreflexia" in plan

    adherence = section(html, "adherence")
    assert text(adherence).count("Last ") >= 3 and "Last 90 days" in text(adherence)
    figure = re.search(r'<figure id="adherence-chart".*?</figure>', adherence, re.S).group(0)
    assert "<svg" in figure and "<figcaption>" in figure and "13 weeks" in text(figure)
    assert len(re.findall(r'<th scope="row">', re.search(r'<details class="chart-data">.*?</details>',
                                                         adherence, re.S).group(0))) == 13

    sessions = section(html, "sessions")
    row = text(re.search(rf'<tr data-session-id="{logged["id"]}".*?</tr>', sessions, re.S).group(0))
    with app.app_context():
        answer = content.alert_view(logged["safety_alerts"][0]["code"], "en")
    assert "Pounding headache" in row and answer["title"] in row and answer["steps"][0] in row
    assert "Passive standing" in row and "25" in row and " 4 " in f" {row} " and "the patient" in row

    dxa = section(html, "dxa")
    assert "<svg" in re.search(r'<figure id="dxa-chart".*?</figure>', dxa, re.S).group(0)
    assert "knee-threshold" in dxa and "lsc-band" in dxa
    results = text(re.search(r'<table class="dxa-results".*?</table>', dxa, re.S).group(0))
    assert "0.712" in results and "Distal femur" in results and "left" in results and "Baseline" in results
    followups = text(re.search(r'<table class="dxa-followups".*?</table>', dxa, re.S).group(0))
    due = date.fromisoformat(world.followup_a["due_date"])
    assert f"{due:%b} {due.day}, {due.year}" in followups and "Due" in followups
    assert "Next scan by the protocol" in text(dxa)

    medications = text(section(html, "medications"))
    given = date.fromisoformat(world.dose_a["given_on"])
    assert "Denosumab" in medications and f"{given:%b} {given.day}, {given.year}" in medications

    contacts = text(section(html, "contacts"))
    follow_up = date.fromisoformat(contact["follow_up_on"])
    assert "Restarting standing on Monday." in contacts and "Phone" in contacts and "Reached" in contacts
    assert "Coordinator A" in contacts and f"{follow_up:%b} {follow_up.day}, {follow_up.year}" in contacts

    timeline = section(html, "timeline")
    kinds = set(re.findall(r'data-kind="([a-z_]+)"', timeline))
    assert {"session", "plan_version", "flag_opened", "contact", "dxa_result", "dose"} <= kinds
    assert "Dose given" in text(timeline) and "Pounding headache" not in text(timeline)


def test_urgent_flags_come_first(app, world):
    now = datetime.now(UTC)
    with app.app_context():
        db.session.add(Flag(patient_id=uuid.UUID(world.a_id), rule_id="dysreflexia_signs", severity="urgent",
                            status="open", active_key=active_key(world.a_id, "dysreflexia_signs"),
                            opened_at=now - timedelta(days=2), last_seen_at=now,
                            evidence={"local_date": local_date(now, "Asia/Shanghai").isoformat(), "symptoms": ["pounding_headache"]}))
        db.session.commit()
    summaries = re.search(r'<ul id="flag-summaries".*?</ul>', page_of(app, world.coord_a, world.a_id), re.S).group(0)
    assert re.findall(r'class="flag-summary severity-(\w+)"', summaries) == ["urgent", "warning"]  # older, yet first
    assert "Signs of autonomic dysreflexia reported" in text(summaries)


def test_the_labels_a_physician_reviewer_asked_for(app, world):
    """"Safety advice shown to the patient" (not "Safety answers shown"), and a flag not yet
    acknowledged is "New" in the open flags list, which holds acknowledged flags too."""
    world.coord_a.post(f"/api/v1/patients/{world.a_id}/flags/{world.flag_a}/acknowledge")
    now = datetime.now(UTC)
    with app.app_context():
        db.session.add(Flag(patient_id=uuid.UUID(world.a_id), rule_id="dysreflexia_signs", severity="urgent",
                            status="open", active_key=active_key(world.a_id, "dysreflexia_signs"),
                            opened_at=now, last_seen_at=now, evidence={"symptoms": ["pounding_headache"]}))
        db.session.commit()
    for language, advice, new, acknowledged in (("en", "Safety advice shown to the patient", "New", "Acknowledged"),
                                                 ("zh-CN", "向患者显示的安全建议", "新", "已确认")):
        html = page_of(app, world.coord_a, world.a_id, headers={"Accept-Language": language})
        assert f'<th scope="col">{advice}</th>' in section(html, "sessions") and "Safety answers shown" not in html
        flags = section(html, "flags")
        statuses = re.findall(r'<p class="flag-status">([^ ]+) ·', flags)
        assert sorted(statuses) == sorted([new, acknowledged]), statuses
        summaries = text(re.search(r'<ul id="flag-summaries".*?</ul>', flags, re.S).group(0))
        assert f"· {new}" in summaries and f"· {acknowledged}" in summaries
        assert ">Open<" not in flags and "· Open" not in summaries


def test_a_caregivers_session_names_the_caregiver(app, world):
    r = world.caregiver_a.put(f"/api/v1/patients/{world.a_id}/sessions/{uuid.uuid4()}", json=session_body(world))
    assert r.status_code == 201, r.get_json()
    row = re.search(rf'<tr data-session-id="{r.get_json()["id"]}".*?</tr>', page_of(app, world.coord_a, world.a_id),
                    re.S).group(0)
    assert "Carer" in text(row)


def test_the_page_in_chinese(app, world):
    log_headache(world)
    html = page_of(app, world.coord_a, world.a_id, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in html
    with app.app_context():
        symptom = next(s["label"]["zh-CN"] for s in content.symptoms() if s["code"] == "pounding_headache")
        answer = content.alert_view("autonomic_dysreflexia", "zh-CN")["title"]
    seen = text(html)
    for words in ("档案", "依从性", "最近的训练", "联系记录", "时间线", "被动站立", symptom, answer, "股骨远端",
                  "地舒单抗", "1980年2月3日"):
        assert words in seen, words
    assert "Latest sessions" not in seen and "Passive standing" not in seen


def test_only_the_care_team_sees_the_page(app, world):
    for actor in (world.coord_b, world.coord_none):
        r = signed_in(app, actor).get(f"/console/patients/{world.a_id}")
        assert r.status_code == 404 and "text/html" in r.content_type
        assert "Alice" not in r.get_data(as_text=True)
    assert signed_in(app, world.coord_a).get(f"/console/patients/{uuid.uuid4()}").status_code == 404
    r = signed_in(app, world.admin).get(f"/console/patients/{world.a_id}")  # runs care teams, reads no clinical data
    assert r.status_code == 403 and "Alice" not in r.get_data(as_text=True)


def test_opening_the_page_is_an_audited_read_of_the_patient(app, world):
    def reads():
        with app.app_context():
            return db.session.scalars(select(AuditEvent).where(
                AuditEvent.patient_id == uuid.UUID(world.a_id), AuditEvent.action == "read",
                AuditEvent.actor_id == uuid.UUID(world.coord_a.id))).all()

    before = len(reads())
    page_of(app, world.coord_a, world.a_id)
    new = [e for e in reads() if e.route == "/console/patients/<uuid:patient_id>"]
    assert len(reads()) == before + 1  # one row, however many services the page read through
    assert len(new) == 1 and new[0].method == "GET"
    signed_in(app, world.coord_b).get(f"/console/patients/{world.a_id}")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.patient_id == uuid.UUID(world.a_id),
            AuditEvent.actor_id == uuid.UUID(world.coord_b.id))) == 0


# --- statements: a fixed number, whatever the number of sessions ----------------------------

START = datetime(2027, 1, 4, 9, tzinfo=UTC)  # a Monday
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _on_a_daily_plan(client, world, days_logged):
    """A patient of coordinator A on a daily plan from START, with a session on each of days_logged
    (days after START), logged in offline batches as the backfill window allows."""
    patient, profile = enrolled_patient(client, world.coord_a, time_zone="Europe/London", language="en",
                                        neurological_level="T10")
    url = f"/api/v1/patients/{profile['id']}"
    with at(START - timedelta(days=1), world.coord_a):
        plan = world.coord_a.post(f"{url}/plans", json={
            "start_date": START.date().isoformat(), "acknowledge_warnings": ["autonomic_dysreflexia"],
            "items": [{"exercise": "fes-cycling", "minutes": 30, "days_of_week": EVERY_DAY}]})
        assert plan.status_code == 201, plan.get_json()
    key = plan.get_json()["versions"][0]["items"][0]["item_key"]
    days = sorted(days_logged)
    for first in range(0, len(days), 25):
        chunk = days[first:first + 25]
        with at(START + timedelta(days=chunk[-1], hours=3), patient):
            r = patient.post(f"{url}/sessions/batch", json={"sessions": [
                {"id": str(uuid.uuid4()), "item_key": key, "duration_minutes": 30,
                 "started_at": (START + timedelta(days=d, hours=1)).isoformat()} for d in chunk]})
            assert r.status_code == 200 and r.get_json()["counts"] == {"created": len(chunk)}, r.get_json()
    return profile["id"]


def _statements(app, actor, patient_id, when):
    with at(when, actor):
        console = signed_in(app, actor)
        with app.app_context():
            engine = db.engine
        with statements_on(engine) as counted:
            response = console.get(f"/console/patients/{patient_id}")
    assert response.status_code == 200
    return counted.n, response.get_data(as_text=True)


def test_statements_do_not_grow_with_the_sessions(app, client, world):
    when = START + timedelta(days=90, hours=12)
    few_id = _on_a_daily_plan(client, world, [87, 88, 89])
    many_id = _on_a_daily_plan(client, world, range(90))
    few, _ = _statements(app, world.coord_a, few_id, when)
    many, html = _statements(app, world.coord_a, many_id, when)
    assert many <= few <= 49, (few, many)  # 85 before the care-team check and the history were read once
    assert len(re.findall(r"<tr data-session-id=", html)) == 20
    assert "Last 90 days" in text(section(html, "adherence"))
    with at(when, world.coord_a):
        api = world.coord_a.get(f"/api/v1/patients/{many_id}/adherence?window=90").get_json()
    rates = text(re.search(r'<tr data-window="90">.*?</tr>', html, re.S).group(0))
    assert f"{api['completed_sessions']} / {api['expected_sessions']}" in rates and api["completed_sessions"] == 89
    assert f"{round(api['session_rate'] * 100)}%" in rates


def test_the_page_checks_the_care_team_and_reads_the_history_once(app, world):
    console = signed_in(app, world.coord_a)
    with app.app_context():
        engine = db.engine
    with statements_on(engine) as counted:
        assert console.get(f"/console/patients/{world.a_id}").status_code == 200
    seen = counted.texts
    membership = [s for s in seen if s.startswith("SELECT care_team_members.patient_id, care_team_members.coordinator_id")]
    assert len(membership) == 1, membership  # once, not once per service (about 20 before)
    # the plans' statement (app/plans/loading.py: its rows say their kind; the pauses are among them)
    pauses = [s for s in seen if s.startswith("SELECT 1 AS kind, CAST(plans.id AS VARCHAR) AS id") and " FROM plan_pauses JOIN plans " in s]
    assert len(pauses) == 1, pauses  # the adherence history: once for the 7/30/90 days and the chart (4 before)


def test_the_timeline_pages(app, client, world):
    patient_id = _on_a_daily_plan(client, world, range(30))
    when = START + timedelta(days=30, hours=12)
    with at(when, world.coord_a):
        console = signed_in(app, world.coord_a)
        first = console.get(f"/console/patients/{patient_id}").get_data(as_text=True)
        second = console.get(f"/console/patients/{patient_id}?timeline_page=2").get_data(as_text=True)
        odd = console.get(f"/console/patients/{patient_id}?timeline_page=x")
    timeline = section(first, "timeline")
    assert len(re.findall(r"data-kind=", timeline)) == 20 and "timeline_page=2#timeline" in timeline
    assert "Page 1 of 2" in text(timeline)
    later = section(second, "timeline")
    assert "Page 2 of 2" in text(later) and 'data-kind="plan_version"' in later
    assert "timeline_page=1#timeline" in later
    assert odd.status_code == 200
