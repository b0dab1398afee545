"""Settled weeks stored once (app/adherence/weeks.py): every window counts the same with them as
without, on the days they hold and across their edges; a write on a settled day, or new counting
rules, are never read through stale weeks. Europe/London, spring 2026 (Mondays 2 Mar ... 25 May)."""
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select

from app.adherence import streaks
from app.adherence.models import AdherenceWeek, StreakCheckpoint
from app.adherence.service import adherence_many, history_many, window_metrics
from app.adherence.weeks import settle
from app.extensions import db
from tests.plan_history import PatientHistory, local
from tests.test_adherence import QueryCounter

LONDON = "Europe/London"
MON_2 = date(2026, 3, 2)
READ_DAY = date(2026, 5, 22)  # a Friday: 30-day backfill, so the weeks through Sun 12 Apr are settled
DAY = timedelta(days=1)

STANDING = {"exercise": "passive-standing", "minutes": 40, "sessions_per_week": 3}
FES = {"exercise": "fes-cycling", "minutes": 30, "days_of_week": ["mon", "wed", "fri"]}


def d(day: int, month: int = 3) -> date:
    return date(2026, month, day)


def _history(client, world) -> PatientHistory:
    """Twelve weeks: sessions most days, a few missed, a mid-week pause (with a session logged in
    it, for an item then not in force), an off-plan session, a second standing on one day, a new
    dose from a Wednesday."""
    h = PatientHistory(client, world, LONDON, [STANDING, FES], MON_2)
    day, skipped = MON_2, {d(11), d(19), d(26), d(2, 4), d(15, 4)}
    while day <= READ_DAY:
        chunk = [day + timedelta(days=i) for i in range(20) if day + timedelta(days=i) <= READ_DAY]
        with h.on(chunk[-1], 21):
            bodies = []
            for c in chunk:
                if c in skipped:
                    continue
                if c.weekday() in (1, 3, 5):
                    bodies.append(h.body(local(c, 9, 0, LONDON), key=0, minutes=40))
                if c.weekday() in (0, 2, 4):
                    bodies.append(h.body(local(c, 17, 0, LONDON), key=1, minutes=30))
                if c == d(17):
                    bodies.append(h.body(local(c, 19, 0, LONDON), key=0, minutes=20))
                if c == d(24):
                    bodies.append(h.body(local(c, 11, 0, LONDON), key="passive-range-of-motion", minutes=15))
            h.batch(bodies)
        day = chunk[-1] + DAY
    with h.on(d(24, 3), 8):  # Tuesday: paused Wed 25 Mar to Tue 7 Apr
        h.pause(d(25))
    with h.on(d(8, 4), 7):
        h.resume(d(8, 4))
    return h


def _windows(today: date) -> list[tuple[date, date]]:
    """Windows ending today (the endpoint's and the caseload's), past ones (the sweep's, the
    console's weeks), and ones cutting stored weeks at either end or inside one week."""
    return [(today - 89 * DAY, today), (today - 29 * DAY, today), (today - 6 * DAY, today),
            (today - 35 * DAY, today - 29 * DAY), (d(4), d(20)), (d(2), d(12, 4)), (d(10), d(11)),
            (d(18), d(1, 4)), (d(5), today - DAY), (d(23), d(29))]


def _read(app, ids, now) -> tuple[dict, dict, int]:
    with app.app_context():
        todays, history = history_many(ids, now, 95)
        figures = {(pid, w): window_metrics(history, pid, w[0], w[1], todays[pid])
                   for pid in ids for w in _windows(todays[pid])}
        used = {pid: history.weeks.get(pid) is not None for pid in ids}
        with QueryCounter(db.engine) as counter:
            many = adherence_many(ids, 90)
        return figures | {("many", pid): many[pid] for pid in ids}, used, counter.count


@pytest.fixture
def patients(client, world):
    return [_history(client, world), PatientHistory(client, world, "Asia/Shanghai", [FES], d(16))]


def test_stored_weeks_count_as_the_sessions_do(app, patients):
    ids = [uuid.UUID(p.profile["id"]) for p in patients]
    now = local(READ_DAY, 22, 0, LONDON)
    with patients[0].moment(now):
        live, used, live_queries = _read(app, ids, now)
        assert not any(used.values())
        with app.app_context():
            written = settle(now)
            assert written["patients"] >= 2 and written["weeks"] >= 6
            assert settle(now) == {"patients": 0, "weeks": 0}  # nothing new to settle
            assert db.session.scalar(select(StreakCheckpoint.weeks_through).where(
                StreakCheckpoint.patient_id == ids[0])) == d(12, 4)
        stored, used, stored_queries = _read(app, ids, now)
    assert used == {ids[0]: True, ids[1]: True}
    assert stored == live
    assert stored_queries == live_queries
    assert live[(ids[0], (d(2), d(12, 4)))]["sessions_logged"] > 30  # the figures are not all zero


def test_a_write_on_a_stored_week_is_never_read_through_it(app, patients):
    """Widen the backfill window and log a day of a stored week: the weeks from that one on are
    no longer trusted (weeks_through moves back before it) until settle counts them again."""
    h = patients[0]
    ids = [uuid.UUID(p.profile["id"]) for p in patients]
    now = local(READ_DAY, 22, 0, LONDON)
    with h.moment(now), app.app_context():
        settle(now)
    saved = app.config["SESSION_BACKFILL_DAYS"]
    app.config["SESSION_BACKFILL_DAYS"] = 90
    try:
        with h.moment(now):
            h.log(local(d(26), 9, 0, LONDON), key=0, minutes=45)  # Thu 26 Mar, in the week of the 23rd
        with app.app_context():
            through = db.session.scalar(select(StreakCheckpoint.weeks_through).where(StreakCheckpoint.patient_id == ids[0]))
        assert through is None or through < d(23)
        app.config["SESSION_BACKFILL_DAYS"] = saved
        with h.moment(now):
            after_write, _used, _q = _read(app, ids, now)
            with app.app_context():
                db.session.execute(delete(AdherenceWeek))
                db.session.execute(delete(StreakCheckpoint))
                db.session.commit()
            live, _used, _q = _read(app, ids, now)
            assert after_write == live
            with app.app_context():
                settle(now)
            again, used, _q = _read(app, ids, now)
        assert used[ids[0]] and again == live
        assert live[(ids[0], (d(23), d(29)))]["logged_minutes"] == after_write[(ids[0], (d(23), d(29)))]["logged_minutes"]
    finally:
        app.config["SESSION_BACKFILL_DAYS"] = saved


def test_new_counting_rules_leave_the_stored_weeks_unread_until_counted_again(app, patients, monkeypatch):
    ids = [uuid.UUID(p.profile["id"]) for p in patients]
    now = local(READ_DAY, 22, 0, LONDON)
    with patients[0].moment(now):
        with app.app_context():
            settle(now)
        before, used, _q = _read(app, ids, now)
        assert all(used.values())
        monkeypatch.setattr(streaks, "RULES_VERSION", streaks.RULES_VERSION + 1)
        unread, used, _q = _read(app, ids, now)
        assert not any(used.values()) and unread == before
        with app.app_context():
            assert settle(now, ids)["patients"] == 2
        recounted, used, _q = _read(app, ids, now)
        assert all(used.values()) and recounted == before


def test_the_scheduler_and_the_cli_settle_the_weeks(app, patients):
    from app.scheduler import registered_jobs

    assert "adherence.settle" in registered_jobs(app)
    now = local(READ_DAY, 22, 0, LONDON)
    with patients[0].moment(now):
        result = app.test_cli_runner().invoke(args=["adherence", "settle"])
    assert result.exit_code == 0, result.output
    assert "'patients': 4" in result.output  # the two and the World's two
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(AdherenceWeek)) >= 6


def test_a_patient_without_plans_or_sessions_settles_to_nothing(app, world):
    from tests.factories import enrolled_patient

    _login, profile = enrolled_patient(app.test_client(), world.coord_a)
    pid = uuid.UUID(profile["id"])
    with app.app_context():
        settle(datetime.now(timezone.utc), [pid])
        assert adherence_many([pid], 90)[pid]["expected_sessions"] == 0
        assert db.session.scalar(select(db.func.count()).select_from(AdherenceWeek)) == 0
