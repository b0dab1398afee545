"""The committed OpenAPI document is a contract a client can be generated from: linted by
openapi-spec-validator, and audited here (app/openapi.py makes it so, by rules)."""
import json
import re
from collections import Counter

import pytest
from openapi_spec_validator import validate

from app.cli import SPEC_PATH
from app.openapi import ENUMS, EXTRA_STATUSES, OPERATION_IDS

METHODS = ("get", "put", "post", "delete", "patch")
PUBLIC = {"login", "activate", "requestPasswordReset", "confirmPasswordReset", "getLiveness", "getReadiness",
          "listModules", "getModule"}


@pytest.fixture(scope="module")
def spec():
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def resolve(spec, node):
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = spec["components"][kind][name]
    return node


def counts(spec) -> dict:
    """The figures the issue asked for (printed by the test below)."""
    ops = list(operations(spec))
    schemas = spec["components"]["schemas"]
    response_schemas = set()
    for _, _, op in ops:
        for response in op["responses"].values():
            for content in resolve(spec, response).get("content", {}).values():
                ref = content.get("schema", {}).get("$ref", "")
                if ref:
                    _reach(spec, ref.rsplit("/", 1)[-1], response_schemas)
    response_schemas = {n for n in response_schemas if schemas[n].get("properties")}  # objects, not enums
    inlined = Counter()
    _inlined_enums(spec, inlined)
    return {
        "operations": len(ops),
        "with operationId": sum(1 for *_, op in ops if op.get("operationId")),
        "with summary": sum(1 for *_, op in ops if op.get("summary")),
        "response schemas": len(response_schemas),
        "response schemas with required": sum(1 for n in response_schemas if schemas[n].get("required")),
        "declared error statuses": sum(1 for *_, op in ops for s in op["responses"] if s[0] in "45"),
        "inlined enums": sum(inlined.values()),
        "enum components": sum(1 for s in schemas.values() if "enum" in s),
    }


def _reach(spec, name, found):
    if name in found:
        return
    found.add(name)
    for ref in re.findall(r"#/components/schemas/(\w+)", json.dumps(spec["components"]["schemas"][name])):
        _reach(spec, ref, found)


def _inlined_enums(spec, counter):
    """Enums written out anywhere but as a component of their own."""
    def visit(node, top):
        if isinstance(node, dict):
            if "enum" in node and not top:
                counter[tuple(map(str, node["enum"]))] += 1
            for value in node.values():
                visit(value, False)
        elif isinstance(node, list):
            for value in node:
                visit(value, False)
    for schema in spec["components"]["schemas"].values():
        visit(schema, True)
    visit(spec["paths"], False)


def test_the_spec_is_valid_openapi_31(spec):
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # raises on the first error


def test_every_operation_is_named_and_summarised(spec):
    ids = Counter()
    for method, path, op in operations(spec):
        assert re.fullmatch(r"[a-z][a-zA-Z]+", op.get("operationId", "")), (method, path)
        assert op.get("summary") and "\n" not in op["summary"] and len(op["summary"]) <= 160, (method, path)
        ids[op["operationId"]] += 1
    assert [i for i, n in ids.items() if n > 1] == []
    assert set(OPERATION_IDS.values()) <= set(ids), "names in OPERATION_IDS that no operation has"
    assert set(EXTRA_STATUSES) <= set(ids), "EXTRA_STATUSES for operations that do not exist"


def test_security_is_explicit(spec):
    for method, path, op in operations(spec):
        assert "security" in op, (method, path)
        if op["operationId"] in PUBLIC:
            assert op["security"] in ([], [{}, {"bearerAuth": []}]), (method, path)
    refresh = spec["paths"]["/api/v1/auth/refresh"]["post"]
    assert refresh["security"] == [{"refreshToken": []}]
    assert set(spec["components"]["securitySchemes"]) >= {"bearerAuth", "refreshToken"}


def test_every_operation_declares_its_errors_with_problem_bodies(spec):
    for method, path, op in operations(spec):
        statuses = {int(s) for s in op["responses"]}
        authenticated = any(op["security"])
        assert not authenticated or 401 in statuses, (method, path)
        if "requestBody" in op:
            assert {400, 413, 415, 422} <= statuses, (method, path)
        if "{patient_id}" in path:
            assert {403, 404} <= statuses, (method, path)
        elif "{" in path:
            assert 404 in statuses, (method, path)
        for status, response in op["responses"].items():
            response = resolve(spec, response)
            if int(status) >= 400:
                content = response.get("content", {})
                assert list(content) == ["application/problem+json"], (method, path, status)
                schema = resolve(spec, content["application/problem+json"]["schema"])
                assert {"type", "title", "status", "detail"} <= set(schema["required"]), (method, path, status)
            if int(status) in (423, 429, 503):
                assert "Retry-After" in response.get("headers", {}), (method, path, status)
    login = {int(s) for s in spec["paths"]["/api/v1/auth/login"]["post"]["responses"]}
    assert {422, 423, 429} <= login
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]


def test_every_success_and_client_error_has_a_body_schema_or_is_documented_empty(spec):
    for method, path, op in operations(spec):
        for status, response in op["responses"].items():
            response = resolve(spec, response)
            code = int(status)
            if code in (204, 304):
                assert not response.get("content"), (method, path, status)
                continue
            if 200 <= code < 300 or 400 <= code < 500:
                content = response.get("content")
                assert content, (method, path, status, "no body documented")
                for media in content.values():
                    assert media.get("schema"), (method, path, status)


def test_every_response_schema_says_what_is_required(spec):
    schemas = spec["components"]["schemas"]
    reached = set()
    for method, path, op in operations(spec):
        for response in op["responses"].values():
            for content in resolve(spec, response).get("content", {}).values():
                ref = content.get("schema", {}).get("$ref", "")
                if ref:
                    _reach(spec, ref.rsplit("/", 1)[-1], reached)
    objects = [n for n in reached if schemas[n].get("type") == "object" and schemas[n].get("properties")]
    missing = sorted(n for n in objects if not schemas[n].get("required"))
    assert missing == [], "response schemas without required"
    problem = schemas["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    assert "errors" not in problem["required"]


def test_no_enum_is_inlined_and_the_named_ones_exist(spec):
    inlined = Counter()
    _inlined_enums(spec, inlined)
    assert not inlined, f"enums written inline: {dict(inlined)}"
    schemas = spec["components"]["schemas"]
    for name in ENUMS:
        assert "enum" in schemas.get(name, {}), name
    # the language is one component wherever it appears, requests and responses alike
    text = json.dumps(spec)
    assert '"zh-CN", "en"' not in text.replace(json.dumps(schemas["Language"]), "")


def test_headers_are_declared(spec):
    module = spec["paths"]["/api/v1/education/modules/{slug}"]["get"]
    names = {p["name"] for p in module["parameters"] if p["in"] == "header"}
    assert {"Accept-Language", "If-None-Match"} <= names
    assert {"ETag", "Last-Modified", "Content-Language"} <= set(module["responses"]["200"]["headers"])
    session = spec["paths"]["/api/v1/patients/{patient_id}/sessions/{session_id}"]["put"]
    assert "If-Match" in {p["name"] for p in session["parameters"]}
    assert "Location" in session["responses"]["201"]["headers"]
    for method, path, op in operations(spec):
        for status, response in op["responses"].items():
            if status == "201" and "Location" not in resolve(spec, response).get("headers", {}):
                # only where there is nothing to read back (a code shown once, tokens)
                assert op["operationId"] in {"activate", "reissueInvitation", "inviteCaregiver",
                                             "snoozeNotification", "createPatient", "recommendModule"}, (method, path)


def test_servers_and_no_unused_components(spec):
    assert spec["servers"] and spec["servers"][0]["url"]
    text = json.dumps({k: v for k, v in spec.items() if k != "components"})
    text += json.dumps({k: v for k, v in spec["components"].items() if k != "securitySchemes"})
    for kind in ("schemas", "responses"):
        for name in spec["components"].get(kind, {}):
            assert f'"#/components/{kind}/{name}"' in text, f"unused {kind} {name}"
    assert "PaginationMetadata" not in spec["components"]["schemas"]


def test_counts(spec, capsys):
    figures = counts(spec)
    with capsys.disabled():
        print("\n[spec counts] " + ", ".join(f"{k}: {v}" for k, v in figures.items()))
    assert figures["with operationId"] == figures["operations"]
    assert figures["inlined enums"] == 0
