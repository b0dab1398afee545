"""OWASP API1: walk every operation in the generated spec with every kind of actor.

The walk reads the spec, so a route added later is walked without touching this file.
Unrelated actors must get exactly the answer they would get for a patient that does not
exist (same status, same body), never a 2xx, and never see another patient's data.
"""
import re
import uuid

import pytest
from sqlalchemy import select

from app.extensions import api, db
from app.access.models import CaregiverLink

METHODS = ("get", "post", "put", "patch", "delete")
PUBLIC = {
    ("get", "/healthz"), ("get", "/readyz"),
    ("post", "/api/v1/auth/login"), ("post", "/api/v1/auth/activate"),
    ("post", "/api/v1/auth/password-reset"), ("post", "/api/v1/auth/password-reset/confirm"),
    ("get", "/api/v1/education/modules"), ("get", "/api/v1/education/modules/{slug}"),
}
WRITES = ("post", "put", "patch")
# Authorised by a Bearer token or the patient's calendar feed token (phone calendars subscribe).
FEED = {("get", "/api/v1/patients/{patient_id}/calendar.ics")}


def operations():
    for path, item in api.spec.to_dict()["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def sample_body(method, path, op):
    """The body the walk sends: the example the spec documents for the operation's request body
    (flask-smorest `arguments(..., example=)`), so that the walk reaches the access policy and not
    only the validator. None when the operation takes no body; a write with a body but no example
    fails, so a new write route cannot skip the walk."""
    if method not in WRITES or "requestBody" not in op:
        return None
    content = op["requestBody"]["content"]["application/json"]
    if "example" not in content:
        pytest.fail(f"{method.upper()} {path} documents no example request body: add one "
                    "(blp.arguments(Schema, example={...})) so the access walk can send it")
    return content["example"]


def _resource_ids(world) -> dict:
    link = db.session.scalar(select(CaregiverLink.id).where(CaregiverLink.patient_id == uuid.UUID(world.a_id)))
    ids = {"coordinator_id": world.coord_a.id, "link_id": str(link)}
    ids.update(getattr(world, "resource_ids", {}))
    return ids


def call(client, headers, method, path, patient_id, ids, op):
    def fill(match):
        name = match.group(1)
        return patient_id if name == "patient_id" else ids.get(name, str(uuid.uuid4()))

    url = re.sub(r"{(\w+)}", fill, path)
    kwargs = {"headers": headers}
    body = sample_body(method, path, op)
    if body is not None:
        # Ids the example names (a coordinator to add) are the world's real ones.
        kwargs["json"] = {key: ids.get(key, value) for key, value in body.items()}
    elif method in WRITES:
        kwargs["json"] = {}
    return getattr(client, method)(url, **kwargs)


def normalised(response):
    body = response.get_json(silent=True)
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in ("request_id", "instance")}
    return response.status_code, body


def test_every_write_with_a_body_documents_an_example_the_walk_sends():
    writes = [(m, p, op) for m, p, op in operations() if m in WRITES and "requestBody" in op]
    assert len(writes) >= 31  # the writes with a body so far (46 writes, 15 take none)
    for method, path, op in writes:
        assert isinstance(sample_body(method, path, op), dict), (method, path)


def test_a_write_whose_spec_has_no_example_fails_the_walk():
    """As a reviewer would: the plan creation route without its example."""
    op = next(op for m, p, op in operations() if (m, p) == ("post", "/api/v1/patients/{patient_id}/plans"))
    content = op["requestBody"]["content"]["application/json"]
    stripped = {"requestBody": {"content": {"application/json": {k: v for k, v in content.items() if k != "example"}}}}
    with pytest.raises(pytest.fail.Exception, match="documents no example"):
        sample_body("post", "/api/v1/patients/{patient_id}/plans", stripped)
    assert sample_body("delete", "/api/v1/patients/{patient_id}/dxa/results/{result_id}", {}) is None


def test_every_operation_but_the_public_ones_declares_authentication():
    for method, path, op in operations():
        if (method, path) in PUBLIC:
            continue
        expected = [{"bearerAuth": []}, {"feedToken": []}] if (method, path) in FEED else [{"bearerAuth": []}]
        assert op.get("security") == expected, f"{method.upper()} {path} declares no auth"


def test_anonymous_gets_401_on_every_protected_operation(client, world):
    ids = _resource_ids(world)
    for method, path, op in operations():
        response = call(client, {}, method, path, world.a_id, ids, op)
        assert response.status_code < 500, (method, path)
        if (method, path) not in PUBLIC:
            assert response.status_code == 401, (method, path, response.get_json())
            assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("who,target", [
    ("patient_b", "a"), ("coord_none", "a"), ("coord_b", "a"), ("caregiver_a", "b"), ("patient_a", "b"),
])
def test_unrelated_actor_cannot_tell_a_patient_from_nothing(client, world, who, target):
    actor = getattr(world, who)
    patient_id = world.a_id if target == "a" else world.b_id
    ids = _resource_ids(world)
    walked = 0
    for method, path, op in operations():
        if "{patient_id}" not in path:
            continue
        real = call(client, actor.headers, method, path, patient_id, ids, op)
        fake = call(client, actor.headers, method, path, str(uuid.uuid4()), ids, op)
        assert real.status_code < 500, (method, path)
        assert not 200 <= real.status_code < 300, (who, method, path, real.get_json())
        if sample_body(method, path, op) is not None:
            # The body passed validation: the answer is the policy's, not the validator's.
            assert real.status_code in (403, 404), (who, method, path, real.get_json())
        assert normalised(real) == normalised(fake), (who, method, path)
        walked += 1
    assert walked >= 30  # the patient-scoped operations so far, at least


@pytest.mark.parametrize("who", ["patient_b", "coord_none", "coord_b"])
def test_unscoped_operations_show_nothing_of_a(client, world, who):
    actor = getattr(world, who)
    ids = _resource_ids(world)
    markers = (world.a_id, "Marker-A", world.patient_a.email)
    for method, path, op in operations():
        if "{patient_id}" in path or method != "get":
            continue
        response = call(client, actor.headers, method, path, world.a_id, ids, op)
        assert response.status_code < 500, (method, path)
        text = response.get_data(as_text=True)
        assert not any(marker in text for marker in markers), (who, method, path)


@pytest.mark.parametrize("who,ref", [
    ("patient_a", "me"), ("patient_a", "id"), ("caregiver_a", "me"), ("caregiver_a", "id"), ("coord_a", "id"),
])
def test_related_actors_reach_every_read(client, world, who, ref):
    actor = getattr(world, who)
    patient_ref = "me" if ref == "me" else world.a_id
    ids = _resource_ids(world)
    for method, path, op in operations():
        params = set(re.findall(r"{(\w+)}", path)) - {"patient_id"}
        if "{patient_id}" not in path or method != "get" or not params <= set(ids):
            continue
        response = call(client, actor.headers, method, path, patient_ref, ids, op)
        assert response.status_code in (200, 403), (who, method, path, response.get_json())


GARBAGE_BODIES = [None, [], "text", 12, {"unexpected": True}, {"items": "x", "sessions": 5, "status": []},
                  {"started_at": "yesterday", "duration_minutes": 1e30, "email": ["a"], "answers": {"q1": "x"}},
                  {"items": [{"exercise": {"nested": 1}, "minutes": "ten"}], "sessions": [None, 1, "x", {}]}]


@pytest.mark.parametrize("who", ["patient_a", "caregiver_a", "coord_a", "admin"])
def test_no_body_produces_a_server_error(client, world, who):
    actor = getattr(world, who)
    ids = _resource_ids(world)
    for method, path, op in operations():
        if method not in ("post", "put", "patch"):
            continue
        url = re.sub(r"{(\w+)}", lambda m: world.a_id if m.group(1) == "patient_id" else ids.get(m.group(1), str(uuid.uuid4())), path)
        for body in GARBAGE_BODIES:
            response = getattr(client, method)(url, json=body, headers=actor.headers)
            assert response.status_code < 500, (who, method, path, body)
            if response.status_code >= 400:
                assert response.mimetype == "application/problem+json", (method, path)


def test_admin_administers_but_reads_no_clinical_data(client, world):
    ids = _resource_ids(world)
    for method, path, op in operations():
        if "{patient_id}" not in path or method != "get":
            continue
        response = call(client, world.admin.headers, method, path, world.a_id, ids, op)
        assert response.status_code == 403, (method, path, response.status_code)


CLINICAL_FIELDS = ("neurological_level", "ais_grade", "injury_date", "clinical_notes", "known_fractures")


def test_admin_reads_no_clinical_field_anywhere(client, world):
    """Not through a patient's routes (403 above), and not through lists either."""
    ids = _resource_ids(world)
    listed = world.admin.get("/api/v1/patients").get_json()["items"]
    assert {p["id"] for p in listed} >= {world.a_id, world.b_id}  # admins still find patients
    for method, path, op in operations():
        if "{patient_id}" in path or method != "get":
            continue
        response = call(client, world.admin.headers, method, path, world.a_id, ids, op)
        text = response.get_data(as_text=True)
        assert not any(f'"{field}"' in text for field in CLINICAL_FIELDS), (path, text[:300])
    coordinator_view = world.coord_a.get("/api/v1/patients").get_json()["items"][0]
    assert coordinator_view["neurological_level"] and coordinator_view["ais_grade"]
