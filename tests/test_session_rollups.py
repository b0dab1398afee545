"""The sessions' day rollups (app/sessions/rollups.py) say what the committed sessions say, after
every kind of write the app makes: a PUT of a plan item (on PostgreSQL the rollup rides in the
insert's statement), of an off-plan exercise, a batch, a resend, edits that move a session's
day, item, minutes or start, deletes, and a refused write; the texts' characters round-trip,
the database's ss_bump is the Python one, and DayCounts reads a Tally's answers from them."""
import random
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, literal, select

from app.adherence.day_counts import DayCounts
from app.adherence.metrics import LoggedSession, Tally
from app.extensions import db
from app.sessions import rollups
from app.sessions.models import SessionDayRollup
from app.sessions.rollups import BLOCK_DAYS, MOST, OFF_PLAN, code, ss_bump, value_of
from tests.plan_history import PatientHistory, local

START = date(2026, 3, 2)  # a Monday
ITEMS = [{"exercise": "passive-standing", "minutes": 45, "sessions_per_week": 5},
         {"exercise": "fes-cycling", "minutes": 30, "days_of_week": ["mon", "wed", "fri"]}]


def _as_set(rows):
    return {(r["patient_id"], r["item_key"], r["block"], r["counts"], r["minutes"],
             r["last_started_at"].replace(tzinfo=timezone.utc) if r["last_started_at"] and r["last_started_at"].tzinfo is None
             else r["last_started_at"]) for r in rows}


def assert_rollups_match_sessions(app, patient_ids=None):
    with app.app_context():
        connection = db.session.connection()
        stored, recounted = rollups.stored_rows(connection, patient_ids), rollups.recount_rows(connection, patient_ids)
        db.session.rollback()
    assert _as_set(stored) == _as_set(recounted)
    return recounted


def _edit(h, session_id, **changes):
    url = f"{h.url}/sessions/{session_id}"
    stored = h.patient.get(url)
    found = stored.get_json()
    body = {k: found[k] for k in ("started_at", "duration_minutes")}
    body |= {"item_key": found["item_key"]} if found["item_key"] else {"exercise": found["exercise_id"]}
    body |= changes
    response = h.patient.put(url, json=body, headers={"If-Match": stored.headers["ETag"]})
    assert response.status_code == 200, response.get_json()


def test_every_write_keeps_the_rollups_as_a_recount_of_the_sessions(client, world, app):
    tz = "America/Los_Angeles"
    h = PatientHistory(client, world, tz, ITEMS, START)
    day = START + timedelta(days=20)
    with h.on(day, 20):
        one = h.log(local(day, 9, 0, tz), 0, 40)                                  # a plan item's PUT
        assert_rollups_match_sessions(app)
        h.log(local(day, 18, 0, tz), 0, 25)                                       # two the same day
        off = h.log(local(day - timedelta(days=1), 9, 0, tz), "upper-body-exercise", 15)  # off plan
        assert_rollups_match_sessions(app)
        resent = h.patient.put(f"{h.url}/sessions/{one}", json=h.body(local(day, 9, 0, tz), 0, 40))
        assert resent.status_code == 200                                          # a resend: no change
        refused = h.patient.put(f"{h.url}/sessions/{uuid.uuid4()}", json=h.body(local(day, 9, 0, tz), 0, 0))
        assert refused.status_code == 422
        rows = assert_rollups_match_sessions(app, [uuid.UUID(h.profile["id"])])
        (item_row,) = [r for r in rows if r["item_key"] == uuid.UUID(h.keys[0])]
        index = day.toordinal() % BLOCK_DAYS
        assert value_of(item_row["counts"][index]) == 2 and value_of(item_row["minutes"][index]) == 65
        assert [r["item_key"] for r in rows].count(OFF_PLAN) == 1
        ids = h.batch([h.body(local(day - timedelta(days=k), 7, 0, tz), k % 2, 10 + k) for k in range(1, 6)])
        assert_rollups_match_sessions(app)
        _edit(h, one, duration_minutes=55)                                        # minutes
        assert_rollups_match_sessions(app)
        _edit(h, one, item_key=h.keys[1])                                         # item
        assert_rollups_match_sessions(app)
        _edit(h, ids[0], started_at=local(day - timedelta(days=1), 6, 0, tz).isoformat())  # day and start
        assert_rollups_match_sessions(app)
        _edit(h, off, duration_minutes=20)                                        # off plan, minutes
        h.delete(one)
        h.delete(ids[1])
        rows = assert_rollups_match_sessions(app, [uuid.UUID(h.profile["id"])])
    assert sum(value_of(c) for r in rows for c in r["counts"]) == 6  # 2 + 1 + 5 - 2 deleted


def test_a_batch_of_many_days_across_a_block_boundary(client, world, app):
    tz = "Asia/Shanghai"
    boundary = date.fromordinal((START.toordinal() // BLOCK_DAYS + 1) * BLOCK_DAYS)
    start = boundary - timedelta(days=10)
    h = PatientHistory(client, world, tz, ITEMS, start)
    rng = random.Random(3)
    with h.on(boundary + timedelta(days=8), 22):
        bodies = [h.body(local(start + timedelta(days=d), rng.randint(6, 20), 0, tz), rng.choice([0, 1, "upper-body-exercise"]),
                      rng.randint(1, 300)) for d in range(18) for _ in range(rng.randint(0, 3))]
        ids = h.batch(bodies)
        recent = [i for i, body in zip(ids, bodies) if body["started_at"] >= local(boundary + timedelta(days=6), 0, 0, tz).isoformat()]
        for session_id in rng.sample(recent, min(3, len(recent))):
            h.delete(session_id)
    rows = assert_rollups_match_sessions(app, [uuid.UUID(h.profile["id"])])
    assert {r["block"] for r in rows} == {boundary.toordinal() // BLOCK_DAYS - 1, boundary.toordinal() // BLOCK_DAYS}


def test_the_migration_counts_the_sessions_already_stored(client, world, app):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "migrations" / "versions" / "0b7d5e3c9a41_session_day_rollups.py"
    spec = importlib.util.spec_from_file_location("rollups_migration", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    h = PatientHistory(client, world, "Europe/London", ITEMS, START)
    day = START + timedelta(days=9)
    with h.on(day, 21):
        h.batch([h.body(local(day - timedelta(days=k), 8, 0, "Europe/London"), k % 2, 30) for k in range(7)])
        h.log(local(day, 10, 0, "Europe/London"), "upper-body-exercise", 20)
        h.delete(h.log(local(day, 9, 0, "Europe/London"), 0, 20))
    with app.app_context():
        connection = db.session.connection()
        before = _as_set(rollups.stored_rows(connection))
        connection.execute(SessionDayRollup.__table__.delete())
        migration.backfill(connection)
        after = _as_set(rollups.stored_rows(connection))
        db.session.rollback()
    assert after == before and before


@pytest.mark.parametrize("value", [0, 1, 2, 79, 80, 300, 55247, 55248, 55249, 60000, MOST])
def test_a_days_character_stands_for_its_value(value):
    assert value_of(code(value)) == value
    assert not 0xD800 <= ord(code(value)) < 0xE000


@pytest.mark.parametrize("start, delta", [(0, 1), (0, 300), (5, -1), (1, -5), (55247, 1), (55248, -1),
                                          (55200, 300), (MOST - 1, 300), (3, 55300)])
def test_the_databases_ss_bump_is_pythons(app, start, delta):
    days = code(7) + code(start) + code(9)
    expected = ss_bump(days, 1, delta)
    assert value_of(expected[1]) == min(max(start + delta, 0), MOST) and expected[0] + expected[2] == code(7) + code(9)
    with app.app_context():
        assert db.session.scalar(select(func.ss_bump(literal(days), 1, delta))) == expected


def _random_sessions(rng, first: date, days: int, keys: list) -> list[LoggedSession]:
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return [LoggedSession(rng.choice(keys), first + timedelta(days=rng.randrange(days)), rng.randint(1, 300), moment)
            for _ in range(rng.randint(0, 120))]


def _blocks(sessions) -> dict:
    """{item_key: [(block, counts, minutes)]} as the rollups store them."""
    found: dict = {}
    for s in sessions:
        block, index = rollups.place(s.local_date)
        item = found.setdefault(s.item_key or OFF_PLAN, {}).setdefault(block, ([0] * BLOCK_DAYS, [0] * BLOCK_DAYS))
        item[0][index] += 1
        item[1][index] += s.minutes
    return {key: [(b, "".join(map(code, c)), "".join(map(code, m))) for b, (c, m) in blocks.items()]
            for key, blocks in found.items()}


def test_day_counts_read_what_a_tally_of_the_sessions_reads():
    rng = random.Random(14)
    keys = [uuid.uuid4(), uuid.uuid4(), None]
    for _ in range(300):
        first = date(2026, 1, 1) + timedelta(days=rng.randrange(400))
        sessions = _random_sessions(rng, first, rng.randint(1, 300), keys)
        if rng.random() < 0.05:  # a day of many sessions of one item (past ASCII's 79)
            sessions += [LoggedSession(keys[0], first, 300, sessions[0].started_at if sessions else None)] * 90
        if not sessions:
            continue
        low = min(s.local_date for s in sessions) + timedelta(days=rng.randint(-20, 40))
        high = max(s.local_date for s in sessions) - timedelta(days=rng.randint(-5, 30))
        if high < low:
            continue
        inside = [s for s in sessions if low <= s.local_date <= high]
        counts = DayCounts(_blocks(sessions), low.toordinal(), high.toordinal())
        tally = Tally(inside, base=low.toordinal())
        assert counts.levels == {k: v for k, v in tally.levels.items() if v}
        for _window in range(5):
            a = low + timedelta(days=rng.randint(-3, (high - low).days))
            b = a + timedelta(days=rng.randint(0, 120))
            b = min(b, high)
            if b < a:
                continue
            assert counts.sessions_within(a, b) == tally.sessions_within(a, b)
            assert counts.days_within(a, b) == tally.days_within(a, b)
            for key in [*keys[:2], None]:
                assert counts.minutes_within(a, b, key) == tally.minutes_within(a, b, key)
        unbounded = DayCounts(_blocks(inside), None, high.toordinal()) if inside else None
        if unbounded is not None:
            assert unbounded.by_item == Tally(inside).by_item


def test_the_recount_command_finds_and_mends_rollups_changed_by_hand(client, world, app):
    h = PatientHistory(client, world, "Europe/Paris", ITEMS, START)
    day = START + timedelta(days=5)
    with h.on(day, 21):
        h.log(local(day, 9, 0, "Europe/Paris"), 0, 30)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["sessions", "recount-rollups", "--check"]).exit_code == 0
    with app.app_context():
        db.session.execute(SessionDayRollup.__table__.update().values(counts=code(0) * BLOCK_DAYS))
        db.session.commit()
    checked = runner.invoke(args=["sessions", "recount-rollups", "--check"])
    assert checked.exit_code == 1 and int(checked.output.split()[0]) >= 1, checked.output
    assert runner.invoke(args=["sessions", "recount-rollups"]).exit_code == 0
    assert_rollups_match_sessions(app)


def test_adherence_of_many_patients_says_the_last_session_the_one_patient_read_says(client, world, app):
    """A block's latest start is the latest of all its days: a session dated after today (logged
    just before midnight, starting within the five minutes ahead allowed) or, after a move of time
    zone, one on an earlier day that started later, is not the last session of the days read."""
    from app.adherence.service import adherence_many

    tz = "Europe/London"
    h = PatientHistory(client, world, tz, ITEMS, START)
    day = START + timedelta(days=10)
    with h.on(day, 23, 57):
        h.log(local(day, 9, 0, tz), 0, 30)
        h.log(local(day + timedelta(days=1), 0, 1, tz), 0, 30)  # four minutes ahead: tomorrow's date
        one = h.patient.get(f"{h.url}/adherence?window=7").get_json()
        with app.app_context():
            many = adherence_many([uuid.UUID(h.profile["id"])], 7)[uuid.UUID(h.profile["id"])]
    assert one["last_session_at"] == local(day, 9, 0, tz).isoformat().replace("+00:00", "Z")
    assert many["last_session_at"].isoformat().replace("+00:00", "Z") == one["last_session_at"]


def test_the_recount_check_finds_a_latest_start_changed_by_hand(client, world, app):
    h = PatientHistory(client, world, "Europe/Paris", ITEMS, START)
    day = START + timedelta(days=5)
    with h.on(day, 21):
        h.log(local(day, 9, 0, "Europe/Paris"), 0, 30)
    with app.app_context():
        db.session.execute(SessionDayRollup.__table__.update().values(
            last_started_at=datetime(2020, 1, 1, tzinfo=timezone.utc)))
        db.session.commit()
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["sessions", "recount-rollups", "--check"])
    assert checked.exit_code == 1, checked.output
    assert runner.invoke(args=["sessions", "recount-rollups"]).exit_code == 0
    assert_rollups_match_sessions(app)
