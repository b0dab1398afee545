"""Settled weeks, counted once: many patients' windows read a row a week, not a row a session.

A week whose Sunday is settled (app/adherence/streaks.py: no session write, plan change or pause
can reach it any more) always counts the same. settle() counts each such week once, with the
one counting rule (metrics.item_metrics over Monday to Sunday), and stores it (AdherenceWeek):
per item what it expected, got, prescribed and logged, in order of first appearance, with the
item as on its last day; the week's sessions, minutes and days with data; and the week's
sessions themselves (item, weekday, minutes), from which a window that cuts the week counts its
days. Every week is stored, from the first with a plan or a session through the checkpoint's
weeks_through; there is nothing before the first.

A window [start, end] is then: the days before weeks_through+1 from the stored weeks (whole
weeks summed, a cut week counted from its stored sessions), the days after from the sessions
(app/adherence/loading.py reads only those). The figures are the same as counting every day
live, because a window's counts are sums over its weeks, each week cut to the window
(app/plans/schedule.py: window), and a settled week's cut does not depend on the day it is read.

The scheduler settles every patient daily (job adherence.settle, `flask adherence settle`);
reads never write, and a patient not settled yet is counted live. A write on a settled day
(possible only after the windows were widened) moves weeks_through back before it
(streaks.advance), and a change of the counting rules (streaks.RULES_VERSION) drops them all.
"""
import logging
from bisect import bisect_left, bisect_right
from datetime import date, datetime, timedelta

from sqlalchemy import Date, Integer, and_, bindparam, func, literal_column, select

from app.adherence.loading import day_text, packed_text
from app.adherence.metrics import Tally, item_metrics, patient_metrics, rate, walk
from app.adherence.models import AdherenceWeek, StreakCheckpoint
from app.common.db import upsert, writing
from app.common.memo import ParsedOnce
from app.extensions import db
from app.patients.models import Patient
from app.plans import service as plans
from app.plans.loading import NO_MOMENT, core_rows, id_text, matches
from app.plans.schedule import Calendar, week_start
from app.sessions.models import ExerciseSession

log = logging.getLogger(__name__)
DAY, WEEK, SIX_DAYS = timedelta(days=1), timedelta(days=7), timedelta(days=6)
BATCH_SIZE = 500


def last_sunday(day: date) -> date:
    """The last Sunday on or before day."""
    return day - timedelta(days=(day.weekday() + 1) % 7)


# --- counting and storing ------------------------------------------------------------------

def pack_week(calendar: Calendar, tally: Tally, sessions: list, monday: date) -> str:
    """The week's figures as AdherenceWeek stores them, six fields:
    "monday|sessions;minutes;days|key:exercise:plan;...|due;done;prescribed;logged;...|key:minutes;...|key.weekday.minutes;..."
    the week's items in force (first appearance order) and their figures; the minutes of the items
    logged but not in force that week (a window counts them for an item in force on another of
    its days); the sessions. Ids as hex, '' for an off-plan session's item.
    sessions: the week's (item_key or None, date, minutes)."""
    sunday = monday + SIX_DAYS
    items = item_metrics(calendar, tally, monday, sunday, sunday)
    keys = ";".join(f"{i['item_key'].hex}:{i['exercise_id'].hex}:{i['plan_id'].hex}" for i in items.values())
    numbers = ";".join(f"{i['expected_sessions']};{i['completed_sessions']};{i['prescribed_minutes']};"
                       f"{i['logged_minutes']}" for i in items.values())
    others: dict = {}
    for key, _day, minutes in sessions:
        if key is not None and key not in items:
            others[key] = others.get(key, 0) + minutes
    orphans = ";".join(f"{key.hex}:{minutes}" for key, minutes in others.items())
    logged = ";".join(f"{key.hex if key is not None else ''}.{day.weekday()}.{minutes}"
                      for key, day, minutes in sessions)
    totals = f"{len(sessions)};{sum(s[2] for s in sessions)};{len({s[1] for s in sessions})}"
    return f"{monday.isoformat()}|{totals}|{keys}|{numbers}|{orphans}|{logged}"


def settle(now: datetime, patient_ids=None, batch_size: int = BATCH_SIZE) -> dict:
    """Store every newly settled week of the patients (default: all), and move their streak
    checkpoints to the settled day: in batches, each a fixed number of queries and its own
    transaction. Returns {"patients", "weeks"} written."""
    totals = {"patients": 0, "weeks": 0}
    with writing():
        db.session.commit()
        for batch in _batches(patient_ids, batch_size):
            patients, weeks = settle_batch(batch, now)
            db.session.commit()
            totals["patients"] += patients
            totals["weeks"] += weeks
    return totals


def _batches(patient_ids, size: int):
    if patient_ids is not None:
        ids = list(patient_ids)
        for first in range(0, len(ids), size):
            yield ids[first:first + size]
        return
    last = None
    while True:  # keyset pages over the ids
        stmt = select(Patient.id).order_by(Patient.id).limit(size)
        if last is not None:
            stmt = stmt.where(Patient.id > last)
        ids = list(db.session.scalars(stmt))
        if not ids:
            return
        yield ids
        last = ids[-1]


def settle_batch(patient_ids: list, now: datetime) -> tuple[int, int]:
    """settle() of one batch, in the session's transaction (not committed): (patients, weeks) written."""
    from app.adherence.streaks import RULES_VERSION, settled_margin

    target = now.date() - timedelta(days=settled_margin() + 2)  # as streaks.advance: UTC, a day either side
    through = last_sunday(target)
    checkpoint = StreakCheckpoint.__table__.c
    found = {row.patient_id: row for row in core_rows(
        select(checkpoint.patient_id, checkpoint.settled_through, checkpoint.streak_days,
               checkpoint.rules_version, checkpoint.weeks_through).where(checkpoint.patient_id.in_(patient_ids)))}
    work = {}  # patient_id: (first Monday to count, or None: from the first data; the streak's base)
    for pid in patient_ids:
        row = found.get(pid)
        base = row if row is not None and row.rules_version == RULES_VERSION and row.settled_through <= target else None
        if base is not None and base.settled_through == target and base.weeks_through == through:
            continue  # settled already
        weeks_from = base.weeks_through + DAY if base is not None and base.weeks_through is not None else None
        work[pid] = (weeks_from, base)
    if not work:
        return 0, 0
    specs = plans.load_specs(list(work))
    sessions = _sessions(work, target)
    weeks, checkpoints = [], []
    for pid, (weeks_from, base) in work.items():
        logged = sessions.get(pid, [])
        calendar = Calendar(specs.get(pid, []))
        tally = Tally.of_rows(logged)
        if weeks_from is None:  # from the first week with a plan or a session (none before: nothing to count)
            firsts = [spec.start_date for spec in specs.get(pid, [])] + [day for _k, day, _m in logged[:1]]
            weeks_from = week_start(min(firsts)) if firsts else through + DAY
        days = [s[1] for s in logged]
        monday = weeks_from
        while monday + SIX_DAYS <= through:
            week = logged[bisect_left(days, monday):bisect_right(days, monday + SIX_DAYS)]
            weeks.append({"patient_id": pid, "week_start": monday, "figures": pack_week(calendar, tally, week, monday),
                          "computed_at": now})
            monday += WEEK
        first = base.settled_through + DAY if base is not None else None
        if first is not None and first > target:
            streak_days = base.streak_days
        else:
            count, ended = walk(calendar, tally.by_item, target + DAY, target, first)
            streak_days = count if ended or base is None else count + base.streak_days
        checkpoints.append({"patient_id": pid, "settled_through": target, "streak_days": streak_days,
                            "rules_version": RULES_VERSION, "computed_at": now, "weeks_through": through})
    if weeks:
        upsert(AdherenceWeek, weeks, ["patient_id", "week_start"])
    upsert(StreakCheckpoint, checkpoints, ["patient_id"])
    return len(checkpoints), len(weeks)


def _sessions(work: dict, target: date) -> dict:
    """{patient_id: [(item_key or None, local date, minutes)] in date order} through target, from
    the earliest day each group needs: all history for patients counted from their first data."""
    raw = ExerciseSession.__table__.c
    result: dict = {}
    groups: dict = {}
    for pid, (weeks_from, base) in work.items():
        lows = [weeks_from, week_start(base.settled_through + DAY) if base is not None else None]
        low = None if None in lows else min(lows)
        groups.setdefault(low is None, []).append((pid, low))
    for from_start, members in groups.items():
        ids = [pid for pid, _ in members]
        stmt = (select(raw.patient_id, raw.item_key, raw.local_date, raw.duration_minutes)
                .where(raw.patient_id.in_(ids), raw.deleted_at.is_(None), raw.local_date <= target)
                .order_by(raw.patient_id, raw.local_date))
        if not from_start:
            stmt = stmt.where(raw.local_date >= min(low for _, low in members))
        for pid, key, day, minutes in core_rows(stmt):
            result.setdefault(pid, []).append((key, day, minutes))
    return result


# --- reading -------------------------------------------------------------------------------

_DAYS = ParsedOnce(date.fromisoformat, kept=20_000)


def _uuid_triples(text: str) -> tuple:
    import uuid

    return tuple(tuple(map(uuid.UUID, entry.split(":"))) for entry in text.split(";")) if text else ()


_KEYS = ParsedOnce(_uuid_triples, kept=20_000)


def _logged_rows(text: str, monday: date) -> list:
    import uuid

    rows = []
    for entry in text.split(";") if text else ():
        key, weekday, minutes = entry.split(".")
        rows.append((uuid.UUID(key) if key else None, monday + timedelta(days=int(weekday)), int(minutes)))
    return rows


class RolledWeeks:
    """One patient's stored weeks through `through` (a Sunday), as read for a batch: the days
    up to it are counted from them, none from the sessions. Weeks not stored are empty."""

    __slots__ = ("through", "_mondays", "_weeks", "_tallies")

    def __init__(self, through: date, packed: str | None):
        self.through = through
        weeks = sorted(packed.split(",")) if packed else []  # each begins with its Monday (ISO: sorts as dates)
        self._mondays = [_DAYS[w[:10]] for w in weeks]
        self._weeks = [w.split("|") for w in weeks]  # [monday, totals, keys, numbers, others, logged]
        self._tallies: dict = {}

    def _week_tally(self, monday: date) -> Tally:
        found = self._tallies.get(monday)
        if found is None:
            index = bisect_left(self._mondays, monday)
            stored = index < len(self._mondays) and self._mondays[index] == monday
            found = self._tallies[monday] = Tally.of_rows(
                _logged_rows(self._weeks[index][5], monday) if stored else ())
        return found

    def _whole(self, first: date, last: date) -> list:
        """The stored weeks from the Monday first to the Sunday last."""
        return self._weeks[bisect_left(self._mondays, first):bisect_right(self._mondays, last)]

    def parts(self, start: date, end: date):
        """[start, end] as ("week", first, last, tally) for a cut stored week, ("weeks", first
        Monday, last Sunday) for whole stored weeks and ("live", first, last) after through, in
        date order."""
        stored_end = min(end, self.through)
        day = start
        while day <= stored_end:
            monday = week_start(day)
            sunday = monday + SIX_DAYS
            if day == monday and sunday <= stored_end:
                last = last_sunday(stored_end)
                yield "weeks", monday, last
                day = last + DAY
            else:
                last = min(sunday, stored_end)
                yield "week", day, last, self._week_tally(monday)
                day = last + DAY
        if end > self.through:
            yield "live", max(start, self.through + DAY), end

    def totals(self, first: date, last: date) -> tuple[int, int, int]:
        """(sessions, minutes, days with data) of the whole stored weeks from first to last."""
        weeks = self._whole(first, last)
        if not weeks:
            return 0, 0, 0
        numbers = list(map(int, ";".join(w[1] for w in weeks).split(";")))
        return sum(numbers[0::3]), sum(numbers[1::3]), sum(numbers[2::3])

    def other_minutes(self, key, first: date, last: date) -> int:
        """Minutes logged for the item in the whole stored weeks from first to last in which it was not in force."""
        weeks = self._whole(first, last)
        if not any(week[4] for week in weeks):
            return 0
        wanted, total = key.hex, 0
        for week in weeks:
            if week[4]:
                for entry in week[4].split(";"):
                    found, minutes = entry.split(":")
                    if found == wanted:
                        total += int(minutes)
        return total

    def add_items(self, items: dict, first: date, last: date) -> None:
        """Adds the whole stored weeks' item figures to items ({item_key: metrics item}), in
        order of first appearance; an item already there takes the week's item as its own.
        """
        weeks = self._whole(first, last)
        index = 0
        while index < len(weeks):
            keys = weeks[index][2]
            stop = index + 1
            while stop < len(weeks) and weeks[stop][2] == keys:  # a run of weeks of the same items
                stop += 1
            if keys:
                triples = _KEYS[keys]
                width = 4 * len(triples)
                numbers = list(map(int, ";".join(w[3] for w in weeks[index:stop]).split(";")))
                for position, (key, exercise_id, plan_id) in enumerate(triples):
                    at = 4 * position
                    due, done = sum(numbers[at::width]), sum(numbers[at + 1::width])
                    prescribed, spent = sum(numbers[at + 2::width]), sum(numbers[at + 3::width])
                    entry = items.get(key)
                    if entry is None:
                        items[key] = {"item_key": key, "exercise_id": exercise_id, "plan_id": plan_id,
                                      "expected_sessions": due, "completed_sessions": done, "session_rate": None,
                                      "prescribed_minutes": prescribed, "logged_minutes": spent}
                    else:
                        entry["exercise_id"], entry["plan_id"] = exercise_id, plan_id
                        entry["expected_sessions"] += due
                        entry["completed_sessions"] += done
                        entry["prescribed_minutes"] += prescribed
                        entry["logged_minutes"] += spent
            index = stop


def _add_live(items: dict, found: dict) -> None:
    for key, item in found.items():
        entry = items.get(key)
        if entry is None:
            items[key] = dict(item)
        else:
            entry["exercise_id"], entry["plan_id"] = item["exercise_id"], item["plan_id"]
            entry["expected_sessions"] += item["expected_sessions"]
            entry["completed_sessions"] += item["completed_sessions"]
            entry["prescribed_minutes"] += item["prescribed_minutes"]
            entry["logged_minutes"] += item["logged_minutes"]


def days_within(rolled: RolledWeeks | None, tally: Tally, start: date, end: date) -> int:
    """Days with any session in [start, end]."""
    if rolled is None or start > rolled.through:
        return tally.days_within(start, end)
    days = 0
    for part in rolled.parts(start, end):
        if part[0] == "weeks":
            days += rolled.totals(part[1], part[2])[2]
        else:
            days += (tally if part[0] == "live" else part[3]).days_within(part[1], part[2])
    return days


def window(calendar: Calendar, tally: Tally, rolled: RolledWeeks | None, start: date, end: date, today: date,
           streak_days: int | None, last_session_at) -> dict:
    """metrics.patient_metrics of [start, end], the stored weeks read for the days they hold."""
    if rolled is None or start > rolled.through:
        return patient_metrics(calendar, tally, start, end, today, streak_days, last_session_at)
    items: dict = {}
    sessions = minutes = 0
    counted_apart = []  # (part, the keys of its items in force): minutes of the other items are added below
    for part in rolled.parts(start, end):
        kind, first, last = part[:3]
        if kind == "weeks":
            rolled.add_items(items, first, last)
            found = rolled.totals(first, last)
            sessions, minutes = sessions + found[0], minutes + found[1]
            counted_apart.append((part, None))
        else:
            counted = tally if kind == "live" else part[3]
            found = item_metrics(calendar, counted, first, last, today)
            _add_live(items, found)
            sessions += counted.sessions_within(first, last)
            minutes += counted.minutes_within(first, last)
            counted_apart.append((part, found.keys()))
    # An item's logged minutes are all its sessions in the window, on days it was not in force too.
    for part, in_force in counted_apart:
        kind, first, last = part[:3]
        if kind == "weeks":
            for key in items:
                items[key]["logged_minutes"] += rolled.other_minutes(key, first, last)
        elif len(in_force) != len(items):
            counted = tally if kind == "live" else part[3]
            for key in items.keys() - in_force:
                items[key]["logged_minutes"] += counted.minutes_within(first, last, key)
    due = done = prescribed = 0
    for item in items.values():
        item["session_rate"] = rate(item["completed_sessions"], item["expected_sessions"])
        due += item["expected_sessions"]
        done += item["completed_sessions"]
        prescribed += item["prescribed_minutes"]
    return {
        "date_from": start, "date_to": end,
        "expected_sessions": due, "completed_sessions": done, "session_rate": rate(done, due),
        "prescribed_minutes": prescribed, "logged_minutes": minutes, "sessions_logged": sessions,
        "current_streak_days": streak_days, "last_session_at": last_session_at,
        "days_with_data_last_30": days_within(rolled, tally, today - timedelta(days=29), today),
        "items": list(items.values()),
    }


WEEKS_ROW = 13  # (after loading's own kinds)


def weeks_branch(ids, checkpoints, usable):
    """The stored weeks from bindparam "start" of the patients whose checkpoint (in the table
    `checkpoints`) is `usable`: a row each, (WEEKS_ROW, id, "weeks_through#figures,figures,...",
    NULL), in the columns of loading.sessions_after_branch."""
    week, checkpoint = AdherenceWeek.__table__.c, checkpoints.c
    reach = and_(week.patient_id == checkpoint.patient_id, week.week_start >= bindparam("start", type_=Date()),
                 week.week_start <= checkpoint.weeks_through)
    return (select(literal_column(str(WEEKS_ROW), Integer), id_text(checkpoint.patient_id),
                   day_text(checkpoint.weeks_through).concat("#").concat(func.coalesce(packed_text(week.figures), "")),
                   NO_MOMENT)
            .select_from(checkpoints.outerjoin(AdherenceWeek.__table__, reach))
            .where(matches(checkpoint.patient_id, ids), usable)
            .group_by(checkpoint.patient_id, checkpoint.weeks_through))
