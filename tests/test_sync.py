"""Offline sync as two devices do it: stale edits, resends, cursors, and real concurrency
(threads against the real database, committing) for the change feed and for edits."""
import base64
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select, text, update

from app.extensions import db
from app.sessions.models import ExerciseSession, SessionFeed
from tests.factories import World, at, at_once
from tests.test_errors import assert_problem
from tests.test_sessions import NOW, SESSIONS, body

DYSREFLEXIA = ["pounding_headache", "flushing_or_sweating"]


@pytest.fixture
def now(world):
    with at(NOW, world.patient_a, world.caregiver_a, world.coord_a, world.coord_b, world.patient_b):
        yield NOW


def put(actor, sid, data, headers_if_match=None):
    headers = {"If-Match": headers_if_match} if headers_if_match is not None else {}
    return actor.put(f"{SESSIONS}/{sid}", json=data, headers=headers)


def feed(actor, since=None, limit=None, ref="me"):
    query = "&".join(f"{k}={v}" for k, v in (("since", since), ("limit", limit)) if v is not None)
    return actor.get(f"/api/v1/patients/{ref}/sessions/changes?{query}")


# --- item 3: a stale offline edit never overwrites a newer one ---------------------------

def test_stale_edit_gets_409_with_the_current_version_and_keeps_the_safety_report(world, now):
    sid = str(uuid.uuid4())
    assert put(world.patient_a, sid, body(world)).status_code == 201
    # The caregiver reports dysreflexia signs (made on revision 1).
    report = put(world.caregiver_a, sid, body(world, symptoms=DYSREFLEXIA, base_revision=1)).get_json()
    assert report["revision"] == 2 and report["needs_review"] is True
    # The phone syncs an older offline change of the duration, also made on revision 1.
    stale = assert_problem(put(world.patient_a, sid, body(world, duration_minutes=30, base_revision=1)), 409)
    assert stale["type"].endswith("/stale-revision") and "safety report" in stale["detail"]
    assert stale["current"]["revision"] == 2 and stale["current"]["symptoms"] == DYSREFLEXIA
    assert stale["current"]["needs_review"] is True and stale["current"]["safety_alerts"]
    # Nothing was stored: the report stands.
    stored = world.patient_a.get(f"{SESSIONS}/{sid}")
    assert stored.get_json() == report and stored.headers["ETag"] == '"2"'
    # The same stale change through a batch is refused per item, with the current version.
    out = world.patient_a.post(f"{SESSIONS}/batch", json={"sessions": [
        dict(body(world, duration_minutes=30, base_revision=1), id=sid)]}).get_json()
    (item,) = out["results"]
    assert item["status"] == "error" and item["problem"]["status"] == 409
    assert item["problem"]["type"].endswith("/stale-revision")
    assert item["problem"]["current"]["needs_review"] is True and item["problem"]["current"]["revision"] == 2
    # Having seen revision 2, the patient may change it (even clear it: it was a mistap).
    seen = put(world.patient_a, sid, body(world, duration_minutes=30), headers_if_match='"2"')
    assert seen.status_code == 200 and seen.get_json()["revision"] == 3
    assert seen.get_json()["needs_review"] is False and seen.headers["ETag"] == '"3"'


def test_a_change_without_base_revision_is_refused_with_428_and_the_current_version(world, now):
    sid = str(uuid.uuid4())
    put(world.patient_a, sid, body(world))
    put(world.caregiver_a, sid, body(world, symptoms=DYSREFLEXIA, base_revision=1))
    blind = assert_problem(put(world.patient_a, sid, body(world, duration_minutes=30)), 428)
    assert blind["type"].endswith("/base-revision-required") and blind["current"]["revision"] == 2
    out = world.patient_a.post(f"{SESSIONS}/batch", json={"sessions": [
        dict(body(world, duration_minutes=30), id=sid)]}).get_json()
    assert out["results"][0]["problem"]["status"] == 428 and out["results"][0]["problem"]["current"]["revision"] == 2
    assert_problem(world.patient_a.delete(f"{SESSIONS}/{sid}"), 428)
    assert_problem(world.patient_a.delete(f"{SESSIONS}/{sid}", headers={"If-Match": '"1"'}), 409)
    assert world.patient_a.get(f"{SESSIONS}/{sid}").get_json()["needs_review"] is True
    # A new id needs no base; a plain resend of what is stored needs none either.
    assert put(world.patient_a, str(uuid.uuid4()), body(world)).status_code == 201
    again = put(world.patient_a, sid, body(world, symptoms=DYSREFLEXIA))
    assert again.status_code == 200 and again.get_json()["revision"] == 2


def test_a_resend_of_an_edit_whose_answer_was_lost_is_unchanged(world, now):
    sid = str(uuid.uuid4())
    put(world.patient_a, sid, body(world))
    edit = body(world, duration_minutes=50, base_revision=1)
    assert put(world.patient_a, sid, edit).get_json()["revision"] == 2
    resent = put(world.patient_a, sid, edit)  # the answer was lost; the phone sends it again
    assert resent.status_code == 200 and resent.get_json()["revision"] == 2


def test_base_revision_and_if_match_must_agree_and_be_revisions(world, now):
    sid = str(uuid.uuid4())
    put(world.patient_a, sid, body(world))
    both = put(world.patient_a, sid, body(world, duration_minutes=50, base_revision=1), headers_if_match='"2"')
    assert "base_revision" in assert_problem(both, 422)["errors"]
    for bad in ("*", '"abc"', "1, 2"):
        assert "If-Match" in assert_problem(put(world.patient_a, sid, body(world), headers_if_match=bad),
                                            422)["errors"]
    assert "base_revision" in assert_problem(put(world.patient_a, sid, body(world, base_revision=0)),
                                             422)["errors"]
    assert put(world.patient_a, sid, body(world, duration_minutes=50), headers_if_match='W/"1"').status_code == 200


def test_a_deleted_session_answers_409_with_it(world, now):
    sid = str(uuid.uuid4())
    put(world.patient_a, sid, body(world))
    world.patient_a.delete(f"{SESSIONS}/{sid}", headers={"If-Match": '"1"'})
    gone = assert_problem(put(world.patient_a, sid, body(world, duration_minutes=50, base_revision=1)), 409)
    assert gone["type"].endswith("/session-deleted") and gone["current"]["deleted"] is True


# --- item 4: cursors are opaque, tamper-evident and bound to their patient ----------------

def test_a_cursor_is_bound_to_its_patient(world, now):
    put(world.patient_b, str(uuid.uuid4()), dict(
        {k: v for k, v in body(world).items() if k != "item_key"}, exercise="passive-standing"))
    b_cursor = feed(world.patient_b).get_json()["next_cursor"]
    a_cursor = feed(world.patient_a).get_json()["next_cursor"]
    wrong = assert_problem(feed(world.patient_a, since=b_cursor), 422)
    assert wrong["type"].endswith("/cursor-other-patient") and "since" in wrong["errors"]
    # The cursor is the patient's, not the reader's: the coordinator may continue it.
    assert feed(world.coord_a, since=a_cursor, ref=world.a_id).status_code == 200
    assert_problem(feed(world.coord_b, since=a_cursor, ref=world.b_id), 422)


def _flipped(cursor: str, at: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[at] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_a_tampered_or_crafted_cursor_is_a_422_never_a_500(world, now):
    cursor = feed(world.patient_a).get_json()["next_cursor"]
    old_format = base64.urlsafe_b64encode(f"{NOW.isoformat()}|{uuid.uuid4()}".encode()).decode()
    crafted = [_flipped(cursor, 20),  # the position: 1 bit
               _flipped(cursor, 5),   # the patient
               _flipped(cursor, 30),  # the MAC
               cursor[:-2], cursor + "AA", "garbage", "=", "%FF%FE", "%ED%A0%80", "%00",
               base64.urlsafe_b64encode(b"\x01" + uuid.UUID(world.a_id).bytes + b"\xff" * 24).decode(),
               old_format, "A" * 200]
    for since in crafted:
        problem = assert_problem(feed(world.patient_a, since=since), 422)
        assert problem["type"].endswith("/cursor-invalid"), since
    assert_problem(feed(world.patient_a, since="A" * 201), 422)
    assert feed(world.patient_a, since=cursor).status_code == 200


def test_a_cursor_ahead_of_the_feed_after_a_restore_is_a_422(world, now):
    cursor = feed(world.patient_a).get_json()["next_cursor"]
    db.session.execute(update(SessionFeed).values(position=0))  # as if restored from an older backup
    assert assert_problem(feed(world.patient_a, since=cursor), 422)["type"].endswith("/cursor-invalid")


# --- committing: real concurrency on the real database --------------------------------------

def _body(world, minutes_ago=30, **kw):
    started = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    return body(world, started_at=started.isoformat(), **kw)


def _send(app, method, url, headers, json=None, extra=None):
    response = getattr(app.test_client(), method)(url, json=json, headers={**headers, **(extra or {})})
    return response.status_code, response.get_json(silent=True)


class Follower:
    """A device that replays the feed into a local copy, checking that revisions only grow."""

    def __init__(self, app, headers, limit):
        self.app, self.headers, self.limit = app, headers, limit
        self.cursor, self.replica, self.calls = None, {}, 0

    def pull(self):
        while True:
            query = f"?limit={self.limit}" + (f"&since={self.cursor}" if self.cursor else "")
            status, page = _send(self.app, "get", f"{SESSIONS}/changes{query}", self.headers)
            assert status == 200, page
            self.calls += 1
            for item in page["items"]:
                known = self.replica.get(item["id"])
                assert known is None or item["revision"] > known["revision"], (known, item)
                self.replica[item["id"]] = item
            self.cursor = page["next_cursor"]
            if not page["has_more"]:
                return

    def state(self):
        return {sid: (s["revision"], s["deleted"], s["duration_minutes"]) for sid, s in self.replica.items()}


def _server_state(app):
    with app.app_context():
        rows = db.session.execute(select(ExerciseSession.id, ExerciseSession.revision, ExerciseSession.deleted_at,
                                         ExerciseSession.duration_minutes)).all()
        db.session.remove()
    return {str(i): (rev, deleted is not None, minutes) for i, rev, deleted, minutes in rows}


@pytest.fixture
def live(app):
    """A world whose writes commit for real (the conftest cleans up after the test)."""
    return World(app.test_client()).build()


def _is_postgres(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def _lock_waiters(app) -> int:
    with app.app_context(), db.engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND wait_event_type = 'Lock'"))


@pytest.mark.committing
def test_a_write_held_up_by_a_lock_still_reaches_the_follower(app, live):
    """Item 1: an edit, a delete and a 50-item batch wait on a lock; meanwhile a follower reads
    the feed (with the clock well past them). When they commit, the follower gets them all."""
    headers = live.patient_a.headers
    edited, deleted = str(uuid.uuid4()), str(uuid.uuid4())
    for sid in (edited, deleted):
        assert _send(app, "put", f"{SESSIONS}/{sid}", headers, _body(live))[0] == 201
    follower = Follower(app, headers, limit=20)
    follower.pull()
    batch = [dict(_body(live, minutes_ago=40 + i), id=str(uuid.uuid4())) for i in range(50)]
    postgres = _is_postgres(app)
    with app.app_context():
        holder = db.engine.raw_connection()
    cursor = holder.cursor()
    if postgres:  # a slow transaction holds the edited session's row
        cursor.execute("SELECT 1 FROM exercise_sessions WHERE id = %s FOR UPDATE", (uuid.UUID(edited),))
    else:  # another writer holds the database's write lock
        cursor.execute("BEGIN IMMEDIATE")
    results = {}

    def write(name, *args, **kw):
        results[name] = _send(app, *args, **kw)

    writers = [threading.Thread(target=write, args=a, kwargs=k) for a, k in (
        (("edit", "put", f"{SESSIONS}/{edited}", headers, _body(live, duration_minutes=55, base_revision=1)), {}),
        (("delete", "delete", f"{SESSIONS}/{deleted}", headers), {"extra": {"If-Match": '"1"'}}),
        (("batch", "post", f"{SESSIONS}/batch", headers, {"sessions": batch}), {}))]
    try:
        for waiting, thread in enumerate(writers, start=1):
            thread.start()  # one after the other, so the edit is first in the queue
            if postgres:
                for _ in range(500):
                    if _lock_waiters(app) >= waiting:
                        break
                    threading.Event().wait(0.02)
                assert _lock_waiters(app) == waiting
        if not postgres:
            threading.Event().wait(1.0)  # they wait in SQLite's busy handler (10 s)
        with time_machine.travel(datetime.now(timezone.utc) + timedelta(seconds=30)):
            follower.pull()  # the follower moves on while the writes are held up
        assert not results
    finally:
        holder.rollback()
        holder.close()
    for thread in writers:
        thread.join(timeout=60)
    assert results["edit"][0] == 200 and results["delete"][0] == 204 and results["batch"][0] == 200
    assert results["batch"][1]["counts"] == {"created": 50}
    follower.pull()
    assert follower.replica[edited]["revision"] == 2 and follower.replica[edited]["duration_minutes"] == 55
    assert follower.replica[deleted]["deleted"] is True
    assert {item["id"] for item in batch} <= set(follower.replica)
    assert follower.state() == _server_state(app)


@pytest.mark.committing
def test_simultaneous_edits_store_one_whole_body_and_the_other_gets_409(app, live):
    """Item 2: FES cycling from one device, a new standing angle from the other, at once,
    both made on revision 1: one is stored exactly as sent, the other answers 409."""
    headers, pairs = live.patient_a.headers, 10
    sids = [str(uuid.uuid4()) for _ in range(pairs)]
    for sid in sids:
        assert _send(app, "put", f"{SESSIONS}/{sid}", headers, _body(live))[0] == 201
    fes = {k: v for k, v in _body(live, base_revision=1).items() if k != "item_key"}
    fes.update(exercise="fes-cycling", measures={"cadence_rpm": 35})
    angle = _body(live, measures={"angle_degrees": 80}, base_revision=1)
    calls = [lambda sid=sid, b=b: _send(app, "put", f"{SESSIONS}/{sid}", live.caregiver_a.headers
                                        if b is fes else headers, b)
             for sid in sids for b in (fes, angle)]
    results = at_once(calls)
    for index, sid in enumerate(sids):
        pair = results[2 * index: 2 * index + 2]
        assert sorted(status for status, _ in pair) == [200, 409], pair
        (won, stored), (_lost, problem) = sorted(pair, key=lambda r: r[0])
        assert stored["revision"] == 2 and problem["current"] == stored
        assert problem["type"].endswith("/stale-revision")
        _status, now_stored = _send(app, "get", f"{SESSIONS}/{sid}", headers)
        assert now_stored == stored
        if stored["item_key"] is None:  # FES won: no standing angle merged in
            assert stored["measures"] == {"cadence_rpm": 35.0}
        else:
            assert stored["measures"] == {"angle_degrees": 80.0}


@pytest.mark.committing
def test_forty_concurrent_edits_get_forty_distinct_revisions(app, live):
    """Issue 13: 40 edits of one session at once, each with its own body, each made on the
    revision its device last saw and re-based on the current one after a 409 (as the app does)."""
    headers, writers = live.patient_a.headers, 40
    sid = str(uuid.uuid4())
    assert _send(app, "put", f"{SESSIONS}/{sid}", headers, _body(live))[0] == 201
    first_round = at_once([lambda i=i: _send(app, "put", f"{SESSIONS}/{sid}", headers,
                                              _body(live, duration_minutes=100 + i, base_revision=1))
                            for i in range(writers)])
    assert sorted(s for s, _ in first_round) == [200] + [409] * (writers - 1)
    acked = {}

    def edit_until_stored(i, base):
        for _ in range(200):
            status, out = _send(app, "put", f"{SESSIONS}/{sid}", headers,
                                _body(live, duration_minutes=150 + i, base_revision=base))
            if status == 200:
                acked[out["revision"]] = out["duration_minutes"]
                return
            assert status == 409 and out["type"].endswith("/stale-revision"), out
            base = out["current"]["revision"]
        raise AssertionError("never stored")

    at_once([lambda i=i: edit_until_stored(i, 2) for i in range(writers)])
    assert sorted(acked) == list(range(3, 3 + writers))  # no revision handed out twice
    assert sorted(acked.values()) == [150 + i for i in range(writers)]
    _status, final = _send(app, "get", f"{SESSIONS}/{sid}", headers)
    assert final["revision"] == 2 + writers and final["duration_minutes"] == acked[2 + writers]


@pytest.mark.committing
def test_batches_with_the_same_ids_in_opposite_orders_answer_every_item(app, live):
    """Issue 13: no deadlock, no 500; per id exactly one batch edits it, the other gets 409."""
    headers, n = live.patient_a.headers, 60
    items = [dict(_body(live, minutes_ago=30 + i), id=str(uuid.uuid4())) for i in range(n)]
    created = at_once([lambda order=order: _send(app, "post", f"{SESSIONS}/batch", headers,
                                                  {"sessions": items[::order]}) for order in (1, -1)])
    assert [status for status, _ in created] == [200, 200]
    by_id = [{r["id"]: r["status"] for r in out["results"]} for _, out in created]
    assert all(sorted((by_id[0][i["id"]], by_id[1][i["id"]])) == ["created", "unchanged"] for i in items)
    edits = [[dict(item, duration_minutes=minutes, base_revision=1) for item in items] for minutes in (61, 62)]
    answered = at_once([lambda e=edits[0]: _send(app, "post", f"{SESSIONS}/batch", headers, {"sessions": e}),
                         lambda e=edits[1][::-1]: _send(app, "post", f"{SESSIONS}/batch", live.caregiver_a.headers,
                                                        {"sessions": e})])
    assert [status for status, _ in answered] == [200, 200]
    results = [{r["id"]: r for r in out["results"]} for _, out in answered]
    state = _server_state(app)
    for item in items:
        pair = [results[0][item["id"]], results[1][item["id"]]]
        assert sorted(r["status"] for r in pair) == ["error", "updated"], pair
        winner = next(r for r in pair if r["status"] == "updated")
        loser = next(r for r in pair if r["status"] == "error")
        assert loser["problem"]["status"] == 409 and loser["problem"]["current"] == winner["session"]
        assert state[item["id"]] == (2, False, winner["session"]["duration_minutes"])


@pytest.mark.committing
def test_two_patients_batches_creating_the_same_new_ids_at_once_answer_every_item(app, live):
    """Two patients' devices (so no shared feed lock) create sessions with the same new ids at
    once, in opposite orders: per id one batch stores it and the other answers that item 409;
    neither batch fails as a whole (the insert skips a taken id, never raising IntegrityError)."""
    n = 30
    ids = [str(uuid.uuid4()) for _ in range(n)]
    a_items = [dict(_body(live, minutes_ago=30 + i), id=sid) for i, sid in enumerate(ids)]
    started = (datetime.now(timezone.utc) - timedelta(minutes=20)).isoformat()
    b_items = [{"id": sid, "exercise": "pressure-relief", "started_at": started, "duration_minutes": 5}
               for sid in reversed(ids)]
    answered = at_once([lambda: _send(app, "post", f"{SESSIONS}/batch", live.patient_a.headers, {"sessions": a_items}),
                        lambda: _send(app, "post", f"{SESSIONS}/batch", live.patient_b.headers, {"sessions": b_items})])
    assert [status for status, _ in answered] == [200, 200], answered
    results = [{r["id"]: r for r in out["results"]} for _, out in answered]
    for sid in ids:
        pair = [results[0][sid], results[1][sid]]
        assert sorted(r["status"] for r in pair) == ["created", "error"], pair
        assert next(r for r in pair if r["status"] == "error")["problem"]["status"] == 409


@pytest.mark.committing
def test_concurrent_writers_and_two_followers_lose_nothing(app, live):
    """Patient and caregiver devices create, edit, delete and batch at once while two followers
    replay the feed: every acknowledged write reaches both, and both end equal to the server."""
    writers, rounds = 6, 8
    acked, stop = [], threading.Event()
    followers = [Follower(app, live.patient_a.headers, 7), Follower(app, live.caregiver_a.headers, 100)]

    def writer(w):
        headers = (live.patient_a if w % 2 else live.caregiver_a).headers
        mine = {}
        for r in range(rounds):
            sid = str(uuid.uuid4())
            status, out = _send(app, "put", f"{SESSIONS}/{sid}", headers, _body(live, duration_minutes=10 + r))
            assert status == 201, out
            mine[sid] = out["revision"]
            acked.append((sid, out["revision"]))
            status, out = _send(app, "put", f"{SESSIONS}/{sid}", headers,
                                _body(live, duration_minutes=40 + r, base_revision=1))
            assert status == 200, out
            acked.append((sid, out["revision"]))
            if r % 3 == 0:
                assert _send(app, "delete", f"{SESSIONS}/{sid}", headers, extra={"If-Match": '"2"'})[0] == 204
                acked.append((sid, 3))
            batch = [dict(_body(live, minutes_ago=50 + r), id=str(uuid.uuid4())) for _ in range(5)]
            status, out = _send(app, "post", f"{SESSIONS}/batch", headers, {"sessions": batch})
            assert status == 200 and out["counts"] == {"created": 5}, out
            acked.extend((res["id"], res["session"]["revision"]) for res in out["results"])

    def follow(follower):
        while not stop.is_set():
            follower.pull()
            stop.wait(0.005)

    threads = [threading.Thread(target=follow, args=(f,)) for f in followers]
    for thread in threads:
        thread.start()
    try:
        at_once([lambda w=w: writer(w) for w in range(writers)])
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    server = _server_state(app)
    for follower in followers:
        follower.pull()
        misses = [(sid, rev) for sid, rev in acked
                  if sid not in follower.replica or follower.replica[sid]["revision"] < rev]
        assert misses == [] and follower.state() == server
    assert len(acked) == writers * rounds * 7 + writers * len(range(0, rounds, 3))
