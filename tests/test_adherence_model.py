"""Adherence, weekly summaries and agendas against a small independent model of the documented
rules (the docstring of app/plans/schedule.py), on generated plan histories replayed through
the API with time moved: days-of-week and N-per-week items, versions, pauses (scheduled and
open), ends, sessions near local midnight in zones from UTC-11 to UTC+14 (half- and
three-quarter-hour ones, DST weeks), offline batches, edits across midnight, deletes.

The model is written here from the rules, not from schedule.py or metrics.py. `make test` runs a
few examples; CI runs many more (`--slow`).
"""
import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
import time_machine
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from app.adherence import streaks
from app.adherence.models import StreakCheckpoint
from app.common.types import utc_timestamp
from app.config import BASE_DIR
from app.extensions import db
from tests.factories import enrolled_patient

UTC = timezone.utc
DAY = timedelta(days=1)
ZONES = ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kolkata", "Asia/Kathmandu",
         "Australia/Adelaide", "Pacific/Chatham", "America/St_Johns", "Europe/London", "America/Los_Angeles"]
EXERCISES = ["passive-standing", "fes-cycling", "passive-range-of-motion", "standing-vibration"]
OFF_PLAN = "upper-body-exercise"
# Local times of day, most of them close to midnight.
TIMES = [time(0, 0), time(0, 20), time(0, 59), time(1, 30), time(9, 0), time(12, 0), time(18, 0),
         time(22, 45), time(23, 30), time(23, 59)]
BACKFILL_DAYS, EDIT_HOURS = 5, 48  # short windows, so checkpoints are made within a history
SYNC_EVERY_DAYS = 3
# Days from the plan start to the read, in an order that does not favour short histories
# (hypothesis leans towards the first values of a sampled_from).
LENGTHS = [30, 45, 21, 38, 9, 42, 0, 26, 35, 14, 40, 3, 33, 18, 44, 6, 28, 11, 37, 1, 24, 43, 16, 31, 7, 39,
           20, 4, 34, 12, 41, 27, 2, 36, 15, 23, 8, 32, 19, 5, 29, 13, 22, 10, 25, 17]
MESSAGES = yaml.safe_load((BASE_DIR / "seed" / "sessions" / "weekly_messages.yaml").read_text(encoding="utf-8"))


# --- the model ----------------------------------------------------------------------------

@dataclass
class Item:
    key: str
    item_id: str
    exercise: str
    minutes: int
    per_week: int | None
    weekdays: frozenset | None  # 0 = Monday
    start: date
    end: date | None


@dataclass
class Plan:
    plan_id: str
    start: date
    versions: list = field(default_factory=list)  # [(effective_from, [Item])], in number order
    pauses: list = field(default_factory=list)    # [[first day, last day or None]]
    ended_on: date | None = None


@dataclass
class Logged:
    key: str | None
    started: datetime
    minutes: int
    day: date  # local date when logged


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def in_force(plan: Plan, day: date) -> list[Item]:
    if day < plan.start or (plan.ended_on is not None and day > plan.ended_on):
        return []
    if any(first <= day and (last is None or day <= last) for first, last in plan.pauses):
        return []
    current = None
    for effective, items in plan.versions:
        if effective <= day:
            current = items
    return [i for i in current or [] if i.start <= day and (i.end is None or day <= i.end)]


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def count_on(sessions: list[Logged], key: str, day: date) -> int:
    return sum(1 for s in sessions if s.key == key and s.day == day)


def groups_of_week(plan: Plan, monday: date) -> dict:
    """{(key, per_week, minutes): [days]} for the N-per-week items of the whole week."""
    groups: dict = {}
    for offset in range(7):
        day = monday + timedelta(days=offset)
        for item in in_force(plan, day):
            if item.per_week is not None:
                groups.setdefault((item.key, item.per_week, item.minutes), []).append(day)
    return groups


def planned_of(per_week: int, n_days: int) -> int:
    return half_up(Fraction(per_week * n_days, 7))


def done_of(sessions, key: str, per_week: int, day_list, planned: int) -> int:
    cap = 1 if per_week <= 7 else 2
    return min(planned, sum(min(cap, count_on(sessions, key, d)) for d in day_list))


def model_window(plan: Plan, sessions: list[Logged], start: date, end: date, today: date) -> dict:
    inside = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    items: dict = {}
    for day in inside:
        for item in in_force(plan, day):
            row = items.setdefault(item.key, {"expected": 0, "done": 0, "prescribed": 0, "item": item})
            row["item"] = item
            if item.per_week is None and day.weekday() in item.weekdays:
                row["expected"] += 1
                row["prescribed"] += item.minutes
                row["done"] += 1 if count_on(sessions, item.key, day) else 0
    monday = monday_of(start)
    while monday <= end:
        current = monday <= today <= monday + 6 * DAY and end == today
        for (key, per_week, minutes), group in groups_of_week(plan, monday).items():
            counted = [d for d in group if d >= start and (current or d <= end)]
            if not any(d <= end for d in counted):
                continue
            planned = planned_of(per_week, len(counted))
            still_to_come = sum(1 for d in counted if d > today)
            done = done_of(sessions, key, per_week, counted, planned)
            expected = max(max(0, planned - still_to_come), done)
            row = items[key]
            row["expected"] += expected
            row["done"] += done
            row["prescribed"] += expected * minutes
        monday += 7 * DAY
    in_window = [s for s in sessions if start <= s.day <= end]
    out_items = {key: {"item_key": key, "plan_id": plan.plan_id, "exercise_id": row["item"].exercise,
                       "expected_sessions": row["expected"], "completed_sessions": row["done"],
                       "session_rate": round(row["done"] / row["expected"], 4) if row["expected"] else None,
                       "prescribed_minutes": row["prescribed"],
                       "logged_minutes": sum(s.minutes for s in in_window if s.key == key)}
                 for key, row in items.items()}
    expected = sum(r["expected_sessions"] for r in out_items.values())
    done = sum(r["completed_sessions"] for r in out_items.values())
    return {"from": start.isoformat(), "to": end.isoformat(), "expected_sessions": expected,
            "completed_sessions": done, "session_rate": round(done / expected, 4) if expected else None,
            "prescribed_minutes": sum(r["prescribed_minutes"] for r in out_items.values()),
            "logged_minutes": sum(s.minutes for s in in_window), "sessions_logged": len(in_window),
            "items": out_items}


def model_streak(plan: Plan, sessions: list[Logged], today: date) -> int:
    count, day = 0, today
    while day >= plan.start:
        if day.weekday() == 6 and day < today:
            for (key, per_week, _m), group in groups_of_week(plan, day - 6 * DAY).items():
                planned = planned_of(per_week, len(group))
                if done_of(sessions, key, per_week, group, planned) < planned:
                    return count
        items = in_force(plan, day)
        done_keys = {s.key for s in sessions if s.day == day}
        due = [i for i in items if i.per_week is None and day.weekday() in i.weekdays]
        if due:
            if all(i.key in done_keys for i in due):
                count += 1
            elif day != today:
                return count
        elif any(i.key in done_keys for i in items):
            count += 1
        day -= DAY
    return count


def model_adherence(plan, sessions, start, end, today, threshold) -> dict:
    result = model_window(plan, sessions, start, end, today)
    rate = result["session_rate"]
    result |= {"adherent": None if rate is None else rate >= threshold,
               "current_streak_days": model_streak(plan, sessions, today),
               "last_session_at": max((s.started for s in sessions), default=None),
               "days_with_data_last_30": len({s.day for s in sessions if today - 29 * DAY <= s.day <= today})}
    if result["last_session_at"] is not None:
        result["last_session_at"] = utc_timestamp(result["last_session_at"])  # answers: UTC, Z
    return result


def model_weekly(plan, sessions, monday: date, today: date, language: str) -> dict:
    sunday = monday + 6 * DAY
    result = model_window(plan, sessions, monday, min(sunday, today), today)
    whole = sum(1 for offset in range(7) for i in in_force(plan, monday + timedelta(days=offset))
                if i.per_week is None and (monday + timedelta(days=offset)).weekday() in i.weekdays)
    whole += sum(planned_of(per_week, len(g)) for (_k, per_week, _m), g in groups_of_week(plan, monday).items())
    planned, done = result["expected_sessions"], result["completed_sessions"]
    if whole == 0:
        message = MESSAGES["none_planned"][language]
    elif planned == 0:
        message = MESSAGES["all_ahead"][language].format(planned=whole)
    else:
        message = next(m[language] for m in MESSAGES["by_rate"] if done / planned >= m["min_rate"])
    return {"week_start": monday.isoformat(), "week_end": sunday.isoformat(), "complete": sunday < today,
            "planned_sessions": planned, "week_planned_sessions": whole, "completed_sessions": done,
            "session_rate": result["session_rate"], "prescribed_minutes": result["prescribed_minutes"],
            "logged_minutes": result["logged_minutes"], "current_streak_days": model_streak(plan, sessions, today),
            "message": message}


def model_agenda_day(plan, sessions, day: date) -> dict:
    out = {}
    for item in in_force(plan, day):
        if item.per_week is None and day.weekday() not in item.weekdays:
            continue
        today_sessions = [s for s in sessions if s.key == item.key and s.day == day]
        row = {"item_id": item.item_id, "plan_id": plan.plan_id, "minutes": item.minutes,
               "schedule": "days_of_week" if item.per_week is None else "weekly", "exercise": item.exercise,
               "done": bool(today_sessions), "done_sessions": len(today_sessions),
               "done_minutes": sum(s.minutes for s in today_sessions)}
        if item.per_week is not None:
            group = groups_of_week(plan, monday_of(day))[(item.key, item.per_week, item.minutes)]
            planned = planned_of(item.per_week, len(group))
            done = done_of(sessions, item.key, item.per_week, [d for d in group if d <= day], planned)
            row |= {"sessions_per_week": item.per_week, "planned_this_week": planned,
                    "done_this_week": done, "remaining_this_week": planned - done}
        else:  # the weekly fields are there for every item, null on a days-of-week one
            row |= dict.fromkeys(("sessions_per_week", "planned_this_week", "done_this_week",
                                  "remaining_this_week"))
        out[item.key] = row
    paused = plan.start <= day and (plan.ended_on is None or day <= plan.ended_on) and any(
        first <= day and (last is None or day <= last) for first, last in plan.pauses)
    return {"date": day.isoformat(), "paused": paused, "items": out}


# --- generated histories ----------------------------------------------------------------

def local_moment(day: date, at: time, tz: str) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz)).astimezone(UTC)


item_specs = st.fixed_dictionaries({
    "exercise": st.sampled_from(EXERCISES),
    "minutes": st.sampled_from([10, 20, 30, 45, 60]),
    "per_week": st.one_of(st.none(), st.integers(1, 7), st.integers(8, 14)),
    "weekdays": st.frozensets(st.integers(0, 6), min_size=1),
    "ends_after": st.one_of(st.none(), st.integers(0, 20)),
})

events = st.lists(st.tuples(st.sampled_from(["version", "pause", "resume", "end", "version", "pause"]),
                            st.sampled_from(range(101)),  # made at this share of the history
                            st.sampled_from([0, 0, 1, 2, 4]),  # takes effect this many days later
                            st.lists(st.tuples(st.integers(0, 4), st.one_of(st.none(), item_specs)),
                                     max_size=3)),
                  max_size=4)

sessions_strategy = st.lists(st.tuples(
    st.integers(-2, 45),              # local day, from the plan start
    st.sampled_from(TIMES),
    st.integers(0, 5),                # which item (by creation order); beyond the last: off-plan
    st.sampled_from([15, 30, 60]),
    st.sampled_from(["batch", "batch", "now", "edit", "delete"]),
    st.integers(-120, 120),           # an edit moves the start by this many minutes
), max_size=40)

histories = st.fixed_dictionaries({
    "tz": st.sampled_from(ZONES),
    "start": st.one_of(st.dates(date(2026, 2, 22), date(2026, 4, 6)), st.dates(date(2026, 9, 18), date(2026, 11, 3))),
    "made_before": st.integers(0, 3),
    "items": st.lists(item_specs, min_size=1, max_size=3),
    "events": events,
    "sessions": sessions_strategy,
    "length": st.sampled_from(LENGTHS),
    "read_at": st.sampled_from([time(0, 10), time(8, 0), time(12, 30), time(23, 50)]),
    "custom": st.tuples(st.integers(-6, 45), st.integers(0, 40)),
    "dates": st.lists(st.integers(-3, 48), min_size=1, max_size=3),
    "drop_checkpoints": st.booleans(),
    # The habit: each first item done on its days with this probability, at its own time of day.
    "diligence": st.sampled_from([1.0, 0.9, 1.0, 0.6, 0.0]),
    "habit_times": st.lists(st.sampled_from(TIMES), min_size=3, max_size=3),
    # "now": the habit's last week logged one session at a time (earlier days synced in batches).
    "habit_logging": st.sampled_from(["batch", "batch", "now"]),
    "random": st.randoms(use_true_random=False),
    # Tuning that must not change any figure: how far reads look back before a second query,
    # and how often writes advance the checkpoint.
    "lookback_cap": st.sampled_from([28, 0, 5]),
    "refresh_days": st.sampled_from([7, 1]),
})


def item_body(spec: dict, start: date | None = None, key: str | None = None) -> dict:
    body = {"exercise": spec["exercise"], "minutes": spec["minutes"]}
    if spec["per_week"] is not None:
        body["sessions_per_week"] = spec["per_week"]
    else:
        body["days_of_week"] = [["mon", "tue", "wed", "thu", "fri", "sat", "sun"][d] for d in sorted(spec["weekdays"])]
    if spec["ends_after"] is not None and start is not None:
        body["end_date"] = (start + timedelta(days=spec["ends_after"])).isoformat()
    if key:
        body["item_key"] = key
    return body


class Replay:
    """Runs a generated history through the API in time order, keeping the model beside it."""

    def __init__(self, client, coordinator, history: dict):
        self.h, self.tz = history, history["tz"]
        self.client, self.coordinator = client, coordinator
        self.actions: list = []    # (moment, order, callable)
        self.logged: dict = {}     # session id -> Logged: the model's view of what is stored
        self.revisions: dict = {}  # session id -> its stored revision (edits and deletes send it)
        self.keys_made: list = []  # (moment, item_key) in creation order
        self.slot_keys: dict = {}  # generated item slot -> its item_key once made
        self.logged_in: dict = {}  # id(actor) -> when its tokens were issued

    def _fresh(self, actor) -> None:
        """Tokens valid now (time only moves forward here): a new login when the last is 10 minutes old."""
        now = datetime.now(UTC)
        issued = self.logged_in.get(id(actor))
        if issued is None or not issued <= now < issued + timedelta(minutes=10):
            actor.relogin()
            self.logged_in[id(actor)] = now

    def run(self) -> None:
        h, tz = self.h, self.tz
        start = h["start"]
        self.read_day = start + timedelta(days=h["length"])
        self.read_moment = local_moment(self.read_day, h["read_at"], tz)
        self.made = local_moment(start - timedelta(days=h["made_before"]), time(12, 0), tz)
        specs = list(enumerate(h["items"]))
        with time_machine.travel(self.made, tick=False):
            self._fresh(self.coordinator)
            self.patient, profile = enrolled_patient(self.client, self.coordinator, neurological_level="L1",
                                                     time_zone=tz, language="en")
            self.url = f"/api/v1/patients/{profile['id']}"
            self.patient_id = uuid.UUID(profile["id"])
            response = self.coordinator.post(f"{self.url}/plans", json={
                "start_date": start.isoformat(), "items": [item_body(spec, start) for _, spec in specs]})
            assert response.status_code == 201, response.get_json()
        self.model = Plan(response.get_json()["id"], start)
        self._take_version(response.get_json(), self.made, [slot for slot, _ in specs])
        self._plan_events(specs)
        self._sessions()
        for moment, _order, action in sorted(self.actions, key=lambda a: (a[0], a[1])):
            with time_machine.travel(moment, tick=False):
                action()

    def _take_version(self, plan_json: dict, moment: datetime, slots: list) -> None:
        version = plan_json["versions"][-1]
        items = []
        for slot, i in zip(slots, version["items"]):
            weekdays = None if i["days_of_week"] is None else frozenset(
                ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].index(d) for d in i["days_of_week"])
            items.append(Item(i["item_key"], i["id"], i["exercise_id"], i["minutes"], i["sessions_per_week"],
                              weekdays, date.fromisoformat(i["start_date"]),
                              date.fromisoformat(i["end_date"]) if i["end_date"] else None))
            self.slot_keys[slot] = i["item_key"]
            if all(k != i["item_key"] for _m, k in self.keys_made):
                self.keys_made.append((moment, i["item_key"]))
        self.model.versions.append((date.fromisoformat(version["effective_from"]), items))

    # --- plan events: made at local noon (a minute apart) on their day, in order -------------
    def _plan_events(self, specs: list) -> None:
        start = self.model.start
        latest, paused, next_slot = start, False, len(specs)
        made_day = self.made.astimezone(ZoneInfo(self.tz)).date()
        for order, (kind, made_offset, delay, changes) in enumerate(sorted(self.h["events"], key=lambda e: e[1])):
            day = max(made_day, start + timedelta(days=made_offset * (self.h["length"] + 3) // 100 - 3))
            effective = day + timedelta(days=delay)
            moment = local_moment(day, time(12, 1 + order), self.tz)
            if moment > self.read_moment:
                break
            if kind == "version":
                latest = effective = max(effective, latest)
                specs = list(specs)
                for index, spec in changes:
                    if spec is None and len(specs) > 1:
                        specs.pop(index % len(specs))
                    elif spec is not None and index < len(specs):
                        specs[index] = (specs[index][0], spec)  # the same item, a new dose
                    elif spec is not None:
                        specs.append((next_slot, spec))
                        next_slot += 1
                self.actions.append((moment, order, self._version(effective, specs)))
            elif kind == "pause" and not paused:
                paused = True
                self.actions.append((moment, order, self._plan_post(
                    "pause", {"reason": "ill", "start_date": effective.isoformat()},
                    lambda first=effective: self.model.pauses.append([first, None]))))
            elif kind == "resume" and paused:
                paused = False
                self.actions.append((moment, order, self._plan_post(
                    "resume", {"on": effective.isoformat()}, lambda on=effective: self._model_resume(on))))
            elif kind == "end":
                self.actions.append((moment, order, self._plan_post(
                    "end", {"reason": "done", "on": effective.isoformat()}, lambda on=effective: self._model_end(on))))
                break

    def _version(self, effective: date, specs: list):
        def act():
            self._fresh(self.coordinator)
            previous = {i.key for i in self.model.versions[-1][1]}
            body = [item_body(spec, effective, self.slot_keys.get(slot) if self.slot_keys.get(slot) in previous
                              else None) for slot, spec in specs]
            plan_url = f"{self.url}/plans/{self.model.plan_id}"
            response = self.coordinator.post(f"{plan_url}/versions", if_match_of=plan_url,
                                             json={"effective_from": effective.isoformat(), "items": body})
            assert response.status_code == 201, response.get_json()
            self._take_version(response.get_json(), datetime.now(UTC), [slot for slot, _ in specs])
        return act

    def _plan_post(self, action: str, body: dict, update):
        def act():
            self._fresh(self.coordinator)
            plan_url = f"{self.url}/plans/{self.model.plan_id}"
            response = self.coordinator.post(f"{plan_url}/{action}", json=body, if_match_of=plan_url)
            assert response.status_code == 200, response.get_json()
            update()
        return act

    def _model_resume(self, on: date) -> None:
        pause = next(p for p in self.model.pauses if p[1] is None)
        if on <= pause[0]:
            self.model.pauses.remove(pause)  # resumed before any paused day
        else:
            pause[1] = on - DAY

    def _model_end(self, on: date) -> None:
        self.model.ended_on = on - DAY
        for pause in self.model.pauses:
            if pause[1] is None:
                pause[1] = max(pause[0], self.model.ended_on)

    # --- sessions: logged at once (then maybe edited or deleted) or synced in offline batches --
    def _sync_moment(self, started: datetime) -> datetime:
        day = self.made.astimezone(ZoneInfo(self.tz)).date()
        while local_moment(day, time(21, 0), self.tz) < started + timedelta(minutes=2):
            day += SYNC_EVERY_DAYS * DAY
        return min(local_moment(day, time(21, 0), self.tz), self.read_moment - timedelta(minutes=1))

    def _key_for(self, which: int) -> str | None:
        keys = [k for made, k in self.keys_made if made <= datetime.now(UTC)]
        return keys[which] if which < len(keys) else None

    def _habit(self) -> list:
        """Sessions of the first items on their days (N a week: the first N days of the week)."""
        h, out = self.h, []
        recent = h["length"] - 7
        for offset in range(-1, h["length"] + 1):
            day = self.model.start + timedelta(days=offset)
            for which, spec in enumerate(h["items"]):
                if spec["per_week"] is None:
                    times = 1 if day.weekday() in spec["weekdays"] else 0
                else:
                    times = (day.weekday() < spec["per_week"]) + (day.weekday() < spec["per_week"] - 7)
                for _ in range(times):
                    if h["random"].random() < h["diligence"]:
                        how = h["habit_logging"] if offset >= recent else "batch"
                        out.append((offset, h["habit_times"][which], which, spec["minutes"], how, 0))
        return out

    def _sessions(self) -> None:
        batches: dict = {}
        for n, (offset, at_time, which, minutes, how, shift) in enumerate(self._habit() + self.h["sessions"]):
            started = local_moment(self.model.start + timedelta(days=offset), at_time, self.tz)
            logged_at = started + timedelta(minutes=2)
            if logged_at > self.read_moment - timedelta(minutes=1):
                continue
            if how == "batch" or logged_at < self.made:
                batches.setdefault(self._sync_moment(max(started, self.made)), []).append((started, which, minutes))
                continue
            session_id = str(uuid.uuid4())
            self.actions.append((logged_at, 1000 + n, self._put(session_id, started, which, minutes, 201)))
            later = logged_at + timedelta(hours=1 + abs(shift) % 40)
            if how == "edit":
                moved = started + timedelta(minutes=shift)
                later = max(later, moved + timedelta(minutes=2))
                if later <= min(self.read_moment - timedelta(minutes=1), started + timedelta(hours=EDIT_HOURS)):
                    self.actions.append((later, 1000 + n, self._put(session_id, moved, which, minutes + 5, 200)))
            elif how == "delete" and later <= self.read_moment - timedelta(minutes=1):
                self.actions.append((later, 1000 + n, self._delete(session_id)))
        for moment, entries in batches.items():
            self.actions.append((moment, 500, self._batch(entries)))

    def _body(self, key, started, minutes) -> dict:
        ref = {"item_key": key} if key else {"exercise": OFF_PLAN}
        return {**ref, "started_at": started.isoformat(), "duration_minutes": minutes}

    def _remember(self, session_id, key, started, minutes) -> None:
        self.logged[session_id] = Logged(key, started, minutes, started.astimezone(ZoneInfo(self.tz)).date())

    def _batch(self, entries):
        def act():
            self._fresh(self.patient)
            items = []
            for started, which, minutes in entries:
                key = self._key_for(which)
                items.append({"id": str(uuid.uuid4()), **self._body(key, started, minutes)})
                self._remember(items[-1]["id"], key, started, minutes)
            response = self.patient.post(f"{self.url}/sessions/batch", json={"sessions": items})
            assert response.get_json()["counts"] == {"created": len(items)}, response.get_json()
        return act

    def _put(self, session_id, started, which, minutes, status):
        def act():
            self._fresh(self.patient)
            key = self.logged[session_id].key if session_id in self.logged else self._key_for(which)
            body = self._body(key, started, minutes)
            if session_id in self.revisions:
                body["base_revision"] = self.revisions[session_id]
            response = self.patient.put(f"{self.url}/sessions/{session_id}", json=body)
            assert response.status_code == status, response.get_json()
            self.revisions[session_id] = response.get_json()["revision"]
            self._remember(session_id, key, started, minutes)
        return act

    def _delete(self, session_id):
        def act():
            self._fresh(self.patient)
            response = self.patient.delete(f"{self.url}/sessions/{session_id}",
                                           headers={"If-Match": f'"{self.revisions[session_id]}"'})
            assert response.status_code == 204, response.get_json()
            del self.logged[session_id]
        return act


def _check(client, app, world, history) -> None:
    r = Replay(client, world.coord_a, history)
    saved = streaks.LOOKBACK_CAP, streaks.REFRESH_DAYS
    streaks.LOOKBACK_CAP, streaks.REFRESH_DAYS = history["lookback_cap"], history["refresh_days"]
    try:
        _replay_and_compare(r, app, world, history)
    finally:
        streaks.LOOKBACK_CAP, streaks.REFRESH_DAYS = saved


def _replay_and_compare(r, app, world, history) -> None:
    r.run()
    if history["drop_checkpoints"]:  # as for sessions stored before the checkpoints existed
        with app.app_context():
            db.session.execute(delete(StreakCheckpoint).where(StreakCheckpoint.patient_id == r.patient_id))
            db.session.commit()
    plan, sessions, today = r.model, list(r.logged.values()), r.read_day
    with time_machine.travel(r.read_moment, tick=False):
        coordinator = world.coord_a.relogin()

        def get(path):
            response = coordinator.get(f"{r.url}/{path}")
            assert response.status_code == 200, (path, response.get_json())
            return response.get_json()

        threshold = get("adherence?window=7")["adherent_threshold"]
        reads = [("window=7", today - 6 * DAY, today), ("window=30", today - 29 * DAY, today)]
        first = plan.start + timedelta(days=history["custom"][0])
        if first <= today:
            last = first + timedelta(days=history["custom"][1])
            reads.append((f"from={first}&to={last}", first, min(last, today)))
        for query, start, end in reads:
            api = get(f"adherence?{query}")
            api["items"] = {i["item_key"]: i for i in api["items"]}
            del api["adherent_threshold"], api["remote_monitoring_days_threshold"]
            assert api == model_adherence(plan, sessions, start, end, today, threshold), query
        monday = monday_of(min(plan.start, today))
        while monday <= today:
            api = get(f"adherence/weekly?week={monday}")
            assert api.pop("language") == "en"
            assert api == model_weekly(plan, sessions, monday, today, "en"), monday.isoformat()
            monday += 7 * DAY
        for offset in history["dates"]:
            day = plan.start + timedelta(days=offset)
            assert agenda_view(get(f"agenda?date={day}")) == model_agenda_day(plan, sessions, day), day.isoformat()
            week = get(f"agenda/week?start={day}")["days"]
            model_days = [model_agenda_day(plan, sessions, monday_of(day) + timedelta(days=i)) for i in range(7)]
            assert [agenda_view(d) for d in week] == model_days, day.isoformat()
    _batch_reads_as_one(app, r)


# The windows the rules sweep reads (app/rules/evaluators.py): ending yesterday, 7 and 30 days, and
# the falling trend's four 7-day baseline blocks before the last week: (days back to the first, to the last).
SWEEP_WINDOWS = [(7, 1), (30, 1), (14, 8), (21, 15), (28, 22), (35, 29)]


def _batch_reads_as_one(app, r) -> None:
    """The rules sweep and the caseload read many windows of many patients from one History
    (history_many, window_metrics); for the last 7 and 30 days they count as adherence_many does,
    and the sweep's windows (past ones, cutting weeks anywhere) count as the model does."""
    from app.adherence.service import adherence_many, history_many, window_metrics

    with app.app_context(), time_machine.travel(r.read_moment, tick=False):
        todays, history = history_many([r.patient_id], datetime.now(timezone.utc), 36)
        today = todays[r.patient_id]
        for days in (7, 30):
            batch = window_metrics(history, r.patient_id, today - (days - 1) * DAY, today, today)
            del batch["days_with_data"]
            assert batch == adherence_many([r.patient_id], days)[r.patient_id], days
        sessions = list(r.logged.values())
        for first, last in SWEEP_WINDOWS:
            start, end = today - first * DAY, today - last * DAY
            batch = window_metrics(history, r.patient_id, start, end, today)
            model = model_window(r.model, sessions, start, end, today)
            assert {i["item_key"]: i for i in batch.pop("items")} == {
                uuid.UUID(key): dict(item, item_key=uuid.UUID(key), plan_id=uuid.UUID(item["plan_id"]),
                                     exercise_id=uuid.UUID(item["exercise_id"]))
                for key, item in model.pop("items").items()}, (first, last)
            assert batch["days_with_data"] == len({s.day for s in sessions if start <= s.day <= end}), (first, last)
            assert {k: batch[k] for k in model if k not in ("from", "to")} == {
                k: v for k, v in model.items() if k not in ("from", "to")}, (first, last)


def agenda_view(api_day: dict) -> dict:
    items = {}
    for i in api_day["items"]:
        row = {k: v for k, v in i.items() if k not in ("item_key", "exercise", "time_of_day")}
        row["exercise"] = i["exercise"]["id"]
        items[i["item_key"]] = row
    return {"date": api_day["date"], "paused": api_day["paused"], "items": items}


@pytest.fixture
def short_windows(app):
    saved = {k: app.config[k] for k in ("SESSION_BACKFILL_DAYS", "SESSION_EDIT_WINDOW_HOURS")}
    app.config.update(SESSION_BACKFILL_DAYS=BACKFILL_DAYS, SESSION_EDIT_WINDOW_HOURS=EDIT_HOURS)
    yield
    app.config.update(saved)


# An example costs about a second (a history of up to 45 days written and read through the API):
# `make test` runs the same few each time; CI (--slow) new ones on each run and each database,
# about 25 s more per database.
DEFAULT_EXAMPLES, SLOW_EXAMPLES = 4, 25


def _property(examples: int, derandomize: bool):
    return settings(max_examples=examples, deadline=None, derandomize=derandomize, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


@_property(DEFAULT_EXAMPLES, derandomize=True)
@given(history=histories)
def test_the_api_counts_as_the_model(client, app, world, short_windows, history):
    _check(client, app, world, history)


@pytest.mark.slow
@_property(SLOW_EXAMPLES, derandomize=False)
@given(history=histories)
def test_the_api_counts_as_the_model_at_length(client, app, world, short_windows, history):
    _check(client, app, world, history)
