"""Streaks of any length, and the last session, without reading a patient's whole history.

A patient's streak is counted back from today (metrics.walk). Every day older than the
settled margin (the backfill window, or the edit window if longer, plus two days for time
zones) can no longer change: no session can be logged, edited or deleted on it, and plans
change from the patient's today on. So a checkpoint stores the streak as it stood at the end of
such a day; a read counts back from today to the checkpoint and adds it when the streak reaches
it. The checkpoint is advanced (at most weekly) by the session writes, which a patient with a
running streak keeps making; reads never write. Without a usable checkpoint, a read loads the
older sessions of the patients whose streak reaches back that far: one more query, whatever
their number. A write on a day at or before a checkpoint (possible only after the windows were
widened) drops it for a recomputation; so does a change of these rules (RULES_VERSION).
"""
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import NamedTuple

from flask import current_app
from sqlalchemy import Date, bindparam, case, func, select
from sqlalchemy.exc import SQLAlchemyError

from app.adherence import loading
from app.adherence.metrics import Tally, walk
from app.adherence.models import StreakCheckpoint
from app.common.clock import now_utc
from app.common.db import reading, upsert
from app.common.sql_functions import dialect_function
from app.extensions import db
from app.plans import service as plans
from app.plans.loading import AT, core_rows, matches, patients_statement, spec_branch, specs_from_rows, specs_statement
from app.plans.schedule import NOTHING_LOGGED, Calendar, Logged, joined_levels, week_start

RULES_VERSION = 1
REFRESH_DAYS = 7    # a checkpoint is advanced when it is this far behind the settled day
LOOKBACK_CAP = 28   # checkpoints older than the margin plus this are read in a second query

log = logging.getLogger(__name__)
DAY = timedelta(days=1)


def settled_margin() -> int:
    cfg = current_app.config
    return max(cfg["SESSION_BACKFILL_DAYS"], -(-cfg["SESSION_EDIT_WINDOW_HOURS"] // 24)) + 2


CHECKPOINT_ROW = 20  # (after loading's own kinds, read with it by load_one)
_PATIENT, _SETTLED, _STREAK = AT["patient_id"], AT["start_date"], AT["minutes"]


def _specs_and_checkpoints_statement(ids, *more):
    # The checkpoints in the plans' statement: patient_id, settled_through in start_date,
    # streak_days in minutes.
    checkpoint = StreakCheckpoint.__table__.c
    checkpoints = spec_branch(CHECKPOINT_ROW, patient_id=checkpoint.patient_id,
                              start_date=checkpoint.settled_through, minutes=checkpoint.streak_days,
                              where=[matches(checkpoint.patient_id, ids), checkpoint.rules_version == RULES_VERSION])
    return specs_statement(ids, checkpoints, *more)


# SQLite: 'weekday 0' moves on to the Sunday ending that week (the day itself if a Sunday), whose
# Monday is 6 days before. PostgreSQL: as a timestamp without zone, since date_trunc of a date
# would take the session's time zone.
_MondayAfter = dialect_function(
    "_MondayAfter", Date(),
    "week_start(day + 1 day) in SQL, for a date column (app/plans/schedule.py: weeks start on Monday).",
    sqlite="date({}, '+1 day', 'weekday 0', '-6 days')",
    postgresql="CAST(date_trunc('week', CAST({} + 1 AS TIMESTAMP)) AS DATE)")


def _one_patient_statement(ids):
    # The specs and checkpoint statement with the sessions load() reads after it, from the Monday
    # _loaded_from gives (the checkpoint's, when usable and not older than the cap, if earlier
    # than the start's), and the last session's start (loading.last_started_branch). That Monday
    # once, in a CTE: psycopg caches the parsing of statements of at most 4 KiB only.
    checkpoint = StreakCheckpoint.__table__.c
    monday = _MondayAfter(checkpoint.settled_through)
    start = bindparam("start", type_=Date())
    reach = (select(case((monday < start, monday), else_=start).label("day"))
             .where(checkpoint.patient_id == ids, checkpoint.rules_version == RULES_VERSION,
                    checkpoint.settled_through <= bindparam("usable_through"), monday >= bindparam("cap"))
             .cte("reach"))
    low = func.coalesce(select(reach.c.day).scalar_subquery(), start)
    end = bindparam("end", type_=Date())
    return _specs_and_checkpoints_statement(ids, loading.session_branch(loading.SESSION_ROW, ids, low, end),
                                            loading.last_started_branch(loading.LAST_STARTED_ROW, ids, low, end))


def _specs_and_checkpoints(patient_ids) -> tuple[dict, dict]:
    """({patient_id: [PlanSpec]}, {patient_id: (settled_through, streak_days)}): one query."""
    others: list = []
    specs = specs_from_rows(core_rows(*patients_statement(_specs_and_checkpoints_statement, patient_ids)).all(), others)
    return specs, {row[_PATIENT]: (row[_SETTLED], row[_STREAK]) for row in others}


@dataclass
class History:
    """What the metrics of many patients read: {patient_id: ...} each."""

    specs: dict
    logged: dict        # sessions with local dates from loaded_from to the latest today
    loaded_from: date
    streaks: dict
    last_session_at: dict
    calendars: dict = field(default_factory=dict)  # each patient's plans day by day, once
    tallies: dict = field(default_factory=dict)    # each patient's sessions counted by day, once

    def calendar(self, patient_id) -> Calendar:
        found = self.calendars.get(patient_id)
        if found is None:
            found = self.calendars[patient_id] = Calendar(self.specs.get(patient_id, []))
        return found

    def tally(self, patient_id) -> Tally:
        found = self.tallies.get(patient_id)
        if found is None:
            found = self.tallies[patient_id] = Tally(self.logged.get(patient_id, ()))
        return found


def load(patient_ids, todays: dict, earliest: date) -> History:
    """Plans, sessions from `earliest` (or earlier), streaks and last sessions of the patients
    whose local today is in `todays`. At most five queries, whatever the number of patients."""
    specs, checkpoints = _specs_and_checkpoints(patient_ids)
    usable, loaded_from = _loaded_from(checkpoints, todays, earliest)
    tallies, last = loading.tallies(patient_ids, loaded_from, max(todays.values()))
    history = _counted(specs, usable, loaded_from, tallies, last, todays)
    lapsed = [pid for pid in todays if pid not in last]
    if lapsed:
        last |= loading.last_started(lapsed, loaded_from)
    return history


def load_one(patient_id, today: date, earliest: date) -> History:
    """load() of one patient in one query (plus _finish's, for a streak older than its reach):
    the sessions' lower bound, which depends on the checkpoint, is computed in SQL as
    _loaded_from computes it here."""
    margin = timedelta(days=settled_margin())
    statement, params = patients_statement(_one_patient_statement, [patient_id])
    params |= {"start": week_start(earliest), "end": today, "usable_through": today - margin - DAY,
               "cap": today - margin - timedelta(days=LOOKBACK_CAP)}
    others: list = []
    specs = specs_from_rows(core_rows(statement, params).all(), others)
    checkpoints = {row[_PATIENT]: (row[_SETTLED], row[_STREAK]) for row in others if row[0] == CHECKPOINT_ROW}
    todays = {patient_id: today}
    usable, loaded_from = _loaded_from(checkpoints, todays, earliest)
    tally, last = loading.tally_and_last(others)
    return _counted(specs, usable, loaded_from, {patient_id: tally} if tally else {},
                    {patient_id: last} if last else {}, todays)


def _loaded_from(checkpoints: dict, todays: dict, earliest: date) -> tuple[dict, date]:
    """(the usable checkpoints, the Monday the sessions are read from)."""
    margin = timedelta(days=settled_margin())
    cap = min(todays.values()) - margin - timedelta(days=LOOKBACK_CAP)
    usable = {pid: ck for pid, ck in checkpoints.items()
              if pid in todays and ck[0] <= todays[pid] - margin - DAY}
    loaded_from = week_start(min([earliest, *(week_start(s + DAY) for s, _ in usable.values()
                                              if week_start(s + DAY) >= cap)]))
    return usable, loaded_from


def _counted(specs: dict, usable: dict, loaded_from: date, tallies: dict, last: dict, todays: dict) -> History:
    calendars = {pid: Calendar(specs.get(pid, [])) for pid in todays}
    streaks, unfinished = {}, {}
    for pid, today in todays.items():
        checkpoint = usable.get(pid)
        reach = checkpoint is not None and week_start(checkpoint[0] + DAY) >= loaded_from
        first = checkpoint[0] + DAY if reach else loaded_from
        count, ended = walk(calendars[pid], tallies.get(pid, NOTHING_LOGGED), today, today, first)
        if ended or reach:
            streaks[pid] = count if ended else count + checkpoint[1]
        else:
            unfinished[pid] = count
    if unfinished:
        _finish(unfinished, todays, calendars, tallies, usable, loaded_from, streaks)
    return History(specs, {}, loaded_from, streaks, last, calendars, tallies)


def _finish(unfinished: dict, todays, calendars, tallies, usable, loaded_from: date, streaks: dict) -> None:
    """The streaks that reach back before the loaded sessions: one query for all of them."""
    lows = [week_start(usable[pid][0] + DAY) if pid in usable else None for pid in unfinished]
    low = None if None in lows else min(lows)
    older = loading.tallies(list(unfinished), low, loaded_from - DAY, last_sessions=False)[0]
    for pid, count in unfinished.items():
        newer = tallies.get(pid, NOTHING_LOGGED)
        logged = _joined(older[pid], newer) if pid in older else newer
        checkpoint = usable.get(pid)
        more, ended = walk(calendars[pid], logged, todays[pid], loaded_from - DAY,
                           checkpoint[0] + DAY if checkpoint else None)
        streaks[pid] = count + more + (checkpoint[1] if checkpoint and not ended else 0)


def _joined(older: Logged, newer: Logged) -> Logged:
    """The sessions of two reads whose days do not overlap (older's first), as one."""
    if newer.base is None:
        return older
    shift = newer.base - older.base
    levels = {key: joined_levels(older.levels.get(key, ()), newer.levels.get(key, ()), shift)
              for key in older.levels.keys() | newer.levels.keys()}
    return Logged(older.base, levels)


# --- kept up to date by the session writes ------------------------------------------------

_CHECKED = "adherence_checkpoint_checked"  # db.session.info: {(patient_id, local_date, change): needed}
_UNREAD = object()  # advance(row=): not read yet


CHECKPOINT_READ = "adherence_checkpoint"  # the checkpoint's row, read by the write's feed lock
_CHECKPOINT_COLUMNS = ("settled_through", "streak_days", "rules_version")


class _Checkpoint(NamedTuple):
    settled_through: date
    streak_days: int
    rules_version: int


def checkpoint_read(patient_id) -> list:
    """The checkpoint's columns as scalar subqueries, for the session write's feed lock to return
    (app.sessions.feed.read_with_lock): its freshness check then costs no statement."""
    checkpoint = StreakCheckpoint.__table__.c
    return [select(checkpoint[name]).where(checkpoint.patient_id == patient_id).scalar_subquery()
            for name in _CHECKPOINT_COLUMNS]


def on_session_saving(_sender, session, change: str, locked_reads=None, **_kw) -> None:
    """session_saving receiver (connected in app.adherence.register): whether the write needs its
    checkpoint advanced, as of the write's own transaction, where the usual answer (fresh) costs
    no statement (its row came with the feed lock: locked_reads) and no transaction of its own;
    the recompute, if any, waits for the commit (on_session_written). Nothing is written here."""
    key = (session.patient_id, session.local_date, change)
    read = locked_reads.get(CHECKPOINT_READ) if locked_reads else None
    row = _UNREAD if read is None else (_Checkpoint(*read) if read[0] is not None else None)
    db.session.info.setdefault(_CHECKED, {})[key] = advance(*key, now_utc(), check_only=True, row=row)


def on_session_written(_sender, session, change: str, **_kw) -> None:
    """session_written receiver (connected in app.adherence.register)."""
    now = now_utc()
    checked = db.session.info.get(_CHECKED)
    needed = checked.pop((session.patient_id, session.local_date, change), None) if checked else None
    if needed is False:  # checked in the write's transaction (on_session_saving): fresh
        return
    try:
        if needed is None:  # a write that sent no session_saving (a delete)
            # The usual answer (the checkpoint is fresh) is a read: it takes no write lock (SQLite).
            with reading():
                needed = advance(session.patient_id, session.local_date, change, now, check_only=True)
        if needed:
            db.session.commit()  # ends that read; the recompute runs under the write intent
            advance(session.patient_id, session.local_date, change, now)
    except SQLAlchemyError as error:
        # The session is stored; a missing checkpoint costs a later read one more query.
        db.session.rollback()
        log.warning("streak checkpoint not advanced: %s", type(error).__name__)


@cache
def _checkpoint_statement():
    # Built once, on the table: a delete's freshness check reads it (a PUT's comes with its feed lock).
    checkpoint = StreakCheckpoint.__table__.c
    return (select(*(checkpoint[name] for name in _CHECKPOINT_COLUMNS))
            .where(checkpoint.patient_id == bindparam("patient_id")))


def advance(patient_id, touched: date, change: str, now: datetime, check_only: bool = False,
            row=_UNREAD) -> bool:
    """Move the patient's checkpoint to the settled day, if it is a week behind; drop and
    recompute it when the write touched a day at or before it. Commits. check_only: only say
    whether it would recompute (True), writing nothing. row: the checkpoint's row as read in
    this transaction already (None: there is none), else it is read here."""
    margin = settled_margin()
    target = now.date() - timedelta(days=margin + 2)  # UTC date: every zone's local date is within a day
    if change != "created":  # an edit or delete also changed the session's previous day
        hours = current_app.config["SESSION_EDIT_WINDOW_HOURS"]
        touched = min(touched, (now - timedelta(hours=hours)).date() - 2 * DAY)
    # Within one unit of work (an offline batch), a checkpoint already found fresh is not read again.
    fresh = db.session.info.setdefault("adherence_fresh_checkpoints", {})
    if fresh.get((patient_id, target), touched) < touched:
        return False
    if row is _UNREAD:
        row = core_rows(_checkpoint_statement(), {"patient_id": patient_id}).first()
    base = row if (row is not None and row.rules_version == RULES_VERSION
                   and touched > row.settled_through and row.settled_through <= target) else None
    if base is not None and base.settled_through > target - timedelta(days=REFRESH_DAYS):
        fresh[(patient_id, target)] = base.settled_through
        return False
    if check_only:
        return True
    specs = plans.load_specs([patient_id]).get(patient_id, [])
    first = base.settled_through + DAY if base is not None else None
    logged = loading.tallies([patient_id], week_start(first) if first else None, target,
                             last_sessions=False)[0].get(patient_id)
    count, ended = walk(specs, logged or NOTHING_LOGGED, target + DAY, target, first)
    days = count if ended or base is None else count + base.streak_days
    upsert(StreakCheckpoint, {"patient_id": patient_id, "settled_through": target, "streak_days": days,
                              "rules_version": RULES_VERSION, "computed_at": now}, ["patient_id"])
    db.session.commit()
    fresh[(patient_id, target)] = target
    return True
