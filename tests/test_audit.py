from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from tests.test_errors import assert_problem


def events(patient_id, action=None):
    stmt = select(AuditEvent).where(AuditEvent.patient_id == __import__("uuid").UUID(patient_id))
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(db.session.scalars(stmt))


def test_reads_by_others_are_audited_and_own_reads_are_not(world):
    before = len(events(world.a_id, "read"))
    world.patient_a.get("/api/v1/patients/me")
    assert len(events(world.a_id, "read")) == before
    world.coord_a.get(f"/api/v1/patients/{world.a_id}", headers={"X-Request-ID": "audit-check-0001"})
    world.caregiver_a.get("/api/v1/patients/me")
    reads = events(world.a_id, "read")
    assert len(reads) == before + 2
    coordinator_read = next(e for e in reads if e.request_id == "audit-check-0001")
    assert str(coordinator_read.actor_id) == world.coord_a.id and coordinator_read.actor_role == "coordinator"
    assert coordinator_read.route == "/api/v1/patients/<patient_id>" and coordinator_read.method == "GET"


def test_writes_are_audited_with_the_write_and_failed_writes_are_not(world):
    before = len(events(world.a_id, "write"))
    world.coord_a.patch(f"/api/v1/patients/{world.a_id}", if_match_of=f"/api/v1/patients/{world.a_id}", json={"ais_grade": "B"})
    assert len(events(world.a_id, "write")) == before + 1
    world.coord_a.patch(f"/api/v1/patients/{world.a_id}", if_match_of=f"/api/v1/patients/{world.a_id}", json={"injury_date": "1900-01-01"})
    assert len(events(world.a_id, "write")) == before + 1


def test_denied_access_leaves_no_read_row(world):
    before = len(events(world.a_id))
    world.coord_none.get(f"/api/v1/patients/{world.a_id}")
    assert len(events(world.a_id)) == before


def test_admin_lists_the_trail_by_patient(world):
    world.coord_a.get(f"/api/v1/patients/{world.a_id}")
    page = world.admin.get(f"/api/v1/audit-events?patient_id={world.a_id}&per_page=5").get_json()
    assert page["meta"]["total"] >= 3
    assert all(item["patient_id"] == world.a_id for item in page["items"])
    times = [item["at"] for item in page["items"]]
    assert times == sorted(times, reverse=True)
    reads = world.admin.get(f"/api/v1/audit-events?patient_id={world.a_id}&action=read").get_json()
    assert {item["action"] for item in reads["items"]} == {"read"}
    for actor in (world.coord_a, world.patient_a):
        assert_problem(actor.get("/api/v1/audit-events"), 403)


def test_logins_and_activations_are_audited(world):
    actions = {e.action for e in events(world.a_id)}
    assert {"activate", "login", "account_created"} <= actions


def test_listing_patients_is_an_audited_read_of_each(world):
    before = len(events(world.a_id, "read"))
    world.coord_a.get("/api/v1/patients")
    world.patient_a.get("/api/v1/patients")  # one's own row is not audited
    reads = events(world.a_id, "read")
    assert len(reads) == before + 1
    assert [e.actor_role for e in reads if e.detail == "listed"] == ["coordinator"]


def test_the_audit_trail_shows_an_admin_no_clinical_override_reason(client, world):
    """A coordinator's reason for overriding a contraindication is a clinical note: it stays with
    the plan version (the care team reads it there); the trail names the override only."""
    from datetime import timedelta

    from app.common.clock import local_today
    from tests.factories import enrolled_patient
    from tests.test_plans import item, plans_url

    months_ago = (local_today("Asia/Shanghai") - timedelta(days=60)).isoformat()
    _, profile = enrolled_patient(client, world.coord_a, neurological_level="L2",
                                  known_fractures=[{"site": "distal femur", "date": months_ago}],
                                  known_clots=[{"site": "left calf", "date": months_ago}])
    reason = "Cleared by orthopaedics after the 12-week X-ray"
    body = {"items": [item("passive-standing")], "acknowledge_warnings": ["recent_fracture", "recent_clot"]}
    assigned = world.coord_a.post(plans_url(profile["id"]), json=body | {"override_reason": reason})
    assert assigned.status_code == 201, assigned.get_json()
    plan = assigned.get_json()
    again = world.coord_a.post(f"{plans_url(profile['id'])}/{plan['id']}/versions", json=body | {
        "override_reason": "Reviewed again with the haematologist"}, if_match_of=f"{plans_url(profile['id'])}/{plan['id']}")
    assert again.status_code == 201, again.get_json()
    trail = world.admin.get(f"/api/v1/audit-events?patient_id={profile['id']}&per_page=100").get_json()["items"]
    overrides = sorted(e["detail"] for e in trail if e["action"] == "override")
    assert overrides == ["recent_clot", "recent_clot", "recent_fracture", "recent_fracture"]
    shown = repr(trail)
    for clinical in ("orthopaedics", "haematologist", "distal femur", "left calf", months_ago):
        assert clinical not in shown, clinical
    # The care team still reads the reason with the plan.
    read = world.coord_a.get(f"{plans_url(profile['id'])}/{plan['id']}").get_json()
    assert read["version_in_force"]["override_reason"] == "Reviewed again with the haematologist"


def test_the_origin_of_an_unrouted_request_masks_its_path_as_the_access_log_does(app):
    """No unrouted request records an audit event today (each is a 404 or 405, and the hook
    records nothing for an error answer), so the origin the hook builds for one is checked
    directly: what any event under it would store as its route is the masked path, never an
    e-mail address or an id a careless client put in it."""
    from app.audit import origin
    path = "/api/v1/patients/someone@example.com/sessions/3f2b6c1e-8d4a-4f0e-9b7a-2c5d1e0f9a8b"
    with app.test_request_context(path, method="POST"):
        app.preprocess_request()
        route = origin.current_origin().route
    assert route == "/api/v1/patients/<masked>/sessions/<masked>"
    with app.test_request_context("/api/v1/patients/me", method="GET"):
        app.preprocess_request()
        assert origin.current_origin().route == "/api/v1/patients/<patient_id>"  # a routed one: its rule
