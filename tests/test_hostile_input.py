"""Input an attacker or a broken client sends: each gets a 4xx problem+json, never a 500."""
import re
import uuid

import pytest

from tests.test_access import _resource_ids, operations
from tests.test_errors import PROBLEM

DEEP = 50_000
EDGE_DATES = ("9999-12-31", "0001-01-01")


def _url(path, patient_id, ids):
    return re.sub(r"{(\w+)}", lambda m: patient_id if m.group(1) == "patient_id"
                  else ids.get(m.group(1), str(uuid.uuid4())), path)


def _assert_4xx_problem(response, *where):
    assert 400 <= response.status_code < 500, (*where, response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == PROBLEM, where


@pytest.mark.parametrize("who", [None, "patient_a", "coord_a", "admin"])
def test_deeply_nested_json_is_400_on_every_write(client, world, who):
    headers = getattr(world, who).headers if who else {}
    ids = _resource_ids(world)
    bodies = ("[" * DEEP + "]" * DEEP,
              '{"email": "a@example.org", "password": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}")
    walked = set()
    for method, path, _ in operations():
        if method not in ("post", "put", "patch"):
            continue
        for body in bodies:
            response = getattr(client, method)(_url(path, world.a_id, ids), data=body, headers=headers,
                                               content_type="application/json")
            _assert_4xx_problem(response, who, method, path)
        walked.add((method, path))
    assert {("post", "/api/v1/auth/login"), ("post", "/api/v1/auth/activate")} <= walked
    assert len(walked) >= 20


def test_deep_nesting_is_refused_even_where_no_schema_looks(client):
    response = client.post("/api/v1/auth/login", data="[" * 40 + "]" * 40, content_type="application/json")
    assert response.status_code == 400 and "deeper" in response.get_json()["detail"]


LONE = '"Li \\ud800 Wei"'


def _raw(body: dict, **lone_fields) -> str:
    import json

    text = json.dumps(body)
    for field in lone_fields:
        text = text.replace(json.dumps(f"@{field}@"), LONE)
    return text


def test_lone_surrogates_in_names_and_notes_are_400(client, world):
    from tests.factories import patient_body, session_body

    cases = [
        (world.coord_a, "post", "/api/v1/patients", {**patient_body(), "display_name": "@display_name@"}),
        (world.coord_a, "patch", f"/api/v1/patients/{world.a_id}", {"clinical_notes": "@clinical_notes@"}),
        (world.patient_a, "put", f"/api/v1/patients/me/sessions/{uuid.uuid4()}",
         {**session_body(world), "note": "@note@"}),
        (world.patient_a, "post", "/api/v1/patients/me/caregivers/invitations",
         {"relationship_note": "@relationship_note@"}),
        (None, "post", "/api/v1/auth/login", {"email": "a@example.org", "password": "@password@"}),
        (world.patient_a, "post", "/api/v1/patients/me/sessions/batch",
         {"sessions": [{**session_body(world), "id": str(uuid.uuid4()), "note": "@note@"}]}),
    ]
    for actor, method, url, body in cases:
        field = next(k for k, v in _flatten(body) if v == f"@{k}@")
        raw = _raw(body, **{field: True})
        assert "\\ud800" in raw
        headers = actor.headers if actor else {}
        response = getattr(client, method)(url, data=raw, headers=headers, content_type="application/json")
        _assert_4xx_problem(response, method, url)
        assert "surrogate" in response.get_json()["detail"]
    # A proper pair (an emoji) is fine.
    ok = world.coord_a.patch(f"/api/v1/patients/{world.a_id}", data='{"clinical_notes": "ok \\ud83d\\ude00"}',
                             content_type="application/json", if_match_of=f"/api/v1/patients/{world.a_id}")
    assert ok.status_code == 200 and ok.get_json()["clinical_notes"] == "ok \U0001f600"


def _flatten(value):
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(child, str):
                yield key, child
            yield from _flatten(child)
    elif isinstance(value, list):
        for child in value:
            yield from _flatten(child)


@pytest.mark.parametrize("who", ["patient_a", "coord_a"])
def test_calendar_edge_dates_in_query_parameters_are_4xx(client, world, who):
    actor = getattr(world, who)
    ids = _resource_ids(world)
    patient_ref = "me" if who == "patient_a" else world.a_id
    spec_paths = {path: item for path, item in __import__("app.extensions", fromlist=["api"]).api.spec.to_dict()["paths"].items()}
    walked = []
    for method, path, op in operations():
        if method != "get":
            continue
        params = [p for p in op.get("parameters", []) + spec_paths[path].get("parameters", [])
                  if p.get("in") == "query" and p.get("schema", {}).get("format") == "date"]
        for param in params:
            for value in EDGE_DATES:
                response = actor.get(f"{_url(path, patient_ref, ids)}?{param['name']}={value}")
                assert response.status_code < 500, (method, path, param["name"], value, response.get_json())
                if response.status_code >= 400:
                    assert response.mimetype == PROBLEM
            walked.append((path, param["name"]))
    paths = {path for path, _ in walked}
    assert {"/api/v1/patients/{patient_id}/agenda/week", "/api/v1/patients/{patient_id}/adherence/weekly",
            "/api/v1/patients/{patient_id}/adherence"} <= paths, walked


@pytest.mark.parametrize("value", EDGE_DATES)
def test_edge_dates_in_agenda_week_weekly_and_ranges_are_422(world, value):
    for url in (f"/api/v1/patients/me/agenda/week?start={value}",
                f"/api/v1/patients/me/adherence/weekly?week={value}",
                f"/api/v1/patients/me/adherence?from={value}&to={value}",
                f"/api/v1/patients/me/adherence?from=2026-01-01&to={value}"):
        response = world.patient_a.get(url)
        _assert_4xx_problem(response, url)


@pytest.mark.parametrize("value", EDGE_DATES)
def test_edge_dates_in_plan_bodies_are_4xx(world, value):
    plan = f"/api/v1/patients/{world.a_id}/plans/{world.plan_a['id']}"
    cases = [("post", f"/api/v1/patients/{world.a_id}/plans", {"template": "gentle-start", "start_date": value,
                                                                "acknowledge_warnings": ["autonomic_dysreflexia"]}),
             ("post", f"{plan}/pause", {"start_date": value}),
             ("post", f"{plan}/end", {"on": value}),
             ("post", f"{plan}/versions", {"effective_from": value, "items": [
                 {"exercise": "pressure-relief", "minutes": 2, "days_of_week": ["mon"]}]})]
    for method, url, body in cases:
        # With the plan's current ETag, so that a change reaches the date checks.
        response = getattr(world.coord_a, method)(url, json=body, if_match_of=plan)
        assert response.status_code < 500, (url, response.get_json())
        assert response.status_code not in (412, 428), (url, response.get_json())
        if response.status_code >= 400:
            assert response.mimetype == PROBLEM


@pytest.mark.parametrize("value", EDGE_DATES)
def test_edge_dates_in_every_other_body_are_refused_as_out_of_the_calendar(world, value):
    """Every date or moment a body gives is bounded like the profile's and the plan's (a moment
    of year one in an eastern zone is before year one in UTC): a 422 saying the range."""
    from tests.factories import session_body

    base = f"/api/v1/patients/{world.a_id}"
    moment = f"{value}T05:00:00+06:00" if value.startswith("0001") else f"{value}T20:00:00-10:00"
    followup, treatment = f"{base}/dxa/followups/{world.followup_a['id']}", f"{base}/medications/{world.treatment_a['id']}"
    appointment = {"date": value, "time": "09:30", "place": "Walk Centre"}
    cases = [
        (world.coord_a, "post", f"{base}/contacts", {"channel": "phone", "outcome": "reached", "contacted_at": moment}),
        (world.coord_a, "post", f"{base}/contacts", {"channel": "phone", "outcome": "reached", "follow_up_on": value}),
        (world.coord_a, "post", f"{base}/dxa/results", {"scan_date": value, "site": "lumbar_spine", "bmd": 0.9}),
        (world.coord_a, "put", f"{base}/dxa/protocol", {"medically_stable_on": value}),
        (world.coord_a, "put", f"{base}/dxa/protocol", {"treatment_started_on": value}),
        (world.coord_a, "post", f"{base}/dxa/followups", {"kind": "interval", "due_date": value}),
        (world.coord_a, "post", f"{base}/dxa/followups", {"kind": "interval", "due_date": "2027-01-01",
                                                          "appointment": appointment}),
        (world.coord_a, "patch", followup, {"due_date": value}),
        (world.coord_a, "patch", followup, {"appointment": appointment}),
        (world.coord_a, "patch", followup, {"status": "done", "completed_on": value}),
        (world.coord_a, "post", f"{base}/medications", {"medicine": "denosumab", "started_on": value}),
        (world.coord_a, "post", f"{base}/medications", {"medicine": "denosumab", "started_on": "2026-01-01",
                                                        "end_date": value}),
        (world.coord_a, "patch", treatment, {"end_date": value}),
        (world.coord_a, "post", f"{treatment}/doses", {"given_on": value}),
        (world.coord_a, "post", f"{base}/plans", {"items": [{"exercise": "pressure-relief", "minutes": 2,
                                                             "days_of_week": ["mon"], "start_date": value}]}),
        (world.coord_a, "post", f"{base}/plans", {"items": [{"exercise": "pressure-relief", "minutes": 2,
                                                             "days_of_week": ["mon"], "end_date": value}]}),
        (world.patient_a, "put", f"/api/v1/patients/me/sessions/{uuid.uuid4()}", session_body(world, started_at=moment)),
    ]
    for actor, method, url, body in cases:
        response = getattr(actor, method)(url, json=body)
        _assert_4xx_problem(response, method, url, body)
        assert response.status_code == 422 and "Use a date from 1900-01-01" in response.get_data(as_text=True), (
            url, body, response.get_json())


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "posix/Europe/London", "right/UTC",
                                  "../../etc/localtime", "Europe/Nowhere"])
def test_only_iana_time_zone_names_are_accepted(world, zone):
    from tests.test_errors import assert_problem

    response = world.patient_a.patch("/api/v1/patients/me", json={"time_zone": zone})
    assert "time_zone" in assert_problem(response, 422)["errors"]
    for good in ("UTC", "Europe/London", "America/Argentina/Buenos_Aires"):
        assert world.patient_a.patch("/api/v1/patients/me", json={"time_zone": good},
                                     if_match_of="/api/v1/patients/me").status_code == 200


def _session_with_lone_surrogate(world) -> str:
    from tests.factories import session_body

    return _raw({**session_body(world), "note": "@note@"}, note=True)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_a_lone_surrogate_in_a_body_of_another_unicode_encoding_is_400(client, world, encoding):
    """JSON read from bytes may be UTF-16 or UTF-32 (json.loads detects it), whose ASCII text is
    ASCII bytes with NULs between: the \\u escape is not the bytes b"\\u" there."""
    raw = _session_with_lone_surrogate(world).encode(encoding)
    response = world.patient_a.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}", data=raw,
                                   content_type="application/json")
    _assert_4xx_problem(response, encoding)
    assert "surrogate" in response.get_json()["detail"]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-32-be"])
def test_deep_nesting_in_another_unicode_encoding_is_400(client, encoding):
    response = client.post("/api/v1/auth/login", data=("[" * 40 + "]" * 40).encode(encoding),
                           content_type="application/json")
    assert response.status_code == 400 and "deeper" in response.get_json()["detail"]


@pytest.mark.parametrize("text,refused", [
    ('{"note": "a \\\\ud800 b"}', False),           # an escaped backslash, then "ud800": plain text
    ('{"note": "a \\\\\\ud800 b"}', True),          # an escaped backslash, then a real escape
    ('{"note": "\\uD800"}', True),                  # upper-case hex
    ('{"note": "\\ud83d\\ude00 ok"}', False),       # a pair
    ('{"note": "\U0001f600 ok"}', False),           # a non-BMP character as itself
    ('{"note": "\\ud83d ok"}', True),               # a high surrogate alone
    ('{"note": "ok \\ude00"}', True),               # a low surrogate alone
    ('{"note": "\\ude00\\ud83d"}', True),           # a pair the wrong way round
    ('{"a\\ud800": 1}', True),                      # in a key
    ('{"note": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ \\ud800"}', True),  # brackets in a string
    ("[" * 32 + "]" * 32, False),                 # exactly MAX_DEPTH
    ("[" * 33 + "]" * 33, True),
    ('{"a": ' * 31 + "[]" + "}" * 31, False),
    ('{"a": ' * 32 + "[]" + "}" * 32, True),
    ('{"s": "' + "{" * 40 + '", "a": [[1]]}', False),  # brackets in a string only count too many
])
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_the_text_shortcut_answers_as_the_walk(text, refused, as_bytes):
    """app/common/json_body.loads skips the structure walk when the text shows nothing to find;
    every answer must be the walk's own."""
    from app.common.json_body import BodyError, check_structure, loads
    import json

    data = text.encode() if as_bytes else text
    try:
        check_structure(json.loads(text))
        walked = False
    except BodyError:
        walked = True
    assert walked is refused
    try:
        loads(data)
        got = False
    except BodyError:
        got = True
    assert got is refused
    for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        try:
            loads(text.encode(encoding))
            got = False
        except BodyError:
            got = True
        assert got is refused, encoding


def test_a_nul_in_any_body_or_query_text_is_a_422_naming_the_field_on_both_databases(world):
    """PostgreSQL text cannot hold a NUL and SQLite can: without one check before the schemas,
    the same body was stored by one database and refused by the other's error. Now every body
    and query string with a NUL in a text (a value, a key, a nested one) is refused by field,
    and nothing is stored."""
    base = f"/api/v1/patients/{world.a_id}"
    before = world.coord_a.get(f"{base}/contacts").get_json()
    cases = [
        (world.coord_a, "post", f"{base}/contacts", {"channel": "phone", "outcome": "reached", "note": "a\x00b"}, "note"),
        (world.coord_a, "patch", base, {"display_name": "Li\x00 Wei"}, "display_name"),
        (world.coord_a, "post", f"{base}/medications", {"medicine": "denosumab", "started_on": "2026-01-01",
                                                        "note": "\x00"}, "note"),
        (world.patient_a, "put", "/api/v1/patients/me/notification-preferences", {"quiet_hours": {"start\x00": "22:00"}},
         "quiet_hours"),
    ]
    for actor, method, url, body, field in cases:
        response = getattr(actor, method)(url, json=body)
        _assert_4xx_problem(response, method, url)
        assert response.status_code == 422, (url, response.get_json())
        assert field in response.get_json()["errors"], (url, response.get_json())
    assert world.coord_a.get(f"{base}/contacts").get_json() == before
    assert world.coord_a.get(base).get_json()["display_name"] != "Li\x00 Wei"
    response = world.coord_a.get("/api/v1/caseload?q=li%00wei")
    _assert_4xx_problem(response, "caseload")
    assert response.status_code == 422 and "q" in response.get_json()["errors"], response.get_json()
