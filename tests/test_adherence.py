"""Adherence and the agenda against hand-computed expectations.

March 2027: Monday 1, 8, 15. US daylight saving starts Sunday 14 March (Los Angeles
UTC-8 -> UTC-7); UK daylight saving starts Sunday 28 March (London UTC+0 -> UTC+1).
"""
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import event

from app.adherence.service import adherence_many
from app.extensions import db
from tests.factories import at, enrolled_patient

UTC = timezone.utc
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def utc(*args):
    return datetime(*args, tzinfo=UTC)


class Setup:
    def __init__(self, client, world, tz, items, start="2027-03-01"):
        self.world = world
        self.patient, self.profile = enrolled_patient(client, world.coord_a, neurological_level="L1",
                                                      time_zone=tz, language="en")
        self.url = f"/api/v1/patients/{self.profile['id']}"
        with at(utc(2027, 2, 27, 12), world.coord_a):
            response = world.coord_a.post(f"{self.url}/plans", json={"start_date": start, "items": items})
            assert response.status_code == 201, response.get_json()
        self.plan = response.get_json()
        self.keys = [i["item_key"] for i in self.plan["versions"][0]["items"]]

    def log(self, when, minutes=30, key=0):
        """Log a session that started at `when` (UTC), at a moment just after it."""
        body = {"item_key": self.keys[key], "started_at": when.isoformat(), "duration_minutes": minutes}
        response = self.patient.put(f"{self.url}/sessions/{uuid.uuid4()}", json=body)
        assert response.status_code == 201, response.get_json()

    def adherence(self, query):
        return self.patient.get(f"{self.url}/adherence?{query}").get_json()


def test_days_of_week_item(client, world):
    s = Setup(client, world, "Asia/Shanghai", [{"exercise": "fes-cycling", "minutes": 30,
                                                "days_of_week": ["mon", "wed", "fri"]}])
    with at(utc(2027, 3, 14, 12), s.patient, world.coord_a):  # Sunday 20:00 in Shanghai
        s.log(utc(2027, 3, 1, 1))        # Mon 1, 09:00 local
        s.log(utc(2027, 3, 3, 1))        # Wed 3
        s.log(utc(2027, 3, 5, 15, 30))   # Fri 5, 23:30 local
        s.log(utc(2027, 3, 7, 16, 30))   # Mon 8, 00:30 local (still Sunday in UTC)
        s.log(utc(2027, 3, 8, 10))       # Mon 8 again: extra
        s.log(utc(2027, 3, 9, 2))        # Tue 9: not due, extra
        s.log(utc(2027, 3, 12, 2))       # Fri 12 (Wed 10 was missed)
        result = s.adherence("from=2027-03-01&to=2027-03-14")
        coordinator_view = world.coord_a.get(f"{s.url}/adherence?from=2027-03-01&to=2027-03-14").get_json()
    assert coordinator_view == result
    assert (result["expected_sessions"], result["completed_sessions"]) == (6, 5)
    assert result["session_rate"] == pytest.approx(0.8333, abs=1e-4) and result["adherent"] is True
    assert (result["prescribed_minutes"], result["logged_minutes"]) == (180, 210)
    assert result["days_with_data_last_30"] == 6 and result["sessions_logged"] == 7
    assert result["last_session_at"] == "2027-03-12T02:00:00+00:00"
    item = result["items"][0]
    assert (item["expected_sessions"], item["completed_sessions"], item["logged_minutes"]) == (6, 5, 210)


def test_n_per_week_item_across_a_dst_change(client, world):
    s = Setup(client, world, "America/Los_Angeles", [{"exercise": "passive-standing", "minutes": 60,
                                                      "sessions_per_week": 3}])
    with at(utc(2027, 3, 15, 8), s.patient):  # Monday 01:00 PDT
        for day in (1, 2, 4, 6):                # week 1: four days, three count
            s.log(utc(2027, 3, day, 18), minutes=60)
        s.log(utc(2027, 3, 9, 18), minutes=60)  # Tue 9, 10:00 PST
        s.log(utc(2027, 3, 14, 9, 30))          # Sun 14, 01:30 PST, before the change
        s.log(utc(2027, 3, 15, 6, 30))          # Sun 14, 23:30 PDT, after it: the same local day
        result = s.adherence("from=2027-03-01&to=2027-03-14")
    assert (result["expected_sessions"], result["completed_sessions"]) == (6, 5)
    assert result["prescribed_minutes"] == 360 and result["logged_minutes"] == 5 * 60 + 30 + 30


def test_plan_version_change_and_pause(client, world):
    s = Setup(client, world, "Asia/Shanghai", [{"exercise": "fes-cycling", "minutes": 30,
                                                "days_of_week": ["mon", "wed", "fri"]}])
    plan = f"{s.url}/plans/{s.plan['id']}"
    with at(utc(2027, 3, 1, 2), world.coord_a):
        changed = world.coord_a.post(f"{plan}/versions", if_match_of=f"{plan}", json={"effective_from": "2027-03-08", "items": [
            {"item_key": s.keys[0], "exercise": "fes-cycling", "minutes": 45, "days_of_week": ["tue", "thu"]}]})
        assert changed.status_code == 201
    with at(utc(2027, 3, 2, 2), world.coord_a):
        assert world.coord_a.post(f"{plan}/pause", if_match_of=f"{plan}", json={"reason": "pressure injury", "start_date": "2027-03-03"}).status_code == 200
    with at(utc(2027, 3, 5, 2), world.coord_a):
        assert world.coord_a.post(f"{plan}/resume", if_match_of=f"{plan}", json={"on": "2027-03-06"}).status_code == 200
    with at(utc(2027, 3, 14, 12), s.patient):
        s.log(utc(2027, 3, 1, 1))               # Mon 1: due, done
        s.log(utc(2027, 3, 3, 1))               # Wed 3: paused, not expected
        s.log(utc(2027, 3, 9, 1), minutes=45)   # Tue 9 (version 2): done; Thu 11 missed
        result = s.adherence("from=2027-03-01&to=2027-03-14")
    assert (result["expected_sessions"], result["completed_sessions"]) == (3, 2)
    assert result["prescribed_minutes"] == 30 + 2 * 45


def test_time_zone_far_from_utc(client, world):
    s = Setup(client, world, "Pacific/Kiritimati", [{"exercise": "passive-range-of-motion", "minutes": 15,
                                                     "days_of_week": EVERY_DAY}])
    with at(utc(2027, 3, 2, 11), s.patient):  # Wednesday 01:00 in Kiritimati (UTC+14)
        s.log(utc(2027, 3, 1, 11), minutes=15)  # Tuesday 01:00 local, Monday in UTC
        result = s.adherence("from=2027-03-01&to=2027-03-02")
        sessions = s.patient.get(f"{s.url}/sessions").get_json()["items"]
    assert sessions[0]["local_date"] == "2027-03-02"
    assert (result["expected_sessions"], result["completed_sessions"]) == (2, 1)


def test_window_streak_and_current_week(client, world):
    s = Setup(client, world, "Europe/London", [
        {"exercise": "passive-range-of-motion", "minutes": 15, "days_of_week": EVERY_DAY},
        {"exercise": "passive-standing", "minutes": 60, "sessions_per_week": 5}])
    with at(utc(2027, 3, 6, 9), s.patient):  # Saturday morning, London
        for day in (1, 2, 4, 5):             # Wed 3 missed
            s.log(utc(2027, 3, day, 8), minutes=15)
        for day in (1, 2, 4):
            s.log(utc(2027, 3, day, 10), minutes=60, key=1)
        result = s.adherence("window=7")
        # Saturday is not over: one day left, so 5 - 1 = 4 standing sessions are due by now.
        standing = next(i for i in result["items"] if i["item_key"] == s.keys[1])
        assert (standing["expected_sessions"], standing["completed_sessions"]) == (4, 3)
        assert result["current_streak_days"] == 2  # Thu, Fri; today is not over yet
        s.log(utc(2027, 3, 6, 8, 30), minutes=15)
        assert s.adherence("window=7")["current_streak_days"] == 3
        assert s.patient.get(f"{s.url}/adherence?window=8").status_code == 422
        assert s.patient.get(f"{s.url}/adherence?from=2027-03-05&to=2027-03-01").status_code == 422


def test_weekly_summary_in_the_patients_language(client, world):
    s = Setup(client, world, "Asia/Shanghai", [{"exercise": "fes-cycling", "minutes": 30,
                                                "days_of_week": ["mon", "wed", "fri"]}])
    with at(utc(2027, 3, 14, 12), s.patient):
        s.log(utc(2027, 3, 8, 1))
        s.log(utc(2027, 3, 12, 1))
        summary = s.patient.get(f"{s.url}/adherence/weekly").get_json()
        chinese = s.patient.get(f"{s.url}/adherence/weekly?lang=zh-CN&week=2027-03-10").get_json()
        first_week = s.patient.get(f"{s.url}/adherence/weekly?week=2027-03-01").get_json()
    assert (summary["week_start"], summary["planned_sessions"], summary["completed_sessions"]) == ("2027-03-08", 3, 2)
    assert summary["logged_minutes"] == 60 and summary["message"].startswith("Good effort")
    assert chinese["week_start"] == "2027-03-08" and chinese["message"].startswith("这周很努力")
    assert first_week["completed_sessions"] == 0 and first_week["complete"] is True
    assert first_week["message"].startswith("No sessions")
    # The streak is today's whichever week is asked for (Fri 12 done, Wed 10 missed: 1 day).
    assert first_week["current_streak_days"] == summary["current_streak_days"] == 1


# --- the agenda ---------------------------------------------------------------------------

def agenda(actor, url, query=""):
    return actor.get(f"{url}/agenda{query}").get_json()


def test_agenda_in_two_time_zones_on_both_sides_of_midnight(client, world):
    items = [{"exercise": "fes-cycling", "minutes": 30, "days_of_week": ["mon", "wed", "fri"], "time_of_day": "16:00"}]
    shanghai = Setup(client, world, "Asia/Shanghai", items)
    angeles = Setup(client, world, "America/Los_Angeles", items)
    with at(utc(2027, 3, 1, 15, 30), shanghai.patient, angeles.patient):  # 23:30 Mon / 07:30 Mon
        east, west = agenda(shanghai.patient, shanghai.url), agenda(angeles.patient, angeles.url)
        assert east["date"] == west["date"] == "2027-03-01"
        assert len(east["items"]) == len(west["items"]) == 1
    with at(utc(2027, 3, 1, 16, 30), shanghai.patient, angeles.patient):  # 00:30 Tue / 08:30 Mon
        east, west = agenda(shanghai.patient, shanghai.url), agenda(angeles.patient, angeles.url)
        assert (east["date"], west["date"]) == ("2027-03-02", "2027-03-01")
        assert east["items"] == [] and west["items"][0]["exercise"]["slug"] == "fes-cycling"
        assert west["items"][0]["time_of_day"] == "16:00" and west["items"][0]["done"] is False
        monday = agenda(shanghai.patient, shanghai.url, "?date=2027-03-01")
        assert len(monday["items"]) == 1


def test_agenda_across_the_uk_dst_change_shows_what_was_done(client, world):
    s = Setup(client, world, "Europe/London", [{"exercise": "passive-range-of-motion", "minutes": 15,
                                                "days_of_week": EVERY_DAY}], start="2027-03-27")
    with at(utc(2027, 3, 29, 7), s.patient):  # Monday 08:00 BST
        s.log(utc(2027, 3, 28, 23, 30), minutes=15)  # Monday 00:30 BST; Sunday in UTC
        monday = agenda(s.patient, s.url)
        sunday = agenda(s.patient, s.url, "?date=2027-03-28")
    assert monday["date"] == "2027-03-29" and monday["items"][0]["done"] is True
    assert monday["items"][0]["done_minutes"] == 15
    assert sunday["items"][0]["done"] is False


def test_agenda_counts_down_n_per_week_items(client, world):
    s = Setup(client, world, "Europe/London", [{"exercise": "passive-standing", "minutes": 60,
                                                "sessions_per_week": 3}])
    with at(utc(2027, 3, 2, 12), s.patient):
        s.log(utc(2027, 3, 1, 10), minutes=60)
        today = agenda(s.patient, s.url)
        week = s.patient.get(f"{s.url}/agenda/week").get_json()
    item = today["items"][0]
    assert item["schedule"] == "weekly" and (item["done_this_week"], item["remaining_this_week"]) == (1, 2)
    assert [d["date"] for d in week["days"]][0] == "2027-03-01" and len(week["days"]) == 7
    assert week["days"][0]["items"][0]["done"] is True and week["days"][1]["items"][0]["done"] is False


def test_agenda_of_a_paused_plan_is_empty(client, world):
    s = Setup(client, world, "Europe/London", [{"exercise": "passive-standing", "minutes": 60,
                                                "days_of_week": EVERY_DAY}])
    with at(utc(2027, 3, 2, 12), world.coord_a, s.patient):
        world.coord_a.post(f"{s.url}/plans/{s.plan['id']}/pause", if_match_of=f"{s.url}/plans/{s.plan['id']}", json={"reason": "illness"})
        paused = agenda(s.patient, s.url)
    assert paused["paused"] is True and paused["items"] == []


class QueryCounter:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args):
        self.count += 1
        self.statements = getattr(self, "statements", []) + [statement[:90]]


def test_agenda_query_count_does_not_grow_with_items(client, world, app):
    few = Setup(client, world, "Europe/London", [{"exercise": "passive-standing", "minutes": 60, "days_of_week": EVERY_DAY}])
    many = Setup(client, world, "Europe/London", [
        {"exercise": slug, "minutes": 10 + i, "days_of_week": EVERY_DAY}
        for i, slug in enumerate(["passive-standing", "fes-cycling", "standing-vibration", "passive-range-of-motion",
                                  "upper-body-exercise", "pressure-relief"] * 2)])
    with app.app_context():
        engine = db.engine
    with at(utc(2027, 3, 2, 12), few.patient, many.patient):
        with QueryCounter(engine) as small:
            assert len(agenda(few.patient, few.url)["items"]) == 1
        with QueryCounter(engine) as large:
            assert len(agenda(many.patient, many.url)["items"]) == 12
    assert small.count == large.count


def test_adherence_for_many_patients_has_a_fixed_query_count(client, world, app):
    setups = [Setup(client, world, tz, [{"exercise": "passive-standing", "minutes": 60, "sessions_per_week": 3}])
              for tz in ("Europe/London", "Asia/Shanghai", "America/Los_Angeles")]
    with app.app_context():
        engine = db.engine
    with at(utc(2027, 3, 10, 12), *[s.patient for s in setups]):
        for s in setups:
            s.log(utc(2027, 3, 8, 12), minutes=60)
        ids = [uuid.UUID(s.profile["id"]) for s in setups]
        with app.app_context():
            adherence_many(ids, 30)  # the session's own BEGIN/SAVEPOINT is not the feature's
            with QueryCounter(engine) as one:
                single = adherence_many(ids[:1], 30)
            with QueryCounter(engine) as three:
                bulk = adherence_many(ids, 30)
        api = setups[1].adherence("window=30")
    assert one.count == three.count, (one.statements, three.statements)
    assert bulk[ids[0]] == single[ids[0]]
    assert bulk[ids[1]]["completed_sessions"] == api["completed_sessions"] == 1
    assert bulk[ids[1]]["expected_sessions"] == api["expected_sessions"]
