import sqlite3
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.sessions.models import ExerciseSession
from app.sessions.signals import session_written
from tests.factories import at, enrolled_patient
from tests.test_errors import assert_problem

NOW = datetime(2027, 3, 3, 10, 0, tzinfo=timezone.utc)  # a Wednesday
SESSIONS = "/api/v1/patients/me/sessions"


def body(world, **kw):
    key = world.plan_a["version_in_force"]["items"][0]["item_key"]  # passive standing, 5 a week
    data = {"item_key": key, "started_at": (NOW - timedelta(hours=1)).isoformat(), "duration_minutes": 45,
            "measures": {"angle_degrees": 70}, "exertion": 4, "pain": 1, "symptoms": [], "note": "felt fine"}
    data.update(kw)
    return data


@pytest.fixture
def now(world):
    with at(NOW, world.patient_a, world.caregiver_a, world.coord_a, world.patient_b):
        yield NOW


def count_sessions():
    return db.session.scalar(select(func.count()).select_from(ExerciseSession))


def put(actor, sid, data, ref="me"):
    return actor.put(f"/api/v1/patients/{ref}/sessions/{sid}", json=data)


def test_put_creates_then_returns_the_stored_session(world, now):
    sid = str(uuid.uuid4())
    before = count_sessions()
    first = put(world.patient_a, sid, body(world))
    assert first.status_code == 201
    stored = first.get_json()
    assert stored["logged_by_role"] == "patient" and stored["local_date"] == "2027-03-03"
    assert stored["measures"] == {"angle_degrees": 70.0} and stored["revision"] == 1
    again = put(world.patient_a, sid, body(world))
    assert again.status_code == 200 and again.get_json() == stored
    assert count_sessions() == before + 1


def test_caregiver_logging_is_recorded_from_the_token(world, now):
    sid = str(uuid.uuid4())
    response = put(world.caregiver_a, sid, body(world))
    assert response.status_code == 201
    assert response.get_json()["logged_by_role"] == "caregiver"
    assert response.get_json()["logged_by_id"] == world.caregiver_a.id
    forged = put(world.caregiver_a, str(uuid.uuid4()), body(world, logged_by_role="patient"))
    assert "logged_by_role" in assert_problem(forged, 422)["errors"]
    assert_problem(put(world.coord_a, str(uuid.uuid4()), body(world), ref=world.a_id), 403)


def test_edit_inside_the_window_then_conflict_after(world, now):
    sid = str(uuid.uuid4())
    put(world.patient_a, sid, body(world))
    edited = put(world.caregiver_a, sid, body(world, duration_minutes=50, base_revision=1))
    assert edited.status_code == 200 and edited.get_json()["revision"] == 2
    assert edited.get_json()["duration_minutes"] == 50 and edited.headers["ETag"] == '"2"'
    with at(NOW + timedelta(hours=72), world.patient_a):
        late = put(world.patient_a, sid, body(world, duration_minutes=55, base_revision=2))
        closed = assert_problem(late, 409)
        assert closed["type"].endswith("edit-window-closed") and closed["current"]["duration_minutes"] == 50
        # The stored version is still returned for a plain retry.
        assert put(world.patient_a, sid, body(world, duration_minutes=50)).status_code == 200


def test_soft_delete_inside_the_window_is_audited(world, now):
    sid = str(uuid.uuid4())
    put(world.patient_a, sid, body(world))
    assert world.patient_a.delete(f"{SESSIONS}/{sid}", headers={"If-Match": '"1"'}).status_code == 204
    assert world.patient_a.delete(f"{SESSIONS}/{sid}").status_code == 204  # idempotent
    assert world.patient_a.get(f"{SESSIONS}/{sid}").get_json()["deleted"] is True
    listed = world.patient_a.get(SESSIONS).get_json()["items"]
    assert sid not in {s["id"] for s in listed}
    assert_problem(put(world.patient_a, sid, body(world)), 409)
    deleted = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "delete_session")).all()
    assert len(deleted) == 1 and deleted[0].resource_id == sid
    late = str(uuid.uuid4())
    put(world.patient_a, late, body(world))
    with at(NOW + timedelta(hours=73), world.patient_a):
        assert_problem(world.patient_a.delete(f"{SESSIONS}/{late}", headers={"If-Match": "1"}), 409)


@pytest.mark.parametrize("override,field", [
    ({"started_at": (NOW + timedelta(minutes=6)).isoformat()}, "started_at"),
    ({"started_at": (NOW - timedelta(days=31)).isoformat()}, "started_at"),
    ({"started_at": "2027-03-03T09:00:00"}, "started_at"),
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"duration_minutes": 301}, "duration_minutes"),
    ({"exertion": 11}, "exertion"),
    ({"pain": -1}, "pain"),
    ({"symptoms": ["sneezing"]}, "symptoms"),
    ({"symptoms": ["dizziness", "dizziness"]}, "symptoms"),
    ({"measures": {"cadence_rpm": 40}}, "measures"),
    ({"measures": {"angle_degrees": 120}}, "measures"),
    ({"item_key": str(uuid.uuid4())}, "item_key"),
    ({"exercise": "fes-cycling"}, "item_key"),
])
def test_rejections_are_clear_422s(world, now, override, field):
    before = count_sessions()
    response = put(world.patient_a, str(uuid.uuid4()), body(world, **override))
    assert field in assert_problem(response, 422)["errors"]
    assert count_sessions() == before


def test_session_off_the_plan(world, now):
    data = body(world, exercise="upper-body-exercise", measures={"distance_km": 3})
    del data["item_key"]
    response = put(world.patient_a, str(uuid.uuid4()), data)
    assert response.status_code == 201 and response.get_json()["item_key"] is None


def test_another_patients_session_id_is_not_theirs(world, now):
    sid = str(uuid.uuid4())
    put(world.patient_a, sid, body(world))
    assert_problem(world.patient_b.get(f"{SESSIONS}/{sid}"), 404)
    data = body(world, exercise="fes-cycling", measures={})
    del data["item_key"]
    assert_problem(put(world.patient_b, sid, data), 409)
    assert put(world.patient_a, sid, body(world)).status_code == 200


def test_batch_answers_each_item_and_loses_none(world, now):
    existing = str(uuid.uuid4())
    put(world.patient_a, existing, body(world))
    before = count_sessions()
    good = [dict(body(world, duration_minutes=30 + i), id=str(uuid.uuid4())) for i in range(3)]
    items = [good[0], {"id": "not-a-uuid", "duration_minutes": 5}, good[1],
             dict(body(world), id=existing), dict(body(world, pain=12), id=str(uuid.uuid4())), good[2],
             dict(body(world, duration_minutes=44, base_revision=1), id=existing), "not an object"]
    response = world.patient_a.post(f"{SESSIONS}/batch", json={"sessions": items})
    assert response.status_code == 200
    out = response.get_json()
    assert [r["status"] for r in out["results"]] == [
        "created", "error", "created", "unchanged", "error", "created", "updated", "error"]
    assert out["counts"] == {"created": 3, "error": 3, "unchanged": 1, "updated": 1}
    assert "pain" in out["results"][4]["problem"]["errors"]
    assert count_sessions() == before + 3
    again = world.patient_a.post(f"{SESSIONS}/batch", json={"sessions": good}).get_json()
    assert again["counts"] == {"unchanged": 3}


def test_a_session_naming_its_exercise_by_an_upper_case_uuid_is_logged_alone_and_in_a_batch(world, now):
    """Clients that print UUIDs in upper case (Swift's uuidString) name the exercise by its id."""
    exercise = world.patient_a.get("/api/v1/exercises/passive-range-of-motion").get_json()
    data = {"exercise": exercise["id"].upper(), "started_at": (NOW - timedelta(hours=1)).isoformat(),
            "duration_minutes": 15}
    alone = put(world.patient_a, str(uuid.uuid4()), data)
    assert alone.status_code == 201, alone.get_json()
    assert alone.get_json()["exercise_id"] == exercise["id"]
    batch = world.patient_a.post(f"{SESSIONS}/batch", json={"sessions": [dict(data, id=str(uuid.uuid4()))]})
    assert batch.get_json()["counts"] == {"created": 1}, batch.get_json()


def test_a_nul_byte_in_one_batch_item_refuses_that_item_only(world, now):
    """PostgreSQL text cannot hold a NUL (SQLite can): an item with one, in its note or in any
    text the lookups use, is refused on its own, the same on both databases; the rest land."""
    before = count_sessions()
    off_plan = {k: v for k, v in body(world).items() if k != "item_key"}
    items = [dict(body(world, duration_minutes=31), id=str(uuid.uuid4())),
             dict(body(world, note="felt fine\x00"), id=str(uuid.uuid4())),
             dict(off_plan, exercise="fes-\x00cycling", id=str(uuid.uuid4())),
             dict(body(world, measures={"angle\x00_degrees": 30}), id=str(uuid.uuid4())),
             dict(body(world, duration_minutes=32), id=str(uuid.uuid4()))]
    response = world.patient_a.post(f"{SESSIONS}/batch", json={"sessions": items})
    assert response.status_code == 200, response.get_data(as_text=True)
    out = response.get_json()["results"]
    assert [r["status"] for r in out] == ["created", "error", "error", "error", "created"]
    assert [sorted(r["problem"]["errors"]) for r in out[1:4]] == [["note"], ["exercise"], ["measures"]]
    assert all(r["problem"]["status"] == 422 for r in out[1:4])
    assert count_sessions() == before + 2
    # The same item alone is the same 422, naming the field.
    alone = put(world.patient_a, str(uuid.uuid4()), body(world, note="felt fine\x00"))
    assert "note" in assert_problem(alone, 422)["errors"]
    assert count_sessions() == before + 2


def _poisoned(monkeypatch, kind: str, note: str) -> None:
    """The item whose note is `note` makes the database refuse its insert, for real, inside its
    savepoint: IntegrityError, the feed position of the item before it (the patient's positions
    are unique); DataError, on PostgreSQL a minutes value past its integer, on SQLite a text past
    the connection's length limit (lifted again for the next item)."""
    from app.sessions import service
    original = service._values

    def values(ctx, data, body_hash, resolved):
        out = original(ctx, data, body_hash, resolved)
        driver = ctx.feed.connection.connection.dbapi_connection
        if ctx.feed.connection.dialect.name == "sqlite":
            driver.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000_000)
        if data.get("note") != note:
            return out
        if kind == "integrity":
            return {**out, "feed_position": out["feed_position"] - 1}
        if ctx.feed.connection.dialect.name == "postgresql":
            return {**out, "duration_minutes": 2**31}
        driver.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, len(note) - 1)
        return out

    monkeypatch.setattr(service, "_values", values)


@pytest.mark.parametrize("kind,status,title", [("integrity", 409, "Conflict"), ("data", 422, "Validation failed")])
def test_a_database_error_in_one_batch_item_refuses_that_item_only(world, now, monkeypatch, kind, status, title):
    """The database refusing one item's write (its savepoint rolled back) answers that item, and
    the batch's transaction goes on: the items after it are stored, with its audit row. The log
    names the error's class only, not its SQL or the values it quotes."""
    from tests.log_capture import SUITE_LOG
    note = f"poisoned {uuid.uuid4()} " + "x" * 100
    _poisoned(monkeypatch, kind, note)
    audited = db.session.scalar(select(func.count()).select_from(AuditEvent))
    before, logged = count_sessions(), len(SUITE_LOG.lines)
    # Ids in ascending order: the batch writes in id order, so an item comes after the poisoned
    # one and lifts SQLite's length limit again (left lowered, it failed later tests' inserts).
    ids = sorted(str(uuid.uuid4()) for _ in range(3))
    items = [dict(body(world, duration_minutes=31 + i, note=note if i == 1 else "fine"), id=ids[i]) for i in range(3)]
    response = world.patient_a.post(f"{SESSIONS}/batch", json={"sessions": items})
    assert response.status_code == 200, response.get_data(as_text=True)
    out = response.get_json()
    assert [r["status"] for r in out["results"]] == ["created", "error", "created"]
    problem = out["results"][1]["problem"]
    assert (problem["status"], problem["title"]) == (status, title)
    assert note not in response.get_data(as_text=True) and "INSERT" not in problem["detail"]
    assert count_sessions() == before + 2
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == audited + 1
    assert world.patient_a.get(f"{SESSIONS}/{items[2]['id']}").status_code == 200
    lines = SUITE_LOG.lines[logged:]
    error_class = {"integrity": "IntegrityError", "data": "DataError"}[kind]
    assert any(error_class in line for line in lines), lines
    assert not any(note in line or items[1]["id"] in line or "INSERT" in line for line in lines)
    SUITE_LOG.remember(None, {"note": note})


def test_batch_size_is_capped(world, now):
    items = [dict(body(world), id=str(uuid.uuid4())) for _ in range(501)]
    assert_problem(world.patient_a.post(f"{SESSIONS}/batch", json={"sessions": items}), 422)


def test_batch_of_500_is_accepted(world, now):
    items = [dict(body(world, started_at=(NOW - timedelta(minutes=i)).isoformat()), id=str(uuid.uuid4()))
             for i in range(500)]
    out = world.patient_a.post(f"{SESSIONS}/batch", json={"sessions": items}).get_json()
    assert out["counts"] == {"created": 500}


def test_sync_feed_reports_creates_updates_and_deletes(world, now):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    put(world.patient_a, a, body(world))
    put(world.caregiver_a, b, body(world, duration_minutes=20))
    first = world.patient_a.get(f"{SESSIONS}/changes").get_json()
    assert [i["id"] for i in first["items"]] == [world.session_a, a, b] and not first["has_more"]
    cursor = first["next_cursor"]
    put(world.patient_a, a, body(world, duration_minutes=46, base_revision=1))
    world.patient_a.delete(f"{SESSIONS}/{b}", headers={"If-Match": '"1"'})
    second = world.patient_a.get(f"{SESSIONS}/changes?since={cursor}&limit=1").get_json()
    assert len(second["items"]) == 1 and second["has_more"]
    third = world.patient_a.get(f"{SESSIONS}/changes?since={second['next_cursor']}").get_json()
    assert [i["id"] for i in second["items"] + third["items"]] == [a, b]  # in write order
    changed = {i["id"]: i for i in second["items"] + third["items"]}
    assert changed[a]["revision"] == 2 and changed[b]["deleted"] is True
    empty = world.patient_a.get(f"{SESSIONS}/changes?since={third['next_cursor']}").get_json()
    assert empty["items"] == [] and empty["next_cursor"] == third["next_cursor"]
    assert_problem(world.patient_a.get(f"{SESSIONS}/changes?since=garbage"), 422)


def test_list_by_local_dates(world, now):
    put(world.patient_a, str(uuid.uuid4()), body(world))
    put(world.patient_a, str(uuid.uuid4()), body(world, started_at=(NOW - timedelta(days=2)).isoformat()))
    # to= as well: the world's own session is dated by the real clock, on or after 3 March once that has passed
    assert world.coord_a.get(f"/api/v1/patients/{world.a_id}/sessions?from=2027-03-03&to=2027-03-03").get_json()["meta"]["total"] == 1
    assert world.patient_a.get(f"{SESSIONS}?from=2027-03-01&to=2027-03-02").get_json()["meta"]["total"] == 1


def test_dysreflexia_signs_get_urgent_answer_in_patient_language(world, now):
    received = []

    def receiver(sender, session, change):
        received.append((session.id, change))

    session_written.connect(receiver)
    try:
        sid = str(uuid.uuid4())
        response = put(world.patient_a, sid, body(world, symptoms=["pounding_headache", "flushing_or_sweating"]))
    finally:
        session_written.disconnect(receiver)
    out = response.get_json()
    assert out["needs_review"] is True
    alert = out["safety_alerts"][0]
    assert alert["code"] == "autonomic_dysreflexia" and alert["language"] == "zh-CN"
    assert any("5分钟" in step for step in alert["steps"])
    assert received == [(uuid.UUID(sid), "created")]
    english = world.patient_a.get(f"{SESSIONS}/{sid}", headers={"Accept-Language": "en"}).get_json()
    assert any("every 5 minutes" in step for step in english["safety_alerts"][0]["steps"])


def test_possible_fracture_answer_and_level_aware_dysreflexia(client, world):
    low, _ = enrolled_patient(client, world.coord_a, neurological_level="L1", language="en",
                              time_zone="Europe/London")
    with at(NOW, low):
        data = {"exercise": "passive-range-of-motion", "started_at": (NOW - timedelta(hours=1)).isoformat(),
                "duration_minutes": 15, "symptoms": ["pounding_headache", "swelling_warmth_or_deformity"]}
        out = put(low, str(uuid.uuid4()), data).get_json()
    assert [a["code"] for a in out["safety_alerts"]] == ["possible_fracture", "dysreflexia_signs_below_level"]
    fracture = out["safety_alerts"][0]
    assert fracture["language"] == "en" and "Stop standing" in fracture["steps"][0]
    plain = dict(data, symptoms=["more_spasms"])
    with at(NOW, low):
        calm = put(low, str(uuid.uuid4()), plain).get_json()
    assert calm["needs_review"] is False and calm["safety_alerts"] == []


def test_symptom_checklist(world):
    checklist = world.patient_b.get("/api/v1/symptoms").get_json()
    assert checklist["meta"]["total"] == 12 and checklist["items"][0]["label"] == "Pounding headache"
    skin = next(s for s in checklist["items"] if s["code"] == "pressure_redness_or_broken_skin")
    assert "30 minutes" in skin["label"] and skin["triggers_alert"] == "skin_injury"


@pytest.mark.committing
@pytest.mark.parametrize("measures", [{"angle_degrees": 70}, {}], ids=["looked-up", "checked-in-the-insert"])
def test_twenty_identical_puts_at_once_store_one_session(app, measures):
    client = app.test_client()
    from tests.factories import World

    world = World(client).build()
    sid = str(uuid.uuid4())
    data = body(world, started_at=(datetime.now(timezone.utc) - timedelta(minutes=30)).isoformat(),
                measures=measures)
    barrier = threading.Barrier(20)
    statuses = []

    def send():
        local = app.test_client()
        barrier.wait()
        response = local.put(f"{SESSIONS}/{sid}", json=data, headers=world.patient_a.headers)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 19 + [201]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ExerciseSession)
                                 .where(ExerciseSession.id == uuid.UUID(sid))) == 1



@pytest.mark.committing
def test_a_put_is_one_transaction_that_takes_the_write_lock_after_the_login_check(app):
    """The streak check runs in the write's transaction (no read transaction after the commit),
    and on SQLite the write lock (BEGIN IMMEDIATE) is taken after the login is checked, so that
    writers hold it only while they write."""
    from sqlalchemy import event

    from tests.factories import World
    from tests.statements import sqlite_driver_statements

    client = app.test_client()
    world = World(client).build()
    data = body(world, started_at=(datetime.now(timezone.utc) - timedelta(minutes=30)).isoformat())
    sid = str(uuid.uuid4())
    for expected in (201, 200):  # new, then the same again
        begins = []
        with app.app_context():
            engine = db.engine

        def began(_conn):
            begins.append(1)

        event.listen(engine, "begin", began)
        try:  # what the driver runs: the app sends SQLite's BEGIN IMMEDIATE straight to it
            with sqlite_driver_statements(engine, lambda statement: statement.split()[0:4]) as statements:
                response = client.put(f"{SESSIONS}/{sid}", json=data, headers=world.patient_a.headers)
        finally:
            event.remove(engine, "begin", began)
        assert response.status_code == expected
        assert len(begins) == 1
        if engine.dialect.name == "sqlite":
            login = next(i for i, s in enumerate(statements) if s[0] == "SELECT" and "users.id," in s)
            assert statements.index(["BEGIN", "IMMEDIATE"]) > login
            assert statements.count(["BEGIN", "IMMEDIATE"]) == 1


@pytest.mark.committing
def test_a_put_refused_before_it_writes_never_takes_the_write_lock(app):
    """The access policy and the body's time checks run before SQLite's write lock, so a PUT
    they refuse never queues other workers' writes behind it."""
    from tests.factories import World
    from tests.statements import sqlite_driver_statements

    client = app.test_client()
    world = World(client).build()
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("the write lock is SQLite's")
    now = datetime.now(timezone.utc)
    refused = [  # (actor, patient, body, status)
        (world.patient_a, "me", body(world, started_at=(now + timedelta(hours=1)).isoformat()), 422),
        (world.patient_a, "me", body(world, started_at=(now - timedelta(days=400)).isoformat()), 422),
        (world.patient_a, world.b_id, body(world, started_at=(now - timedelta(minutes=30)).isoformat()), 404),
        (world.caregiver_a, world.b_id, body(world, started_at=(now - timedelta(minutes=30)).isoformat()), 404),
        (world.coord_a, world.a_id, body(world, started_at=(now - timedelta(minutes=30)).isoformat()), 403),
    ]
    for actor, ref, data, status in refused:
        with sqlite_driver_statements(engine, lambda statement: statement.split()[0:2]) as statements:
            assert_problem(put(actor, str(uuid.uuid4()), data, ref), status)
        assert ["BEGIN", "IMMEDIATE"] not in statements
    with sqlite_driver_statements(engine, lambda statement: statement.split()[0:2]) as statements:
        assert put(world.patient_a, str(uuid.uuid4()), body(world, started_at=(now - timedelta(minutes=30))
                                                         .isoformat())).status_code == 201
    assert statements.count(["BEGIN", "IMMEDIATE"]) == 1


def test_a_write_that_waits_for_the_feed_lock_is_stamped_when_it_writes(world, monkeypatch):
    """The time a write stores is taken once the patient's feed lock is held, not when the
    request arrived: a patient's sessions then carry updated_at in their feed order (the rules
    take the latest alert by it)."""
    import time_machine

    from app.sessions.feed import FeedCounter

    lock = FeedCounter.lock.__func__
    with time_machine.travel(NOW, tick=False) as clock:
        world.patient_a.relogin()

        def after_a_wait(cls, *args, **kwargs):
            clock.shift(timedelta(seconds=90))  # as long as another write held the lock
            return lock(cls, *args, **kwargs)

        monkeypatch.setattr(FeedCounter, "lock", classmethod(after_a_wait))
        sid = str(uuid.uuid4())
        created = put(world.patient_a, sid, body(world)).get_json()
        edited = put(world.patient_a, sid, body(world, duration_minutes=50, base_revision=1)).get_json()
    assert datetime.fromisoformat(created["created_at"]) == NOW + timedelta(seconds=90)
    assert datetime.fromisoformat(edited["updated_at"]) == NOW + timedelta(seconds=180)


def test_plan_item_sessions_without_measures_answer_as_any_other(world, now):
    """A plan item's session without measures is inserted by one statement that checks the item
    (app/sessions/service.py); every answer stays the one the look-up first gives."""
    measured = put(world.patient_a, str(uuid.uuid4()), body(world)).get_json()
    sid = str(uuid.uuid4())
    before = count_sessions()
    first = put(world.patient_a, sid, body(world, measures={}))
    assert first.status_code == 201 and first.headers["ETag"] == '"1"'
    created = first.get_json()
    assert (created["plan_id"], created["exercise_id"]) == (measured["plan_id"], measured["exercise_id"])
    assert created["measures"] == {} and created["revision"] == 1 and created["local_date"] == "2027-03-03"
    assert world.patient_a.get(f"{SESSIONS}/{sid}").get_json() == created
    again = put(world.patient_a, sid, body(world, measures={}))
    assert again.status_code == 200 and again.get_json() == created
    assert count_sessions() == before + 1
    # Not one of the patient's items: 422, on a new id and on a stored one alike.
    stranger = str(uuid.uuid4())
    for target in (str(uuid.uuid4()), sid):
        assert "item_key" in assert_problem(put(world.patient_a, target, body(world, measures={}, item_key=stranger)),
                                            422)["errors"]
    assert count_sessions() == before + 1
    # Another patient: the id is taken (409) if the item is theirs, their item is checked first (422).
    with at(NOW, world.coord_b):
        plan_b = world.coord_b.post(f"/api/v1/patients/{world.b_id}/plans", json={
            "template": "combined-programme", "acknowledge_warnings": ["autonomic_dysreflexia"]})
    assert plan_b.status_code == 201, plan_b.get_json()
    key_b = plan_b.get_json()["version_in_force"]["items"][0]["item_key"]
    assert "current" not in assert_problem(put(world.patient_b, sid, body(world, measures={}, item_key=key_b)), 409)
    assert "item_key" in assert_problem(put(world.patient_b, sid, body(world, measures={})), 422)["errors"]
    # An edit names its base; a stale one gets the current version.
    edited = put(world.caregiver_a, sid, body(world, measures={}, duration_minutes=20, base_revision=1))
    assert edited.status_code == 200 and edited.get_json()["revision"] == 2
    assert edited.get_json()["exercise_id"] == created["exercise_id"] and edited.get_json()["duration_minutes"] == 20
    stale = assert_problem(put(world.patient_a, sid, body(world, measures={}, base_revision=1)), 409)
    assert stale["type"].endswith("stale-revision") and stale["current"]["revision"] == 2
    assert world.patient_a.delete(f"{SESSIONS}/{sid}", headers={"If-Match": '"2"'}).status_code == 204
    gone = assert_problem(put(world.patient_a, sid, body(world, measures={}, duration_minutes=20)), 409)
    assert gone["type"].endswith("session-deleted")
    # The feed has each session once, at its latest write, in order.
    feed = world.patient_a.get(f"{SESSIONS}/changes").get_json()["items"]
    assert [item["id"] for item in feed][-2:] == [measured["id"], sid] and feed[-1]["deleted"] is True


def test_a_new_put_reads_the_streak_checkpoint_in_its_feed_lock(app):
    """The write's streak freshness check costs no statement of its own: the checkpoint's row
    comes back with the feed lock (app/sessions/feed.read_with_lock)."""
    from tests.factories import World
    from tests.statements import statements_on

    client = app.test_client()
    world = World(client).build()
    data = body(world, started_at=(datetime.now(timezone.utc) - timedelta(minutes=30)).isoformat())
    with app.app_context():
        engine = db.engine
    with statements_on(engine) as seen:
        response = client.put(f"{SESSIONS}/{uuid.uuid4()}", json=data, headers=world.patient_a.headers)
    assert response.status_code == 201
    reading_checkpoints = [s for s in seen.texts if "adherence_streak_checkpoints" in s]
    assert len(reading_checkpoints) == 1 and reading_checkpoints[0].startswith("UPDATE session_feeds")
