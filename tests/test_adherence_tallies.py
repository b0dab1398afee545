"""The batch read of logged sessions (app/adherence/loading.tallies: the sessions' day rollups, a
few rows per patient and plan item, read by day_counts.DayCounts) against the one-patient read
(streaks.load_one: one row per session), for patients with sessions of several items and off
plan, logged out of order over weeks, some deleted."""
import random
import uuid
from datetime import date, timedelta

from app.adherence import loading, streaks
from tests.plan_history import PatientHistory, local

START = date(2026, 3, 2)  # a Monday
READ_ON = START + timedelta(days=27)
ITEMS = [{"exercise": "passive-standing", "minutes": 45, "sessions_per_week": 5},
         {"exercise": "fes-cycling", "minutes": 30, "days_of_week": ["mon", "wed", "fri"]},
         {"exercise": "passive-range-of-motion", "minutes": 15, "days_of_week": ["tue", "thu", "sat", "sun"]}]


def _history(client, world, tz: str, seed: int, keys=(0, 1, 2, "upper-body-exercise")) -> PatientHistory:
    rng = random.Random(seed)
    h = PatientHistory(client, world, tz, ITEMS, START)
    bodies = []
    for offset in rng.sample(range(27), 27):  # logged in no date order
        day = START + timedelta(days=offset)
        for key in rng.sample(list(keys), rng.randint(0, len(keys))):
            for hour in rng.sample([7, 12, 18], rng.choice([1, 1, 2])):  # sometimes two the same day
                bodies.append(h.body(local(day, hour, rng.randint(0, 59), tz), key, rng.randint(5, 90)))
    with h.on(READ_ON - timedelta(days=1), 20):
        ids = h.batch(bodies)
        editable_from = local(READ_ON - timedelta(days=2), 0, 0, tz).isoformat()  # (the edit window)
        recent = [i for i, body in zip(ids, bodies) if body["started_at"] >= editable_from]
        for session_id in rng.sample(recent, min(2, len(recent))):
            h.delete(session_id)
    return h


def _figures(tally) -> dict:
    """What adherence reads of a Tally: per item, sessions by day and minutes; overall, sessions,
    minutes and days with data, over the whole read and over each week."""
    first, last = START, READ_ON
    weeks = [(first + timedelta(days=7 * k), first + timedelta(days=7 * k + 6)) for k in range(4)]
    return {
        "by_item": {key: dict(days) for key, days in tally.by_item.items()},
        "item_minutes": {key: [tally.minutes_within(a, b, key) for a, b in [(first, last), *weeks]]
                         for key in tally.by_item},
        "sessions": [tally.sessions_within(a, b) for a, b in [(first, last), *weeks]],
        "minutes": [tally.minutes_within(a, b) for a, b in [(first, last), *weeks]],
        "days": [tally.days_within(a, b) for a, b in [(first, last), *weeks]],
    }


def test_the_packed_batch_read_counts_what_the_row_by_row_read_counts(client, world):
    histories = [_history(client, world, tz, seed)
                 for seed, tz in enumerate(["Asia/Shanghai", "America/Los_Angeles", "Pacific/Kiritimati"])]
    ids = [uuid.UUID(h.profile["id"]) for h in histories]
    with client.application.app_context():
        batch, latest = loading.tallies(ids, START, READ_ON)
        for h, patient_id in zip(histories, ids):
            one = streaks.load_one(patient_id, READ_ON, START)
            row_by_row = one.tallies[patient_id]
            assert _figures(batch[patient_id]) == _figures(row_by_row)
            assert latest[patient_id] == one.last_session_at[patient_id]
            # Three items and off-plan sessions, with a day of two sessions of one item: each
            # item's own rows and the day counts above one are what is tested, not an easy case.
            assert len(batch[patient_id].by_item) == 3
            assert any(n > 1 for days in batch[patient_id].by_item.values() for n in days.values())
            assert batch[patient_id].sessions_within(START, READ_ON) > sum(
                sum(days.values()) for days in batch[patient_id].by_item.values())
        # The same read with no lower bound (the streak's older sessions) gives the same here.
        unbounded = loading.tallies(ids, None, READ_ON)[0]
        assert [_figures(unbounded[p]) for p in ids] == [_figures(batch[p]) for p in ids]


def test_a_patient_of_one_item_alone_is_read_as_row_by_row(client, world):
    """Every session of one plan item, none off plan: the read's one-group branch."""
    h = _history(client, world, "Europe/London", 7, keys=(0,))
    patient_id = uuid.UUID(h.profile["id"])
    with client.application.app_context():
        batch = loading.tallies([patient_id], START, READ_ON)[0][patient_id]
        one = streaks.load_one(patient_id, READ_ON, START).tallies[patient_id]
        assert _figures(batch) == _figures(one)
        assert len(batch.by_item) == 1 and batch.sessions_within(START, READ_ON) > 10
