"""No clinical value, note or identifier in any log line: the logs of the whole test run are
read back and searched for every id and free text the run sent or received."""
import logging
import uuid

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.factories import session_body
from tests.log_capture import SUITE_LOG, UUID


def _provoke_failures(world, monkeypatch, canary):
    from app.patients import service

    logged = world.patient_a.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}",
                                 json=session_body(world, note=canary))
    assert logged.status_code == 201

    def failing_sql(actor):  # a statement that fails with the note among its parameters
        db.session.execute(text("SELECT CAST(:note AS INTEGER) + no_such_column"), {"note": canary})

    monkeypatch.setattr(service, "me", failing_sql)
    assert world.patient_a.get("/api/v1/me").status_code >= 500

    def failing_code(actor):  # an exception whose message quotes patient data
        raise ValueError(f"cannot parse {canary} for {world.a_id}")

    monkeypatch.setattr(service, "me", failing_code)
    assert world.patient_a.get("/api/v1/me").status_code == 500
    SUITE_LOG.remember(None, {"note": canary})


def test_sql_errors_carry_no_parameters(app_ctx):
    canary = f"note-{uuid.uuid4()}"
    with pytest.raises(Exception) as raised:
        db.session.execute(text("SELECT no_such_column WHERE 1 = :note"), {"note": canary})
    db.session.rollback()
    assert canary not in str(raised.value) and "hidden" in str(raised.value)


def _leaks(lines, sensitive):
    """(value, line) for every sensitive value found in a line. Ids are matched by shape and set
    lookup, free text by one substring search over all lines; both as exact as `value in line`."""
    ids = {value.lower() for value in sensitive if UUID.fullmatch(value)}
    texts = [value for value in sensitive if not UUID.fullmatch(value)]
    everything = "\n".join(lines)
    present = [value for value in texts if value in everything]
    leaks = []
    for line in lines:
        leaks += [(value, line) for value in UUID.findall(line) if value.lower() in ids]
        leaks += [(value, line) for value in present if value in line]
    return leaks


@pytest.mark.last
@pytest.mark.unobserved  # it patches in failures (a 500) that no route gives by itself
def test_no_log_line_of_the_whole_run_carries_patient_data(world, monkeypatch):
    canary = f"Fell near the bed, left knee swollen {uuid.uuid4().hex}"
    _provoke_failures(world, monkeypatch, canary)
    lines, sensitive = list(SUITE_LOG.lines), set(SUITE_LOG.sensitive)
    assert canary in sensitive and world.a_id in sensitive and world.session_a in sensitive
    assert sum('"standstrong.access"' in line for line in lines) >= 10  # access lines were read
    assert any('"level": "ERROR"' in line for line in lines)           # and error lines
    leaks = _leaks(lines, sensitive)
    assert not leaks, "\n".join(f"{value!r} in {line[:400]}" for value, line in leaks[:10])


def test_access_line_names_the_route_and_role_not_the_ids(world):
    before = len(SUITE_LOG.lines)
    world.patient_a.get(f"/api/v1/patients/{world.a_id}/sessions")
    world.patient_a.get(f"/api/v1/no-such-route/{world.a_id}")
    lines = [line for line in SUITE_LOG.lines[before:] if "standstrong.access" in line]
    assert '"route": "/api/v1/patients/<patient_id>/sessions"' in lines[0] and '"actor_role": "patient"' in lines[0]
    assert '"route": "/api/v1/<masked>/<masked>"' in lines[1]
    assert logging.getLogger("standstrong").isEnabledFor(logging.INFO)


@pytest.mark.parametrize("path", ["/api/v1/users/li.wei@example.org", "/api/v1/patients/me/sessions/Li Wei",
                                  "/api/v1/no-such-route/alice.marker@example.org"])
def test_an_unrouted_path_is_logged_with_no_word_that_is_not_a_routes_own(world, path):
    """A careless client's path may hold an e-mail address or a name (no digit in it): a path
    that matches no route is logged with every segment that no route has masked."""
    before = len(SUITE_LOG.lines)
    response = world.coord_a.get(path)
    assert response.status_code in (404, 405)
    secret = path.rsplit("/", 1)[1]
    leaked = [line for line in SUITE_LOG.lines[before:] if secret in line]
    assert not leaked, leaked
    assert any('"route": "/api/v1/' in line for line in SUITE_LOG.lines[before:])


def test_the_development_servers_request_lines_are_dropped(world):
    before = len(SUITE_LOG.lines)
    logging.getLogger("werkzeug").info('"%s" %s %s', f"GET /api/v1/patients/{world.a_id} HTTP/1.1", 200, 10)
    logging.getLogger("werkzeug").warning("something else")
    assert [line for line in SUITE_LOG.lines[before:] if world.a_id in line] == []
    assert any("something else" in line for line in SUITE_LOG.lines[before:])


def test_the_leak_search_finds_ids_in_any_case_and_free_text():
    an_id, note = str(uuid.uuid4()), "Fell near the bed, knee swollen"
    lines = [f"user {an_id.upper()} did x", "clean line", f"note={note}!"]
    assert _leaks(lines, {an_id, note}) == [(an_id.upper(), lines[0]), (note, lines[2])]
    assert _leaks(["clean line"], {an_id, note}) == []
