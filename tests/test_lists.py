"""Every collection answers the same envelope: {items, meta} with the page, read from the spec,
so a list route added later is held to it without touching this file."""
import re
import uuid

from app.extensions import api
from tests.test_access import _resource_ids

# Documents of one day or one patient that contain a list, not lists themselves.
COMPOSITES = {
    "/api/v1/patients/{patient_id}/agenda",           # the day: date, paused, items due
    "/api/v1/patients/{patient_id}/education",        # every module with status, and a summary
    "/api/v1/patients/{patient_id}/adherence",        # metrics, with one row per plan item
    # The sync feed pages by cursor (items, next_cursor, has_more): numbered pages would skip
    # or repeat changes committed while the app follows it.
    "/api/v1/patients/{patient_id}/sessions/changes",
}
META_FIELDS = {"page", "per_page", "total", "next_page", "next_url"}


def _spec():
    return api.spec.to_dict()


def _resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _json_schema(spec, response):
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    content = response.get("content", {}).get("application/json")
    return _resolve(spec, content["schema"]) if content else None


def collection_operations():
    """(path, method, status) of every success response that holds a list of items."""
    spec = _spec()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for status, response in op["responses"].items():
                if not str(status).startswith("2"):
                    continue
                schema = _json_schema(spec, response)
                if schema is None:
                    continue
                if schema.get("type") == "array":
                    yield path, method, status, "bare array"
                elif "items" in schema.get("properties", {}) and path not in COMPOSITES:
                    yield path, method, status, schema


def test_no_operation_answers_a_bare_array_and_every_list_has_the_page_meta():
    spec = _spec()
    lists = list(collection_operations())
    assert not [op[:3] for op in lists if op[3] == "bare array"]
    for path, method, status, schema in lists:
        assert set(schema["properties"]) == {"items", "meta"}, (method, path)
        assert _resolve(spec, schema["properties"]["items"])["type"] == "array", (method, path)
        meta = _resolve(spec, schema["properties"]["meta"])
        assert set(meta["properties"]) == META_FIELDS, (method, path)
    gets = {path for path, method, _, _ in lists if method == "get"}
    # The five that answered bare arrays before, among the others.
    assert {"/api/v1/plan-templates", "/api/v1/symptoms", "/api/v1/patients/{patient_id}/care-team",
            "/api/v1/patients/{patient_id}/caregivers",
            "/api/v1/patients/{patient_id}/education/modules/{slug}/quiz-attempts"} <= gets
    assert len(gets) >= 11


def test_every_list_answers_the_envelope_and_pages(world):
    """Walk every GET collection as the patient's coordinator (staff-only ones as the admin)."""
    ids = _resource_ids(world) | {"slug": "keep-going"}
    walked = 0
    for path, method, _, _ in collection_operations():
        if method != "get":
            continue
        url = re.sub(r"{(\w+)}", lambda m: world.a_id if m.group(1) == "patient_id"
                     else str(ids.get(m.group(1), uuid.uuid4())), path)
        actor = world.coord_a
        first = actor.get(f"{url}?per_page=1")
        if first.status_code == 403:
            actor = world.admin
            first = actor.get(f"{url}?per_page=1")
        assert first.status_code == 200, (path, first.get_json())
        body = first.get_json()
        assert set(body) == {"items", "meta"} and isinstance(body["items"], list), path
        meta = body["meta"]
        assert set(meta) == META_FIELDS and meta["per_page"] == 1 and len(body["items"]) <= 1, path
        if meta["total"] > 1:
            assert meta["next_page"] == 2 and "page=2" in meta["next_url"], path
            second = actor.get(meta["next_url"]).get_json()
            assert second["meta"]["page"] == 2 and second["items"] != body["items"], path
        else:
            assert meta["next_page"] is None and meta["next_url"] is None, path
        walked += 1
    assert walked >= 11


def test_a_page_past_the_end_is_empty_with_the_total(world):
    body = world.patient_a.get("/api/v1/symptoms?page=50&per_page=5").get_json()
    assert body["items"] == [] and body["meta"]["total"] == 12 and body["meta"]["next_page"] is None


def _flag(world, rule_id, severity, opened_at):
    from app.extensions import db
    from app.rules.models import Flag, active_key

    with world.client.application.app_context():
        flag = Flag(patient_id=uuid.UUID(world.a_id), rule_id=rule_id, severity=severity, status="open",
                    active_key=active_key(world.a_id, rule_id), opened_at=opened_at, last_seen_at=opened_at,
                    evidence={})
        db.session.add(flag)
        db.session.commit()
        return str(flag.id)


def test_next_url_keeps_every_value_of_a_repeated_filter(world):
    """GET /flags?severity=info&severity=urgent&per_page=1: the page's next_url is the same list's
    next page, every value of a repeated parameter kept (not only the first)."""
    from datetime import datetime, timedelta, timezone
    from urllib.parse import parse_qs, urlsplit

    now = datetime.now(timezone.utc)
    info = _flag(world, "few_data_days", "info", now - timedelta(hours=1))
    urgent = _flag(world, "repeated_pain", "urgent", now - timedelta(hours=2))
    first = world.coord_a.get("/api/v1/flags?severity=info&severity=urgent&per_page=1").get_json()
    assert first["meta"]["total"] == 2 and [f["id"] for f in first["items"]] == [info]
    next_url = first["meta"]["next_url"]
    query = parse_qs(urlsplit(next_url).query)
    assert sorted(query["severity"]) == ["info", "urgent"] and query["page"] == ["2"], next_url
    assert query["per_page"] == ["1"], next_url
    second = world.coord_a.get(next_url).get_json()
    assert [f["id"] for f in second["items"]] == [urgent] and second["meta"]["total"] == 2
