"""What each session write leaves behind, on both databases: exactly one audit row of the write
(its action, actor, patient, resource and request), none when it fails, and the plan reminder it
satisfies cancelled exactly when a session is created on (or moved onto) its day.

On PostgreSQL a new PUT of a plan item inserts its audit row and cancels its reminder in the
session's own INSERT (app/audit/rows.carried_insert, app/sessions/signals.write_with_create);
every other write runs separate statements. The answers must be the same either way."""
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.common.clock import local_date
from app.extensions import db
from app.reminders.materialise import PLAN_KIND, plan_occurrence
from app.reminders.models import Notification
from app.reminders.outbox import enqueue
from app.sessions.models import ExerciseSession
from tests.factories import World, at, at_once
from tests.test_errors import assert_problem

NOW = datetime(2027, 3, 3, 10, 0, tzinfo=timezone.utc)  # a Wednesday; 18:00 in Shanghai
TODAY = date(2027, 3, 3)  # patient A's local day then
SESSIONS = "/api/v1/patients/me/sessions"
PUT_ROUTE = "/api/v1/patients/<patient_id>/sessions/<uuid:session_id>"
_requests = iter(range(1, 10**6))


@pytest.fixture
def now(world):
    with at(NOW, world.patient_a, world.caregiver_a, world.coord_a, world.patient_b, world.coord_b):
        yield NOW


def item_key(world):
    return world.plan_a["version_in_force"]["items"][0]["item_key"]


def body(world, measures=None, **kw):
    data = {"item_key": item_key(world), "started_at": (NOW - timedelta(hours=1)).isoformat(),
            "duration_minutes": 45}
    if measures is not None:
        data["measures"] = measures
    data.update(kw)
    return data


def off_plan(**kw):
    data = {"exercise": "upper-body-exercise", "started_at": (NOW - timedelta(hours=1)).isoformat(),
            "duration_minutes": 20}
    data.update(kw)
    return data


def send(actor, method, url, json=None, headers=None):
    request_id = f"trail-check-{next(_requests):06d}"
    response = getattr(actor, method)(url, json=json, headers={"X-Request-ID": request_id, **(headers or {})})
    return response, request_id


def trail(patient_id=None):
    stmt = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)
    if patient_id is not None:
        stmt = stmt.where(AuditEvent.patient_id == uuid.UUID(patient_id))
    return {event.id: event for event in db.session.scalars(stmt)}


def new_rows(before: dict, patient_id=None) -> list:
    return [event for key, event in trail(patient_id).items() if key not in before]


def count_sessions():
    return db.session.scalar(select(func.count()).select_from(ExerciseSession))


def reminder(patient_id, recipient_id, key, day: date, tag="") -> str:
    """A pending plan reminder of that item and local day; its dedupe key."""
    dedupe = f"trail:{patient_id}:{key}:{day}:{tag}"
    enqueue(recipient_user_id=uuid.UUID(recipient_id), patient_id=uuid.UUID(patient_id), kind=PLAN_KIND,
            dedupe_key=dedupe, occurrence_key=plan_occurrence(key, day), due_at=NOW, now=NOW,
            payload={"item_key": str(key), "local_date": day.isoformat()})
    db.session.commit()
    return dedupe


def status_of(dedupe: str) -> str:
    db.session.expire_all()
    return db.session.scalar(select(Notification.status).where(Notification.dedupe_key == dedupe))


def assert_one_write_row(before, world, actor, request_id, method, route, resource, patient_id=None,
                         action="write"):
    rows = new_rows(before, patient_id or world.a_id)
    assert [(r.action, str(r.actor_id), r.actor_role, str(r.patient_id), r.resource_id, r.method, r.route,
             r.request_id) for r in rows] == [
        (action, actor.id, actor.tokens["user"]["role"], patient_id or world.a_id, resource, method, route,
         request_id)], rows
    return rows[0]


def plan_b(world):
    response = world.coord_b.post(f"/api/v1/patients/{world.b_id}/plans", json={
        "template": "combined-programme", "acknowledge_warnings": ["autonomic_dysreflexia"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["version_in_force"]["items"][0]["item_key"]


# --- one audit row a write ---------------------------------------------------------------

@pytest.mark.parametrize("measures", [None, {}, {"angle_degrees": 70}], ids=["no-measures", "empty", "measured"])
def test_a_new_put_and_its_retry_each_leave_one_audit_row_of_their_request(world, now, measures):
    sid = str(uuid.uuid4())
    before = trail()
    first, request_id = send(world.patient_a, "put", f"{SESSIONS}/{sid}", body(world, measures))
    assert first.status_code == 201, first.get_json()
    assert_one_write_row(before, world, world.patient_a, request_id, "PUT", PUT_ROUTE, sid)
    assert len(trail()) == len(before) + 1  # nothing for anyone else either
    before = trail()
    again, request_id = send(world.patient_a, "put", f"{SESSIONS}/{sid}", body(world, measures))
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert_one_write_row(before, world, world.patient_a, request_id, "PUT", PUT_ROUTE, sid)


def test_a_caregivers_put_is_audited_as_the_caregivers(world, now):
    sid = str(uuid.uuid4())
    before = trail()
    response, request_id = send(world.caregiver_a, "put", f"/api/v1/patients/{world.a_id}/sessions/{sid}",
                                body(world))
    assert response.status_code == 201, response.get_json()
    row = assert_one_write_row(before, world, world.caregiver_a, request_id, "PUT", PUT_ROUTE, sid)
    assert row.actor_name is None and row.client_address


def test_an_off_plan_put_an_edit_and_a_delete_are_audited_once_each(world, now):
    sid = str(uuid.uuid4())
    before = trail()
    created, request_id = send(world.patient_a, "put", f"{SESSIONS}/{sid}", off_plan())
    assert created.status_code == 201, created.get_json()
    assert_one_write_row(before, world, world.patient_a, request_id, "PUT", PUT_ROUTE, sid)
    before = trail()
    edited, request_id = send(world.caregiver_a, "put", f"/api/v1/patients/{world.a_id}/sessions/{sid}",
                              off_plan(duration_minutes=25), headers={"If-Match": '"1"'})
    assert edited.status_code == 200 and edited.get_json()["revision"] == 2
    assert_one_write_row(before, world, world.caregiver_a, request_id, "PUT", PUT_ROUTE, sid)
    # An edit of a plan item's session without measures (the insert's shape, a stored id).
    planned = str(uuid.uuid4())
    assert send(world.patient_a, "put", f"{SESSIONS}/{planned}", body(world))[0].status_code == 201
    before = trail()
    edited, request_id = send(world.patient_a, "put", f"{SESSIONS}/{planned}", body(world, duration_minutes=50),
                              headers={"If-Match": '"1"'})
    assert edited.status_code == 200 and edited.get_json()["revision"] == 2
    assert_one_write_row(before, world, world.patient_a, request_id, "PUT", PUT_ROUTE, planned)
    before = trail()
    deleted, request_id = send(world.patient_a, "delete", f"{SESSIONS}/{sid}", headers={"If-Match": '"2"'})
    assert deleted.status_code == 204
    rows = new_rows(before, world.a_id)
    # The policy's row of the write and the delete's own (as before the change).
    assert sorted(r.action for r in rows) == ["delete_session", "write"]
    assert {(r.resource_id, str(r.actor_id), r.method, r.request_id) for r in rows} == {
        (sid, world.patient_a.id, "DELETE", request_id)}


def test_a_batch_is_audited_once(world, now):
    before = trail()
    items = [dict(body(world, duration_minutes=30 + i), id=str(uuid.uuid4())) for i in range(2)]
    items.append(dict(off_plan(), id=str(uuid.uuid4())))
    response, request_id = send(world.patient_a, "post", f"{SESSIONS}/batch", {"sessions": items})
    assert response.status_code == 200 and response.get_json()["counts"] == {"created": 3}
    assert_one_write_row(before, world, world.patient_a, request_id, "POST",
                         "/api/v1/patients/<patient_id>/sessions/batch", None)


def test_writes_refused_after_the_policy_leave_no_audit_row_and_nothing_written(world, now):
    with at(NOW, world.coord_b):
        key_b = plan_b(world)
    taken = str(uuid.uuid4())
    assert send(world.patient_a, "put", f"{SESSIONS}/{taken}", body(world))[0].status_code == 201
    assert send(world.patient_a, "put", f"{SESSIONS}/{taken}", body(world, duration_minutes=50),
                headers={"If-Match": '"1"'})[0].status_code == 200
    gone = str(uuid.uuid4())
    assert send(world.patient_a, "put", f"{SESSIONS}/{gone}", body(world))[0].status_code == 201
    assert send(world.patient_a, "delete", f"{SESSIONS}/{gone}", headers={"If-Match": '"1"'})[0].status_code == 204
    fresh = str(uuid.uuid4())
    cases = [
        # (actor, url, body, headers, status)
        (world.patient_a, f"{SESSIONS}/{fresh}", body(world, {"angle_degrees": 120}), {}, 422),
        (world.patient_a, f"{SESSIONS}/{fresh}", body(world, item_key=str(uuid.uuid4())), {}, 422),
        (world.patient_a, f"{SESSIONS}/{fresh}", body(world, {}, item_key=str(uuid.uuid4())), {}, 422),
        (world.patient_a, f"{SESSIONS}/{fresh}", off_plan(exercise="no-such-exercise"), {}, 422),
        (world.patient_b, f"{SESSIONS}/{taken}", body(world, item_key=key_b), {}, 409),  # A's id: taken
        (world.patient_b, f"{SESSIONS}/{taken}", body(world, {}, item_key=key_b), {}, 409),
        (world.patient_b, f"{SESSIONS}/{taken}", off_plan(), {}, 409),
        (world.patient_a, f"{SESSIONS}/{taken}", body(world, duration_minutes=55), {"If-Match": '"1"'}, 409),
        (world.patient_a, f"{SESSIONS}/{taken}", body(world, duration_minutes=55), {}, 428),
        (world.patient_a, f"{SESSIONS}/{taken}", body(world, {"angle_degrees": 120}), {"If-Match": '"2"'}, 422),
        (world.patient_a, f"{SESSIONS}/{gone}", body(world), {}, 409),  # deleted
        (world.patient_a, f"{SESSIONS}/{taken}", None, {"If-Match": '"1"'}, 409),  # a stale delete
        (world.patient_a, f"{SESSIONS}/{taken}", None, {}, 428),  # a delete without If-Match
    ]
    for actor, url, data, headers, status in cases:
        before, sessions = trail(), count_sessions()
        stored = world.patient_a.get(f"{SESSIONS}/{taken}").get_json()
        before = trail()  # (the read of one's own data is not audited, but take no chances)
        method = "put" if data is not None else "delete"
        response, _ = send(actor, method, url, data, headers)
        assert_problem(response, status)
        assert new_rows(before) == [], (url, status, data)
        assert count_sessions() == sessions
        assert world.patient_a.get(f"{SESSIONS}/{taken}").get_json() == stored


# --- the reminder the session satisfies --------------------------------------------------

def test_a_new_put_cancels_its_items_reminder_that_day_only(world, now):
    key = item_key(world)
    today = reminder(world.a_id, world.patient_a.id, key, TODAY)
    yesterday = reminder(world.a_id, world.patient_a.id, key, TODAY - timedelta(days=1))
    with at(NOW, world.coord_b):
        key_b = plan_b(world)
    others = reminder(world.b_id, world.patient_b.id, key_b, TODAY)
    assert send(world.patient_a, "put", f"{SESSIONS}/{uuid.uuid4()}", body(world))[0].status_code == 201
    assert (status_of(today), status_of(yesterday), status_of(others)) == ("cancelled", "pending", "pending")


@pytest.mark.parametrize("measures", [None, {"angle_degrees": 70}], ids=["in-the-insert", "looked-up"])
def test_a_retry_or_a_taken_id_cancels_nothing(world, now, measures):
    key = item_key(world)
    sid = str(uuid.uuid4())
    assert send(world.patient_a, "put", f"{SESSIONS}/{sid}", body(world, measures))[0].status_code == 201
    again = reminder(world.a_id, world.patient_a.id, key, TODAY, tag="again")  # made after the first write
    assert send(world.patient_a, "put", f"{SESSIONS}/{sid}", body(world, measures))[0].status_code == 200
    assert status_of(again) == "pending"
    # Patient B sends A's id with B's own item, on B's day: the id is taken, B's reminder stays.
    with at(NOW, world.coord_b):
        key_b = plan_b(world)
    b_day = local_date(NOW - timedelta(hours=1), world.profile_b["time_zone"])
    b_reminder = reminder(world.b_id, world.patient_b.id, key_b, b_day)
    taken = send(world.patient_b, "put", f"{SESSIONS}/{sid}", body(world, measures, item_key=key_b))[0]
    assert_problem(taken, 409)
    assert status_of(b_reminder) == "pending" and status_of(again) == "pending"
    # An item not the patient's: nothing is cancelled either.
    assert_problem(send(world.patient_a, "put", f"{SESSIONS}/{uuid.uuid4()}",
                        body(world, measures, item_key=key_b))[0], 422)
    assert status_of(b_reminder) == "pending" and status_of(again) == "pending"


def test_an_off_plan_session_cancels_no_plan_reminder(world, now):
    today = reminder(world.a_id, world.patient_a.id, item_key(world), TODAY)
    assert send(world.patient_a, "put", f"{SESSIONS}/{uuid.uuid4()}", off_plan())[0].status_code == 201
    assert status_of(today) == "pending"


def test_an_edit_that_moves_a_session_to_another_day_cancels_that_days_reminder(world, now):
    key = item_key(world)
    sid = str(uuid.uuid4())
    earlier = NOW - timedelta(hours=20)  # the day before, in Shanghai
    assert local_date(earlier, world.profile_a["time_zone"]) == TODAY - timedelta(days=1)
    assert send(world.patient_a, "put", f"{SESSIONS}/{sid}", body(world))[0].status_code == 201
    yesterday = reminder(world.a_id, world.patient_a.id, key, TODAY - timedelta(days=1))
    today_again = reminder(world.a_id, world.patient_a.id, key, TODAY, tag="again")
    moved, _ = send(world.patient_a, "put", f"{SESSIONS}/{sid}", body(world, started_at=earlier.isoformat()),
                    headers={"If-Match": '"1"'})
    assert moved.status_code == 200 and moved.get_json()["local_date"] == (TODAY - timedelta(days=1)).isoformat()
    assert status_of(yesterday) == "cancelled"
    assert status_of(today_again) == "pending"  # as before: the day left keeps what it has


# --- at the same moment (real threads, real commits) -------------------------------------

def _at_once(app, calls):
    """The statuses of calls(client) run at the same moment, each with a client of its own."""
    return [r.status_code for r in at_once([lambda call=call: call(app.test_client()) for call in calls])]


@pytest.mark.committing
def test_concurrent_puts_of_one_new_id_store_it_once_audit_each_and_cancel_once(app):
    world = World(app.test_client()).build()
    with app.app_context():
        key_b = plan_b(world)
    key = item_key(world)
    started = datetime.now(timezone.utc) - timedelta(minutes=30)
    day_a = local_date(started, world.profile_a["time_zone"])
    day_b = local_date(started, world.profile_b["time_zone"])
    for measures in (None, {"angle_degrees": 70}):
        # The same patient, the same body, six times at once.
        sid = str(uuid.uuid4())
        data = {"item_key": key, "started_at": started.isoformat(), "duration_minutes": 30}
        if measures is not None:
            data["measures"] = measures
        with app.app_context():
            mine = reminder(world.a_id, world.patient_a.id, key, day_a, tag=f"same-{sid}")
        statuses = _at_once(app, [lambda c: c.put(f"{SESSIONS}/{sid}", json=data, headers=world.patient_a.headers)] * 6)
        assert sorted(statuses) == [200] * 5 + [201]
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(ExerciseSession)
                                     .where(ExerciseSession.id == uuid.UUID(sid))) == 1
            assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                     .where(AuditEvent.resource_id == sid)) == 6
            assert status_of(mine) == "cancelled"
        # Two patients, one id, at once: one 201, one 409; the loser's reminder stays.
        for _round in range(3):
            sid = str(uuid.uuid4())
            with app.app_context():
                a_reminder = reminder(world.a_id, world.patient_a.id, key, day_a, tag=f"race-{sid}")
                b_reminder = reminder(world.b_id, world.patient_b.id, key_b, day_b, tag=f"race-{sid}")
            data_b = {**data, "item_key": key_b}
            statuses = _at_once(app, [
                lambda c: c.put(f"{SESSIONS}/{sid}", json=data, headers=world.patient_a.headers),
                lambda c: c.put(f"{SESSIONS}/{sid}", json=data_b, headers=world.patient_b.headers)])
            assert sorted(statuses) == [201, 409], statuses
            winner = 0 if statuses[0] == 201 else 1
            with app.app_context():
                rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.resource_id == sid)))
                assert [str(r.patient_id) for r in rows] == [(world.a_id, world.b_id)[winner]]
                assert db.session.scalar(select(func.count()).select_from(ExerciseSession)
                                         .where(ExerciseSession.id == uuid.UUID(sid))) == 1
                assert (status_of(a_reminder), status_of(b_reminder)) == (
                    ("cancelled", "pending") if winner == 0 else ("pending", "cancelled"))


def test_the_new_put_checked_here_is_the_one_carried_in_the_insert_on_postgresql(app, world, now):
    """So that the tests above test the new path: on PostgreSQL a new PUT of a plan item sends
    its audit row and its reminder's cancel in the session's INSERT; elsewhere, apart."""
    from tests.statements import statements_on

    with app.app_context():
        engine = db.engine
    reminder(world.a_id, world.patient_a.id, item_key(world), TODAY)
    with statements_on(engine) as seen:
        assert send(world.patient_a, "put", f"{SESSIONS}/{uuid.uuid4()}", body(world))[0].status_code == 201
    apart = [s for s in seen.texts if s.startswith(("INSERT INTO audit_events", "UPDATE notifications"))]
    carried = [s for s in seen.texts if "INSERT INTO audit_events" in s and "UPDATE notifications" in s
               and "INSERT INTO exercise_sessions" in s]
    if engine.dialect.name == "postgresql":
        assert (len(apart), len(carried)) == (0, 1), seen.texts
    else:
        assert (len(apart), len(carried)) == (2, 0), seen.texts


def test_a_batch_cancels_the_reminders_of_the_sessions_it_creates(world, now):
    key = item_key(world)
    today = reminder(world.a_id, world.patient_a.id, key, TODAY)
    yesterday = reminder(world.a_id, world.patient_a.id, key, TODAY - timedelta(days=1))
    items = [dict(body(world), id=str(uuid.uuid4())), dict(off_plan(), id=str(uuid.uuid4()))]
    response, _ = send(world.patient_a, "post", f"{SESSIONS}/batch", {"sessions": items})
    assert response.get_json()["counts"] == {"created": 2}
    assert (status_of(today), status_of(yesterday)) == ("cancelled", "pending")


# --- the registry of what rides in the insert --------------------------------------------

@pytest.fixture
def riders():
    """signals' registry as it was, put back afterwards."""
    from app.sessions import signals

    saved = signals.create_riders
    yield signals
    signals.create_riders = saved


def test_without_the_reminders_rider_its_receiver_cancels_and_with_it_again_the_insert(world, now, riders):
    from app.reminders import CANCEL_WITH_CREATE

    key = item_key(world)
    riders.create_riders = tuple(r for r in riders.create_riders if r[0] != CANCEL_WITH_CREATE)
    first = reminder(world.a_id, world.patient_a.id, key, TODAY, tag="first")
    assert send(world.patient_a, "put", f"{SESSIONS}/{uuid.uuid4()}", body(world))[0].status_code == 201
    assert status_of(first) == "cancelled"
    import app.reminders as reminders

    riders.write_with_create(CANCEL_WITH_CREATE, reminders._cancel_with_create, reminders._cancel_params)
    second = reminder(world.a_id, world.patient_a.id, key, TODAY, tag="second")
    assert send(world.patient_a, "put", f"{SESSIONS}/{uuid.uuid4()}", body(world))[0].status_code == 201
    assert status_of(second) == "cancelled"


def test_a_rider_registered_later_rides_in_the_next_insert_and_not_after_it_is_replaced(app, world, now, riders):
    """The insert's statement is cached by the registry's tuple: a change of it is a new statement."""
    from sqlalchemy import bindparam, update

    notifications = Notification.__table__
    probe = reminder(world.a_id, world.patient_a.id, item_key(world), TODAY + timedelta(days=5), tag="probe")

    def build(only_if_inserted):
        return (update(notifications).where(notifications.c.dedupe_key == bindparam("probe_key"), only_if_inserted)
                .values(attempts=notifications.c.attempts + 1))

    def attempts():
        db.session.expire_all()
        return db.session.scalar(select(Notification.attempts).where(Notification.dedupe_key == probe))

    riders.write_with_create("probe", build, lambda values: {"probe_key": probe})
    assert "probe" in {r[0] for r in riders.create_riders}
    assert send(world.patient_a, "put", f"{SESSIONS}/{uuid.uuid4()}", body(world))[0].status_code == 201
    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
    assert attempts() == (1 if postgresql else 0)  # (riders ride only on PostgreSQL; SQLite has the receivers)
    riders.write_with_create("probe", lambda only: build(only).values(attempts=notifications.c.attempts + 10),
                             lambda values: {"probe_key": probe})
    assert send(world.patient_a, "put", f"{SESSIONS}/{uuid.uuid4()}", body(world))[0].status_code == 201
    assert attempts() == (11 if postgresql else 0)


def test_ridden_names_the_riders_the_statement_ran_even_if_the_registry_changed_meanwhile(world, now, riders):
    """A registration between building the insert and announcing it (another thread's create_app)
    must not make the reminders receiver skip a cancel that its statement did not carry."""
    import app.reminders as reminders
    from sqlalchemy import bindparam, update

    notifications = Notification.__table__
    riders.create_riders = tuple(r for r in riders.create_riders if r[0] != reminders.CANCEL_WITH_CREATE)

    def meanwhile(values):
        riders.write_with_create(reminders.CANCEL_WITH_CREATE, reminders._cancel_with_create,
                                 reminders._cancel_params)
        return {"probe_key": "none"}

    riders.write_with_create("probe", lambda only: update(notifications).where(
        notifications.c.dedupe_key == bindparam("probe_key"), only).values(attempts=0), meanwhile)
    today = reminder(world.a_id, world.patient_a.id, item_key(world), TODAY)
    assert send(world.patient_a, "put", f"{SESSIONS}/{uuid.uuid4()}", body(world))[0].status_code == 201
    assert status_of(today) == "cancelled"
