"""Adherence for 1,000 and 10,000 patients with 90 days of sessions: time and SQL statements.

In-process against a real database (SQLite file, PostgreSQL), bulk-loaded with Core inserts, and the
sessions' day rollups counted from them (what the session writes keep; adherence_many reads them).
Each patient: one plan (standing 5 a week, FES on Mon/Wed/Fri), sessions over 90 days at a
personal adherence between 30% and 100%. Figures, not assertions. Each line ends with the ratio to
one raw SQL GROUP BY over the same 90 days of session rows (issue 14's yardstick), and to the least
Python that turns those rows into per-patient figures (adherence_floor.py: none of the counting rules)
and to the same counting done by SQL (least_sql there). It also says what reading adherence_many's
own data costs alone (its statements replayed, rows fetched) and how much time a patient that leaves
its Python within 3x of the raw GROUP BY. --reuse keeps the filled databases for the next run
(filling 10,000 patients takes minutes), --repeat keeps the best.
"""
import argparse
import os
import random
import sys
import time
import uuid
from datetime import date, datetime, time as dtime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("LOG_LEVEL", "WARNING")

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, func, insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.adherence.service import adherence_many  # noqa: E402
from app.common.seeding import seed_loaders  # noqa: E402
from app.exercises.models import Exercise  # noqa: E402
from app.extensions import db  # noqa: E402
from app.patients.models import Patient  # noqa: E402
from app.plans.models import Plan, PlanItem, PlanVersion  # noqa: E402
from app.sessions import rollups  # noqa: E402
from app.sessions.models import ExerciseSession, SessionFeed  # noqa: E402
from adherence_floor import least_python, least_sql  # noqa: E402
from harness import fresh_database, kept_database  # noqa: E402

DAYS = 90
ZONES = ["Asia/Shanghai", "Europe/London", "America/Los_Angeles", "Australia/Sydney"]


def populate(n: int, today: date) -> int:
    rng = random.Random(n)
    exercises = {e.slug: e.id for e in db.session.scalars(select(Exercise))}
    start = today - timedelta(days=DAYS + 7)
    now = datetime.now(timezone.utc)
    patients, plans, versions, items, sessions, feeds = [], [], [], [], [], []
    for _ in range(n):
        pid, plan_id, version_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        patients.append({"id": pid, "display_name": "Bench", "date_of_birth": date(1980, 1, 1), "sex": "unknown",
                         "injury_date": date(2020, 1, 1), "neurological_level": "T10", "ais_grade": "A",
                         "time_zone": rng.choice(ZONES), "language": "en", "known_fractures": [],
                         "created_at": now, "updated_at": now})
        plans.append({"id": plan_id, "patient_id": pid, "name": "Combined", "start_date": start, "created_at": now})
        versions.append({"id": version_id, "plan_id": plan_id, "number": 1, "effective_from": start,
                         "warnings_acknowledged": [], "created_at": now})
        standing, fes = uuid.uuid4(), uuid.uuid4()
        items.append({"id": uuid.uuid4(), "version_id": version_id, "item_key": standing, "position": 0,
                      "exercise_id": exercises["passive-standing"], "minutes": 60, "sessions_per_week": 5,
                      "start_date": start})
        items.append({"id": uuid.uuid4(), "version_id": version_id, "item_key": fes, "position": 1,
                      "exercise_id": exercises["fes-cycling"], "minutes": 30, "days_mask": 0b10101,
                      "start_date": start})
        p = rng.uniform(0.3, 1.0)
        first = len(sessions)
        for offset in range(DAYS):
            day = today - timedelta(days=offset)
            for key, exercise, minutes, due in ((standing, "passive-standing", 60, day.weekday() < 5),
                                                (fes, "fes-cycling", 30, day.weekday() in (0, 2, 4))):
                if due and rng.random() < p:
                    started = datetime.combine(day, dtime(10, 0), tzinfo=timezone.utc)
                    sessions.append({"id": uuid.uuid4(), "patient_id": pid, "item_key": key, "plan_id": plan_id,
                                     "exercise_id": exercises[exercise], "started_at": started, "local_date": day,
                                     "duration_minutes": minutes, "measures": {}, "symptoms": [], "alerts": [],
                                     "needs_review": False, "body_hash": "bench", "revision": 1,
                                     "feed_position": len(sessions) - first + 1,
                                     "logged_by_role": "patient", "created_at": now, "updated_at": now})
        feeds.append({"patient_id": pid, "position": len(sessions) - first})
    for model, rows in ((Patient, patients), (Plan, plans), (PlanVersion, versions), (PlanItem, items),
                        (ExerciseSession, sessions), (SessionFeed, feeds)):
        for i in range(0, len(rows), 5000):
            db.session.execute(insert(model), rows[i:i + 5000])
    rollups.rebuild(db.session.connection(), [p["id"] for p in patients])  # as the session writes keep them
    db.session.commit()
    return len(sessions)


def populated_app(kind: str, n: int, reuse: bool = False):
    """(app, sessions) over a migrated, seeded database holding n patients' 90 days, filled now; with
    reuse, a kept database (harness.kept_database) filled on an earlier run of the same day is used
    as it is (filling 10,000 patients takes minutes)."""
    url = kept_database(kind, f"adherence_{n}") if reuse else fresh_database(kind)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://"),
                      "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        today = date.today()
        if reuse and db.session.scalar(select(func.count(Patient.id))):
            if db.session.scalar(select(func.max(ExerciseSession.local_date))) == today:
                return app, db.session.scalar(select(func.count(ExerciseSession.id)))
            for table in reversed(db.metadata.sorted_tables):  # filled on another day: fill it again
                db.session.execute(table.delete())
            db.session.commit()
        for loader in seed_loaders(app):
            loader()
        n_sessions = populate(n, today)
        if kind == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        db.session.remove()
    return app, n_sessions


def raw_aggregate(since: date):
    """The session rows adherence reads, aggregated by SQL alone (what the database needs to read them)."""
    stmt = (select(ExerciseSession.patient_id, func.count(), func.count(func.distinct(ExerciseSession.local_date)),
                   func.sum(ExerciseSession.duration_minutes), func.max(ExerciseSession.started_at))
            .where(ExerciseSession.deleted_at.is_(None), ExerciseSession.local_date >= since)
            .group_by(ExerciseSession.patient_id))
    return db.session.execute(stmt).all()


def replay(driver, sent: list) -> int:
    """adherence_many's own statements, as it sent them, run again on the driver with every row
    fetched and none turned into figures: what reading its data costs before any of its Python."""
    cursor = driver.cursor()
    rows = 0
    for sql, params in sent:
        cursor.execute(sql, params)
        rows += len(cursor.fetchall())
    return rows


def _best(func_, repeat: int, statements: list) -> tuple:
    """(result, wall seconds, this process's CPU seconds, statements) of the fastest of repeat runs."""
    best = None
    for _ in range(repeat):
        statements.clear()
        started, cpu = time.perf_counter(), time.process_time()
        result = func_()
        run = (result, time.perf_counter() - started, time.process_time() - cpu, len(statements))
        best = run if best is None or run[1] < best[1] else best
    return best


def measure(kind: str, n: int, reuse: bool = False, repeat: int = 1) -> dict:
    app, n_sessions = populated_app(kind, n, reuse)
    with app.app_context():
        statements = []
        listener = lambda _conn, _cursor, sql, params, *_rest: statements.append((sql, params))  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        _, raw_s, raw_cpu, _ = _best(lambda: raw_aggregate(date.today() - timedelta(days=DAYS)), repeat, statements)
        driver = db.session.connection().connection.dbapi_connection
        today = date.today()
        _, least_s, least_cpu, _ = _best(lambda: least_python(driver, kind, today - timedelta(days=DAYS - 1), today),
                                         repeat, statements)
        _, sql_s, sql_cpu, _ = _best(lambda: least_sql(driver, kind, today - timedelta(days=DAYS - 1), today),
                                     repeat, statements)
        db.session.rollback()
        result, seconds, cpu, queries = _best(lambda: adherence_many(select(Patient.id), 90), repeat, statements)
        event.remove(db.engine, "before_cursor_execute", listener)
        sent = list(statements)
        _, read_s, read_cpu, _ = _best(lambda: replay(driver, sent), repeat, [])
        rates = sorted(r["session_rate"] for r in result.values() if r["session_rate"] is not None)
        db.session.remove()
        db.engine.dispose()
    return {"patients": len(result), "sessions": n_sessions, "seconds": seconds, "cpu": cpu, "raw_s": raw_s,
            "raw_cpu": raw_cpu, "least_s": least_s, "least_cpu": least_cpu, "read_s": read_s, "read_cpu": read_cpu,
            "sql_s": sql_s,
            "statements": queries,
            "median_rate": rates[len(rates) // 2]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kinds", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--reuse", action="store_true", help="keep the filled databases for the next run")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measure: the fastest")
    args = parser.parse_args()
    for kind in args.kinds:
        previous = None
        for n in args.sizes:
            m = measure(kind, n, args.reuse, args.repeat)
            growth = f"  x{m['seconds'] / previous['seconds']:.1f} time for x{n // previous['patients']} patients" if previous else ""
            print(f"[{kind}] {m['patients']:>6} patients, {m['sessions']:>7} sessions (90 days): adherence in "
                  f"{m['seconds']:.2f} s ({m['seconds'] / m['patients'] * 1000:.2f} ms/patient; this process's CPU "
                  f"{m['cpu']:.2f} s), {m['statements']} SQL statements, median rate {m['median_rate']:.2f}; "
                  f"x{m['seconds'] / m['raw_s']:.1f} a raw SQL GROUP BY over the same rows ({m['raw_s']:.3f} s, "
                  f"CPU {m['raw_cpu']:.3f} s){growth}", flush=True)
            budget = (3 * m["raw_s"] - m["read_s"]) / m["patients"] * 1e6
            print(f"    reading alone (adherence_many's {m['statements']} statements replayed on the driver, rows "
                  f"fetched, no Python on them): {m['read_s']:.2f} s, x{m['read_s'] / m['raw_s']:.1f} the raw GROUP BY; "
                  f"within 3x, the rest (Python) would have {budget:.0f} µs a patient; it takes "
                  f"{(m['seconds'] - m['read_s']) / m['patients'] * 1e6:.0f}", flush=True)
            print(f"    the least Python over the same rows (adherence_floor.py, none of the rules): "
                  f"{m['least_s']:.2f} s, x{m['least_s'] / m['raw_s']:.1f} the raw GROUP BY; adherence is "
                  f"x{m['seconds'] / m['least_s']:.1f} it", flush=True)
            print(f"    the same counting by SQL (adherence_floor.least_sql: its rows are the figures, no streak): "
                  f"{m['sql_s']:.2f} s, x{m['sql_s'] / m['raw_s']:.1f} the raw GROUP BY", flush=True)
            if kind == "sqlite":  # SQLite runs in this process: CPU against CPU holds on a loaded machine
                print(f"    in CPU: x{m['cpu'] / max(m['raw_cpu'], 1e-9):.1f} the raw GROUP BY's; the least Python "
                      f"x{m['least_cpu'] / max(m['raw_cpu'], 1e-9):.1f}", flush=True)
            previous = m


if __name__ == "__main__":
    main()
