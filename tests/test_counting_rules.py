"""The counting rules (app/plans/schedule.py) on the cases of issue 16, numbers by hand.

Europe/London, March 2026 unless said: Mondays 2, 9, 16, 23; GMT (local = UTC) until Sun 29.
A stretch of an N-per-week item plans N x days / 7, rounded half up: 3 a week over 2 days
plans (6 + 3.5) // 7 = 1, 5 a week over 3 days plans 2.
"""
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import delete

from app.adherence.models import StreakCheckpoint
from app.adherence.service import adherence_many
from app.common.types import utc_timestamp
from app.extensions import db
from app.sessions.content import weekly_messages
from tests.plan_history import EVERY_DAY, PatientHistory, local
from tests.test_adherence import QueryCounter

LONDON = "Europe/London"
MON_2 = date(2026, 3, 2)


def d(day: int, month: int = 3) -> date:
    return date(2026, month, day)


def at10(day: date, tz=LONDON):
    return local(day, 10, 0, tz)


def standing(per_week: int, minutes: int = 60) -> dict:
    return {"exercise": "passive-standing", "minutes": minutes, "sessions_per_week": per_week}


def test_a_pause_in_the_current_week_removes_its_days(client, world):
    """Issue 16.1: 3/week, done every week, nothing Mon 16 or Tue 17, an open pause from Wed 18."""
    h = PatientHistory(client, world, LONDON, [standing(3)], MON_2)
    with h.on(d(14), 18):
        for day in (3, 5, 7, 10, 12, 14):  # Tue, Thu, Sat of both weeks
            h.log(at10(d(day)), minutes=60)
    with h.on(d(18), 8):
        h.pause(d(18))
    with h.on(d(20)):  # Friday
        seven = h.adherence("window=7")
        week = h.weekly()
    # Sat 14-Sun 15 of the week of the 9th plan 1 (done Sat); Mon 16-Tue 17 plan 1, none done.
    assert (seven["expected_sessions"], seven["completed_sessions"], seven["adherent"]) == (2, 1, False)
    assert seven["prescribed_minutes"] == 120
    assert (week["planned_sessions"], week["week_planned_sessions"], week["completed_sessions"]) == (1, 1, 0)
    assert week["message"] == weekly_messages()["by_rate"][-1]["en"]
    assert seven["current_streak_days"] == 6  # the six sessions; rest and paused days pass
    with h.on(d(22)):  # Sunday: the same facts, the same figures
        assert (h.weekly()["planned_sessions"], h.weekly()["completed_sessions"]) == (1, 0)
        seven = h.adherence("window=7")
        assert (seven["expected_sessions"], seven["completed_sessions"]) == (1, 0)
    with h.on(d(23)):  # the week of the 16th is over, its one session missed: the streak breaks
        assert h.adherence("window=7")["current_streak_days"] == 0


def test_an_end_in_the_current_week_removes_its_days(client, world):
    h = PatientHistory(client, world, LONDON, [standing(5)], MON_2)
    with h.on(d(11), 8):  # Wednesday: the last day is Tuesday
        h.end(d(11))
        assert h.agenda(d(10))["items"][0]["planned_this_week"] == 1  # 5 x 2 / 7
        assert h.agenda(d(11))["items"] == []
    with h.on(d(13)):
        week = h.weekly()
        seven = h.adherence("window=7")
    assert (week["planned_sessions"], week["week_planned_sessions"]) == (1, 1)
    # Sat 7-Sun 8 plan 5 x 2 / 7 = 1, Mon 9-Tue 10 plan 1.
    assert (seven["expected_sessions"], seven["completed_sessions"]) == (2, 0)


def test_prescribed_minutes_follow_each_weeks_dose(client, world):
    """Issue 16.2: 2/week at 60 min, 10 min from Mon 16, all done: 260 prescribed, 260 logged."""
    h = PatientHistory(client, world, LONDON, [standing(2, 60)], MON_2)
    with h.on(d(13)):
        for day in (2, 5, 9, 12):
            h.log(at10(d(day)), minutes=60)
    with h.on(d(15)):
        h.version(d(16), [{"item_key": h.keys[0], **standing(2, 10)}])
    with h.on(d(22), 20):
        h.log(at10(d(16)), minutes=10)
        h.log(at10(d(19)), minutes=10)
        thirty = h.adherence("window=30")
    assert (thirty["prescribed_minutes"], thirty["logged_minutes"]) == (2 * 60 + 2 * 60 + 2 * 10, 260)
    assert (thirty["expected_sessions"], thirty["completed_sessions"]) == (6, 6)


def test_a_mid_week_change_of_n_prorates_each_dose_by_its_days(client, world):
    """Issue 16.3: 2/week done Mon and Thu; 7/week from Sat 14, done Sat and Sun."""
    h = PatientHistory(client, world, LONDON, [standing(2, 30)], MON_2)
    with h.on(d(13)):
        for day in (2, 5, 9, 12):
            h.log(at10(d(day)))
        h.version(d(14), [{"item_key": h.keys[0], **standing(7, 30)}])
    with h.on(d(15), 20):
        h.log(at10(d(14)))
        h.log(at10(d(15)))
        week = h.weekly()
        thirty = h.adherence("window=30")
        saturday = h.agenda(d(14))["items"][0]
        thursday = h.agenda(d(12))["items"][0]
    # Mon-Fri at 2/week: 2 x 5 / 7 = 1 (two done, one counts); Sat-Sun at 7/week: 2, both done.
    assert (week["planned_sessions"], week["completed_sessions"], week["session_rate"]) == (3, 3, 1.0)
    assert week["message"] == weekly_messages()["by_rate"][0]["en"]
    assert (thirty["expected_sessions"], thirty["completed_sessions"], thirty["adherent"]) == (5, 5, True)
    assert (thirty["prescribed_minutes"], thirty["logged_minutes"]) == (5 * 30, 6 * 30)
    assert (saturday["sessions_per_week"], saturday["planned_this_week"], saturday["done_this_week"]) == (7, 2, 1)
    assert (thursday["sessions_per_week"], thursday["planned_this_week"], thursday["done_this_week"]) == (2, 1, 1)


def test_nothing_due_yet_is_not_nothing_planned(client, world):
    """Issue 16.4: Shanghai, zh-CN, 3/week, read on a Tuesday morning."""
    tz = "Asia/Shanghai"
    h = PatientHistory(client, world, tz, [standing(3)], d(9), language="zh-CN")
    with h.on(d(10), 8):
        week = h.weekly(lang="zh-CN")  # the coordinator reads in their own language (English) unless asking
        item = h.agenda()["items"][0]
    assert (week["planned_sessions"], week["week_planned_sessions"], week["session_rate"]) == (0, 3, None)
    assert week["message"] == "本周计划训练3次，接下来的几天都来得及完成。"
    assert week["message"] != weekly_messages()["none_planned"]["zh-CN"]
    assert (item["planned_this_week"], item["done_this_week"], item["remaining_this_week"]) == (3, 0, 3)


@pytest.mark.parametrize("weekday, planned", list(enumerate([5, 4, 4, 3, 2, 1, 1])))
def test_agenda_and_weekly_summary_agree_for_a_plan_starting_on_each_day(client, world, weekday, planned):
    """Issue 8 (one counting rule): 5/week from each day of the week of Mon 9 plans 5 x days / 7."""
    start = d(9) + timedelta(days=weekday)
    h = PatientHistory(client, world, LONDON, [standing(5)], start)
    with h.on(start, 8):
        first = h.agenda()["items"][0]
        assert (first["planned_this_week"], first["done_this_week"], first["remaining_this_week"]) == (planned, 0, planned)
        h.log(at10(start) - timedelta(hours=2))
    with h.on(d(15), 20):  # Sunday evening: one session, on the first day
        week = h.weekly()
        sunday = h.agenda()["items"][0]
        seven = h.adherence("window=7")
    assert (week["planned_sessions"], week["week_planned_sessions"], week["completed_sessions"]) == (planned, planned, 1)
    assert (sunday["planned_this_week"], sunday["done_this_week"], sunday["remaining_this_week"]) == (planned, 1, planned - 1)
    assert (seven["expected_sessions"], seven["completed_sessions"]) == (planned, 1)


def test_a_past_window_ending_mid_week_counts_only_its_own_days(client, world):
    """Decided: 5/week, week 1 done, week 2 done Monday only; from=2 to=11 March."""
    h = PatientHistory(client, world, LONDON, [standing(5)], MON_2)
    with h.on(d(9), 20):
        for day in (2, 3, 4, 5, 6, 9):
            h.log(at10(d(day)))
    with h.on(d(11), 20):  # read on Wednesday the 11th itself: this week's pace (5 - 4 days left = 1)
        today = h.adherence("from=2026-03-02&to=2026-03-11")
    with h.on(d(15)):  # read later: Mon 9-Wed 11 plan 5 x 3 / 7 = 2
        later = h.adherence("from=2026-03-02&to=2026-03-11")
        tuesday = h.adherence("from=2026-03-02&to=2026-03-10")  # 5 x 2 / 7 = 1
    assert (today["expected_sessions"], today["completed_sessions"]) == (6, 6)
    assert (later["expected_sessions"], later["completed_sessions"]) == (7, 6)
    assert (tuesday["expected_sessions"], tuesday["completed_sessions"]) == (6, 6)
    with h.on(d(12)):  # a window ending after today counts up to today: 5 - 3 days left = 2 due
        clipped = h.adherence("from=2026-03-09&to=2026-03-31")
    assert clipped["to"] == "2026-03-12" and (clipped["expected_sessions"], clipped["completed_sessions"]) == (2, 1)


def test_done_this_week_means_up_to_that_date_in_both_agendas(client, world):
    """Decided: 3/week, done Mon 9, Tue 10, Wed 11; read on Friday the 13th."""
    h = PatientHistory(client, world, LONDON, [standing(3)], MON_2)
    with h.on(d(13)):
        for day in (9, 10, 11):
            h.log(at10(d(day)))
        monday = h.agenda(d(9))["items"][0]
        week = h.agenda_week(d(9))["days"]
    counts = [(day["items"][0]["done_this_week"], day["items"][0]["remaining_this_week"]) for day in week]
    assert (monday["done_this_week"], monday["remaining_this_week"]) == (1, 2)
    assert counts == [(1, 2), (2, 1), (3, 0), (3, 0), (3, 0), (3, 0), (3, 0)]


def test_eight_or_more_a_week_count_two_a_day(client, world):
    h = PatientHistory(client, world, LONDON, [standing(10, 20)], MON_2)
    with h.on(d(4), 20):
        for hour in (8, 12, 18):
            h.log(local(d(2), hour, 0, LONDON), minutes=20)  # Monday: three, two count
        h.log(at10(d(3)), minutes=20)
        item = h.agenda()["items"][0]
    assert (item["planned_this_week"], item["done_this_week"], item["remaining_this_week"]) == (10, 3, 7)
    with h.on(d(8), 20):
        week = h.weekly(d(2))
    assert (week["planned_sessions"], week["completed_sessions"], week["prescribed_minutes"]) == (10, 3, 200)


def _log_daily(h: PatientHistory, first: date, last: date) -> None:
    """One session a day, synced as offline batches of at most four weeks."""
    day = first
    while day <= last:
        chunk = [day + timedelta(days=i) for i in range(28) if day + timedelta(days=i) <= last]
        with h.on(chunk[-1], 21):
            h.batch([h.body(local(c, 9, 0, h.tz), minutes=15) for c in chunk])
        day = chunk[-1] + timedelta(days=1)


def _drop_checkpoints(app) -> None:
    with app.app_context():
        db.session.execute(delete(StreakCheckpoint))
        db.session.commit()


def test_a_streak_of_131_days_is_131_everywhere(client, world, app):
    """Issue 16.5: a daily item done every day for 131 days (Mon 2 Mar to Fri 10 Jul 2026)."""
    daily = {"exercise": "passive-range-of-motion", "minutes": 15, "days_of_week": EVERY_DAY}
    h = PatientHistory(client, world, LONDON, [daily], MON_2)
    last = MON_2 + timedelta(days=130)
    assert last == date(2026, 7, 10)
    _log_daily(h, MON_2, last)
    patient_id = uuid.UUID(h.profile["id"])
    for checkpoints in ("kept by the writes", "none (sessions from before the migration)"):
        with h.on(last, 22):
            assert h.adherence("window=7")["current_streak_days"] == 131, checkpoints
            assert h.weekly()["current_streak_days"] == 131, checkpoints
            assert h.weekly(MON_2)["current_streak_days"] == 131, checkpoints
            with app.app_context():
                assert adherence_many([patient_id], 30)[patient_id]["current_streak_days"] == 131
        _drop_checkpoints(app)
    with h.on(last + timedelta(days=1), 8):  # Saturday morning, today's session not yet done
        assert h.adherence("window=7")["current_streak_days"] == 131
    with h.on(last, 22):  # the session of Thursday the 9th deleted: only today is left
        sessions = h.get("sessions?from=2026-07-09&to=2026-07-09")["items"]
        h.delete(sessions[0]["id"])
        assert h.adherence("window=7")["current_streak_days"] == 1


def test_last_session_long_ago_is_still_the_last_session(client, world, app):
    """Issue 16.6: the last session 200 days before the read."""
    h = PatientHistory(client, world, LONDON, [standing(3)], MON_2)
    started = at10(d(3))
    with h.on(d(3), 12):
        h.log(started)
    patient_id = uuid.UUID(h.profile["id"])
    with h.on(d(3) + timedelta(days=200)):
        result = h.adherence("window=30")
        with app.app_context():
            many = adherence_many([patient_id], 7)[patient_id]
    assert result["last_session_at"] == utc_timestamp(started) and many["last_session_at"] == started
    assert result["days_with_data_last_30"] == 0 and result["current_streak_days"] == 0


def test_a_session_on_a_settled_day_recomputes_the_checkpoint(client, world, app):
    """Widen the backfill window, log a day the checkpoint had settled, narrow it again."""
    daily = {"exercise": "passive-range-of-motion", "minutes": 15, "days_of_week": EVERY_DAY}
    h = PatientHistory(client, world, LONDON, [daily], MON_2)
    last = MON_2 + timedelta(days=59)
    _log_daily(h, MON_2, d(5) - timedelta(days=1))   # Mon 2 to Wed 4; Thu 5 missed
    _log_daily(h, d(6), last)
    with h.on(last, 22):
        assert h.adherence()["current_streak_days"] == 26 + 30  # Fri 6 Mar to Thu 30 Apr
    saved = app.config["SESSION_BACKFILL_DAYS"]
    app.config["SESSION_BACKFILL_DAYS"] = 60
    try:
        with h.on(last, 22, 30):
            h.log(local(d(5), 9, 0, LONDON), minutes=15)
    finally:
        app.config["SESSION_BACKFILL_DAYS"] = saved
    with h.on(last, 23):
        assert h.adherence()["current_streak_days"] == 60


def test_adherence_for_many_patients_in_every_situation_has_a_bounded_query_count(client, world, app):
    """Seven queries at most (five now): the patients, plans with their checkpoints, sessions,
    older sessions for streaks reaching back further, the last session of those with none recent."""
    daily = {"exercise": "passive-range-of-motion", "minutes": 15, "days_of_week": EVERY_DAY}
    paused = PatientHistory(client, world, LONDON, [standing(3)], MON_2)   # paused, no session in months
    with paused.on(d(3), 12):
        paused.log(at10(d(3)))
        paused.pause(d(4))
    others = [PatientHistory(client, world, tz, [daily], MON_2) for tz in (LONDON, "Asia/Kolkata", "Pacific/Kiritimati")]
    for other in others[:2]:
        _log_daily(other, MON_2, d(20, 4))
    ids = [uuid.UUID(p.profile["id"]) for p in [paused, *others]]
    with app.app_context():
        engine = db.engine
    with paused.on(d(20, 4), 22):
        with app.app_context():
            adherence_many(ids[:1], 30)
            with QueryCounter(engine) as one:
                alone = adherence_many(ids[:1], 30)
            _drop_checkpoints(app)
            adherence_many(ids, 30)  # reads write nothing: the same figures come again below
            with QueryCounter(engine) as four:
                many = adherence_many(ids, 30)
    assert one.count == four.count <= 7
    assert alone[ids[0]] == many[ids[0]]
    assert many[ids[0]]["last_session_at"] == at10(d(3)) and many[ids[0]]["current_streak_days"] == 1
    assert [many[i]["current_streak_days"] for i in ids[1:]] == [50, 50, 0]



def test_the_sql_monday_after_a_day_is_the_python_rule_on_every_weekday(app):
    """The single patient's read (streaks.load_one) finds the checkpoint's Monday in SQL: it must
    be week_start(day + 1) for every weekday, across a year's end and a leap day."""
    from sqlalchemy import Date, literal, select

    from app.adherence.streaks import _MondayAfter
    from app.plans.schedule import week_start
    days = [date(2026, 12, 26) + timedelta(days=i) for i in range(10)] + [date(2028, 2, 27) + timedelta(days=i)
                                                                          for i in range(4)]
    with app.app_context():
        found = [db.session.execute(select(_MondayAfter(literal(day, Date)))).scalar_one() for day in days]
    assert found == [week_start(day + timedelta(days=1)) for day in days]
    assert {day.weekday() for day in days} == set(range(7))


def test_one_patients_adherence_is_one_statement_in_every_situation(client, world, app):
    """Plans, checkpoint, the sessions from the checkpoint's Monday or the window's, and the last
    session (however old) in one statement; a streak reaching back before them costs one more."""
    from app.adherence import streaks

    daily = {"exercise": "passive-range-of-motion", "minutes": 15, "days_of_week": EVERY_DAY}
    lapsed = PatientHistory(client, world, LONDON, [standing(3)], MON_2)   # no session in months
    with lapsed.on(d(3), 12):
        lapsed.log(at10(d(3)))
    streaking = PatientHistory(client, world, LONDON, [daily], MON_2)
    _log_daily(streaking, MON_2, d(20, 4))
    with app.app_context():
        engine = db.engine
    with lapsed.on(d(20, 4), 22):
        with app.app_context():
            counts, results = [], []
            for h, window in ((lapsed, 30), (streaking, 7), (streaking, 30)):
                patient_id = uuid.UUID(h.profile["id"])
                streaks.load_one(patient_id, d(20, 4), d(20, 4))
                with QueryCounter(engine) as one:
                    history = streaks.load_one(patient_id, d(20, 4), d(20, 4) - timedelta(days=window - 1))
                many = streaks.load([patient_id], {patient_id: d(20, 4)}, d(20, 4) - timedelta(days=window - 1))
                counts.append(one.count)
                results.append((history.loaded_from, history.streaks, history.last_session_at,
                                {pid: t.by_item for pid, t in history.tallies.items()}))
                assert results[-1] == (many.loaded_from, many.streaks, many.last_session_at,
                                       {pid: t.by_item for pid, t in many.tallies.items()})
    assert counts == [1, 1, 1]
    assert list(results[0][2].values()) == [at10(d(3))] and list(results[1][1].values()) == [50]
    assert results[1][0] < d(20, 4) - timedelta(days=6)  # from the checkpoint's Monday


def test_the_single_patients_statement_stays_within_psycopgs_parse_cache():
    """psycopg parses a statement's placeholders on every execute when it is longer than 4 KiB."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH
    from sqlalchemy.dialects import postgresql

    from app.adherence import loading, streaks
    from app.plans.loading import patients_statement
    for build in (streaks._one_patient_statement, loading._agenda_statement):
        statement = patients_statement(build, [uuid.uuid4()])[0]
        assert len(str(statement.compile(dialect=postgresql.dialect()))) <= MAX_CACHED_STATEMENT_LENGTH
