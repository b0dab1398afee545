"""The console's caseload page and flag list, and acting on a flag through its forms (issue 15)."""
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from app.extensions import db
from app.rules.models import Flag, active_key
from tests.console_client import signed_in
from tests.factories import enrolled_patient
from tests.statements import statements_on

ROW = re.compile(r'<tr data-patient-id="([0-9a-f-]{36})"')
FLAG = re.compile(r'<article class="flag[^"]*" id="flag-[^"]+" data-flag-id="([0-9a-f-]{36})"\s+data-severity="(\w+)"')


def shanghai_today() -> date:
    """Patient A's today (tests/factories.py enrols in Asia/Shanghai): after 16:00 UTC, tomorrow."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def add_patient(client, world, name, **overrides):
    _actor, profile = enrolled_patient(client, world.coord_a, display_name=name, **overrides)
    return profile["id"]


def add_flag(client, patient_id, rule_id="dysreflexia_signs", severity="urgent", evidence=None, days_ago=0):
    now = datetime.now(timezone.utc) - timedelta(days=days_ago)
    with client.application.app_context():
        flag = Flag(patient_id=uuid.UUID(patient_id), rule_id=rule_id, severity=severity, status="open",
                    active_key=active_key(patient_id, rule_id), opened_at=now, last_seen_at=now,
                    evidence=evidence if evidence is not None else {
                        "session_id": str(uuid.uuid4()), "local_date": shanghai_today().isoformat(),
                        "symptoms": ["pounding_headache"], "sessions": 1})
        db.session.add(flag)
        db.session.commit()
        return str(flag.id)


def api_ids(world, query) -> list[str]:
    return [r["patient"]["id"] for r in world.coord_a.get(f"/api/v1/caseload?{query}").get_json()["items"]]


def rows(html: str) -> list[str]:
    return ROW.findall(html)


def text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    return response.get_data(as_text=True)


def test_one_row_per_patient_riskiest_first(app, client, world):
    urgent = add_patient(client, world, "Urgent Ursula")
    calm = add_patient(client, world, "Calm Carl")
    add_flag(client, urgent)
    html = text(signed_in(app, world.coord_a).get("/console/"))
    assert rows(html)[:2] == [urgent, world.a_id] and set(rows(html)) == {urgent, world.a_id, calm}
    assert world.b_id not in html  # not on A's caseload
    assert '<table id="caseload">' in html and "<caption id=" in html
    assert html.count('<th scope="col">') == 10
    assert f'<a class="patient-link" href="/console/patients/{urgent}">Urgent Ursula</a>' in html
    row = html.split(f'data-patient-id="{urgent}"')[1].split("</tr>")[0]
    assert "severity-urgent" in row and "1 urgent" in row and 'aria-hidden="true">▲' in row  # not colour alone
    alice = html.split(f'data-patient-id="{world.a_id}"')[1].split("</tr>")[0]
    assert "1 warning" in alice and "T4" in alice
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in alice and f"spark-{world.a_id}-title" in alice
    assert "of" in alice  # done of expected
    assert "overdue" not in row


def test_each_filter_and_the_search(app, client, world):
    urgent = add_patient(client, world, "Urgent Ursula")
    calm = add_patient(client, world, "Calm Carl", neurological_level="C6")
    add_flag(client, urgent)
    console = signed_in(app, world.coord_a)

    def ids(query):
        return rows(text(console.get(f"/console/?{query}")))

    assert ids("severity=urgent") == [urgent]
    assert ids("severity=warning&severity=urgent") == [urgent, world.a_id]
    assert ids("rule=lapse") == [world.a_id]
    assert ids("rule=") == ids("")  # an empty field of the form is no filter
    assert ids("q=carl") == [calm] and ids("q=CALM+c") == [calm]
    for query in ("adherence_below=1&adherence_window=7", "adherence_below=0.5", "adherence_below=0.01",
                  "sort=adherence_7", "sort=last_session", "overdue=false&sort=name"):
        assert ids(query) == api_ids(world, query), query  # the API's rows, in the API's order
    assert calm not in ids("adherence_below=1")  # nothing due: no rate to be below
    assert ids("no_session_since=2000-01-01") == [urgent, calm]  # Alice logged one today
    assert world.a_id in ids(f"no_session_since={(shanghai_today() + timedelta(days=1)).isoformat()}")
    assert ids("overdue=true") == [] and len(ids("overdue=false")) == 3
    assert ids("sort=name") == [world.a_id, calm, urgent]
    page = text(console.get("/console/?severity=urgent&sort=name&q=urs"))
    assert 'value="urgent" checked' in page and 'value="name" selected' in page and 'value="urs"' in page
    assert '<input type="search" id="q" name="q"' in page and '<label for="q">' in page
    empty = text(console.get("/console/?q=nobody-by-this-name"))
    assert rows(empty) == [] and "matches these filters" in empty and 'id="caseload"' not in empty


def test_pages_keep_the_filters(app, client, world):
    for n in range(3):
        add_flag(client, add_patient(client, world, f"Flagged {n}"))
    console = signed_in(app, world.coord_a)
    first = text(console.get("/console/?severity=urgent&per_page=2&sort=name"))
    assert len(rows(first)) == 2 and "Page 1 of 2" in first
    link = re.search(r'<a href="([^"]+)" rel="next">', first).group(1).replace("&amp;", "&")
    assert "severity=urgent" in link and "per_page=2" in link and "sort=name" in link and "page=2" in link
    second = text(console.get(link))
    assert len(rows(second)) == 1 and "Page 2 of 2" in second and 'rel="prev"' in second
    assert set(rows(first)) | set(rows(second)) == set(rows(text(console.get("/console/?severity=urgent"))))
    beyond = text(console.get("/console/?severity=urgent&page=9"))
    assert rows(beyond) == [] and "first page" in beyond


def test_bad_query_values_are_a_400_page(app, world):
    console = signed_in(app, world.coord_a)
    for query in ("page=abc", "severity=nonsense", "rule=nope", "adherence_below=2", "no_session_since=yesterday",
                  "sort=random", "per_page=1000", "adherence_window=9", "overdue=perhaps"):
        r = console.get(f"/console/?{query}")
        assert r.status_code == 400 and "text/html" in r.content_type, query
        assert "could not be read" in r.get_data(as_text=True), query
    r = console.get("/console/flags?status=sleeping")
    assert r.status_code == 400 and "text/html" in r.content_type


def _statements(console, url) -> int:
    with statements_on(db.session.get_bind()) as counted:
        text(console.get(url))
    return counted.n


def test_the_caseload_page_takes_a_fixed_number_of_statements(app, client, world):
    def patients(n):
        for i in range(n):
            pid = add_patient(client, world, f"Many {uuid.uuid4().hex[:6]}")
            if i % 2:
                add_flag(client, pid)

    patients(2)  # a flagged one and one without a plan, as every later size has
    console = signed_in(app, world.coord_a)
    text(console.get("/console/"))  # warm caches (rules, content)
    few = _statements(console, "/console/?per_page=100")
    patients(8)
    many = _statements(console, "/console/?per_page=100")
    assert len(rows(text(console.get("/console/?per_page=100")))) == 11
    assert few == many <= 18, (few, many)  # 24 before the sparklines drew the rows' own read


def test_the_flag_list(app, client, world):
    urgent_patient = add_patient(client, world, "Urgent Ursula")
    urgent = add_flag(client, urgent_patient, days_ago=1)
    console = signed_in(app, world.coord_a)
    html = text(console.get("/console/flags"))
    assert FLAG.findall(html) == [(world.flag_a, "warning"), (urgent, "urgent")]  # newest first
    assert '<a href="/console/flags" aria-current="page">Flags</a>' in html
    urgent_html = html.split(f'data-flag-id="{urgent}"')[1].split("</article>")[0]
    assert "Urgent" in urgent_html and "▲" in urgent_html  # marked by text and icon, not colour alone
    assert "Pounding headache" in urgent_html or "headache" in urgent_html.lower()
    assert "Urgent Ursula" in html and f"/console/patients/{urgent_patient}#flags" in html
    lapse = html.split(f'data-flag-id="{world.flag_a}"')[1].split("</article>")[0]
    assert "Days without a session" in lapse and "3 days" in lapse and "MedBridge" in lapse
    assert lapse.count('action="') == 2 and "/acknowledge" in lapse and "/resolve" in lapse
    assert '<select id="outcome-' in lapse and 'name="outcome"' in lapse and "Contacted the patient" in lapse
    assert '<textarea id="note-' in lapse and f'<label for="note-{world.flag_a}">' in lapse
    assert FLAG.findall(text(console.get("/console/flags?severity=urgent"))) == [(urgent, "urgent")]
    assert FLAG.findall(text(console.get("/console/flags?rule=lapse"))) == [(world.flag_a, "warning")]
    assert FLAG.findall(text(console.get("/console/flags?status=resolved"))) == []
    paged = text(console.get("/console/flags?per_page=1&severity=urgent&severity=warning"))
    assert "Page 1 of 2" in paged and "severity=urgent&amp;severity=warning" in paged
    assert FLAG.findall(text(signed_in(app, world.coord_b).get("/console/flags"))) == []


def _audit(world, action):
    body = world.admin.get(f"/api/v1/audit-events?patient_id={world.a_id}&action={action}").get_json()
    return body["items"]


def test_acknowledge_and_resolve_through_the_forms(app, world):
    console = signed_in(app, world.coord_a)
    base = f"/console/patients/{world.a_id}/flags/{world.flag_a}"
    r = console.post(f"{base}/acknowledge", data={"next": "/console/flags?rule=lapse"})
    assert r.status_code == 302 and r.headers["Location"] == "/console/flags?rule=lapse"
    html = text(console.get("/console/flags?rule=lapse"))
    assert "Flag acknowledged" in html and "Acknowledged by Coordinator A" in html
    lapse = html.split(f'data-flag-id="{world.flag_a}"')[1].split("</article>")[0]
    assert "/acknowledge" not in lapse and "/resolve" in lapse  # acknowledged: only resolve is left
    assert [e["actor_id"] for e in _audit(world, "flag_acknowledged")] == [world.coord_a.id]

    r = console.post(f"{base}/resolve", data={"outcome": "shrugged", "note": ""})
    assert r.status_code == 422  # the patient's page again, the flag's form as typed
    html = r.get_data(as_text=True)
    assert "Outcome: Not a valid choice." in html and "Note: This field is required." in html
    assert _audit(world, "flag_resolved") == []

    r = console.post(f"{base}/resolve", data={"outcome": "contacted_patient", "note": "Called; restarting Monday.",
                                              "next": "https://evil.example/"})
    assert r.status_code == 302 and r.headers["Location"] == f"/console/patients/{world.a_id}#flags"
    html = text(console.get("/console/flags?status=resolved"))
    assert "Flag resolved: Contacted the patient." in html
    done = html.split(f'data-flag-id="{world.flag_a}"')[1].split("</article>")[0]
    assert "Resolved by Coordinator A" in done and "Called; restarting Monday." in done and "<form" not in done
    [event] = _audit(world, "flag_resolved")
    assert event["actor_id"] == world.coord_a.id and event["detail"] == "contacted_patient"
    api = world.coord_a.get(f"/api/v1/patients/{world.a_id}/flags?status=resolved").get_json()["items"]
    assert [(f["id"], f["outcome"], f["resolution_note"]) for f in api] == [
        (world.flag_a, "contacted_patient", "Called; restarting Monday.")]

    for action in ("acknowledge", "resolve"):  # resolved already: explained, not a 500
        r = console.post(f"{base}/{action}", data={"outcome": "other", "note": "again", "next": "/console/flags"})
        assert r.status_code == 302 and r.headers["Location"] == "/console/flags"
        assert "resolved already" in text(console.get("/console/flags"))


def test_flag_forms_need_their_csrf_token(app, world):
    console = signed_in(app, world.coord_a)
    base = f"/console/patients/{world.a_id}/flags/{world.flag_a}"
    for action, data in (("acknowledge", {}), ("resolve", {"outcome": "other", "note": "x"})):
        r = console.client.post(f"{base}/{action}", data=data)
        assert r.status_code == 400 and "expired" in r.get_data(as_text=True)
    assert _audit(world, "flag_acknowledged") == [] and _audit(world, "flag_resolved") == []


def test_an_unrelated_coordinator_gets_404_on_the_flag_routes(app, world):
    base = f"/console/patients/{world.a_id}/flags/{world.flag_a}"
    for actor in (world.coord_b, world.coord_none):
        console = signed_in(app, actor)
        for action in ("acknowledge", "resolve"):
            r = console.post(f"{base}/{action}", data={"outcome": "other", "note": "x"})
            assert r.status_code == 404 and "text/html" in r.content_type
    mine = signed_in(app, world.coord_a)
    assert mine.post(f"/console/patients/{world.a_id}/flags/{uuid.uuid4()}/acknowledge").status_code == 404
    assert mine.post(f"/console/patients/{world.b_id}/flags/{world.flag_a}/acknowledge").status_code == 404
    assert _audit(world, "flag_acknowledged") == []


def test_an_admin_is_told_the_caseload_is_for_coordinators(app, world):
    console = signed_in(app, world.admin)
    for url in ("/console/", "/console/flags"):
        html = text(console.get(url))
        assert "administrator" in html and 'id="caseload"' not in html and "data-flag-id" not in html
    r = console.post(f"/console/patients/{world.a_id}/flags/{world.flag_a}/acknowledge")
    assert r.status_code == 403 and "text/html" in r.content_type  # the API's role gate, as a page


def test_the_caseload_in_chinese(app, client, world):
    urgent = add_patient(client, world, "Urgent Ursula")
    add_flag(client, urgent)
    console = signed_in(app, world.coord_a)
    zh = {"Accept-Language": "zh-CN"}
    html = text(console.get("/console/", headers=zh))
    assert '<html lang="zh-CN">' in html and rows(html)[:2] == [urgent, world.a_id]
    for words in ("患者列表", "紧急", "按姓名搜索患者", "最近一次训练", "风险最高者在前", "下次 DXA"):
        assert words in html, words
    flags = text(console.get("/console/flags", headers=zh))
    assert "已连续 3 天没有训练记录" in flags and "确认已查看" in flags and "处理结果" in flags
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", flags)  # dates in the page's language


def test_the_flag_partial_needs_only_the_flag_and_the_patient(app, world):
    from flask import render_template

    from app.rules import service as rules

    with app.test_request_context("/console/"):
        flag = rules.flag_view(db.session.get(Flag, uuid.UUID(world.flag_a)), "en")
        html = render_template("console/partials/flag.html", flag=flag, patient_id=world.a_id)
    assert FLAG.findall(html) == [(world.flag_a, "warning")]
    assert f'action="/console/patients/{world.a_id}/flags/{world.flag_a}/acknowledge"' in html
    assert 'name="csrf_token"' in html and f'<label for="outcome-{world.flag_a}">' in html
