"""What the spec declares against what the app answered in this test run (tests/spec_observer.py
records every request of every test). Runs last, so it sees the access walk, the contract test,
the journeys and everything else that ran before it.

- every status an operation answered is declared for it;
- every JSON body matched the schema declared for its status (so `required` and the enums are
  true of what the server sends);
- the headers the app sent (ETag, Last-Modified, Content-Language, Retry-After, Location) are
  declared on that response;
- when the whole walk ran (the access walk reaches every operation), what is declared but was
  never seen is listed for a reader, not failed: 413, 429, 503 need a big body, a limit or an
  outage, which the tests that cause them do on purpose (test_hostile_input, test_auth,
  test_outage).
"""
from collections import Counter

import pytest

from app.extensions import api
from tests.spec_observer import OBSERVER

METHODS = ("get", "put", "post", "delete", "patch")


def _declared(spec):
    found = {}
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                found[(method, path)] = item[method]["responses"]
    return found


def _response(spec, response):
    if "$ref" in response:
        return spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response


@pytest.mark.last
def test_every_observed_status_is_declared_with_its_body_and_headers(app, capsys):
    spec = api.spec.to_dict()
    declared = _declared(spec)
    if not OBSERVER.statuses:
        pytest.skip("no request ran before this test")
    undeclared = sorted(f"{m.upper()} {p} -> {s} (first in {OBSERVER.first_seen.get((m, p, s))})"
                        for m, p, s in OBSERVER.statuses
                        if str(s) not in declared.get((m, p), {}))
    assert not undeclared, "answered but not declared:\n" + "\n".join(undeclared)
    assert not OBSERVER.body_failures, "bodies that do not match the declared schema:\n" + "\n".join(
        f"{m.upper()} {p} -> {s}: {why} (first in {OBSERVER.first_seen.get((m, p, s))})"
        for (m, p, s), why in sorted(OBSERVER.body_failures.items()))
    missing_headers = []
    for (method, path, status), names in sorted(OBSERVER.headers.items()):
        response = _response(spec, declared[(method, path)][str(status)])
        for name in sorted(names - set(response.get("headers", {}))):
            missing_headers.append(f"{method.upper()} {path} -> {status}: {name}")
    assert not missing_headers, "headers sent but not declared:\n" + "\n".join(missing_headers)
    # 201s that declare Location send it.
    for (method, path, status), names in OBSERVER.headers.items():
        if status == 201 and "Location" in _response(spec, declared[(method, path)]["201"]).get("headers", {}):
            assert "Location" in names, f"{method.upper()} {path} declares Location on 201 but sent none"
    reached = {(m, p) for m, p, _ in OBSERVER.statuses}
    if reached >= set(declared):  # the whole walk ran: say what was declared and never seen
        never = sorted(f"{m.upper()} {p} -> {s}" for (m, p), responses in declared.items()
                       for s in responses if (m, p, int(s)) not in OBSERVER.statuses)
        by_status = Counter(entry.rsplit(" ", 1)[-1] for entry in never)
        with capsys.disabled():
            print(f"\n[declared statuses] {len(OBSERVER.statuses)} (operation, status) pairs seen, "
                  f"{OBSERVER.bodies_checked} bodies checked; declared but not seen in this run: {len(never)} "
                  f"(by status: {dict(sorted(by_status.items()))})")
