"""The rules sweep over 100, 1,000 and 10,000 patients (50,000 too on PostgreSQL with --large)
with 90 days of sessions: wall time, SQL statements, how both grow with the patients, and the
ratio to one raw SQL aggregate over the same session rows (what the database alone needs to
read them).

In-process against a real database, bulk-loaded as bench_adherence_scale.py does. The first
sweep opens the flags; the second is the steady state (conditions unchanged, nothing to write).
Figures, not assertions. `python bench/bench_rules_sweep.py sqlite --sizes 200` is a smoke run.
"""
import argparse
import os
import sys
import time
from datetime import date, datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("LOG_LEVEL", "WARNING")

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402

from app import create_app  # noqa: E402
from app.common.seeding import seed_loaders  # noqa: E402
from app.extensions import db  # noqa: E402
from app.rules import service as rules  # noqa: E402
from app.rules.definitions import enabled_rules  # noqa: E402
from app.rules.evaluators import history_days  # noqa: E402
from app.rules.models import Flag  # noqa: E402
from app.sessions.models import ExerciseSession  # noqa: E402
from bench_adherence_scale import populate  # noqa: E402
from harness import fresh_database  # noqa: E402


CPU: dict = {}  # label -> this process's CPU seconds (the machine may be shared: wall time waits for it)


def _timed(func_, counter, label=None):
    counter.clear()
    started, cpu = time.perf_counter(), time.process_time()
    result = func_()
    if label:
        CPU[label] = time.process_time() - cpu
    return result, time.perf_counter() - started, len(counter)


def raw_aggregate(today: date):
    """The session rows the sweep reads (its rules' longest window back), aggregated by SQL alone."""
    since = today - timedelta(days=history_days(enabled_rules()))
    stmt = (select(ExerciseSession.patient_id, func.count(), func.count(func.distinct(ExerciseSession.local_date)),
                   func.max(ExerciseSession.local_date))
            .where(ExerciseSession.deleted_at.is_(None), ExerciseSession.local_date >= since)
            .group_by(ExerciseSession.patient_id))
    return db.session.execute(stmt).all()


def measure(kind: str, n: int) -> dict:
    url = fresh_database(kind).replace("postgresql://", "postgresql+psycopg://")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        for loader in seed_loaders(app):
            loader()
        today = date.today()
        n_sessions = populate(n, today)
        now = datetime.now(timezone.utc)
        statements: list = []
        listener = lambda *args: statements.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        _, raw_s, raw_q = _timed(lambda: raw_aggregate(today), statements)
        first, first_s, first_q = _timed(lambda: rules.sweep(now), statements, "first")
        second, second_s, second_q = _timed(lambda: rules.sweep(now + timedelta(minutes=15)), statements, "second")
        event.remove(db.engine, "before_cursor_execute", listener)
        flags = db.session.scalar(select(func.count(Flag.id)))
        db.session.remove()
        db.engine.dispose()
    return {"patients": n, "sessions": n_sessions, "raw_s": raw_s, "raw_q": raw_q, "first": first,
            "first_cpu": CPU["first"], "second_cpu": CPU["second"],
            "first_s": first_s, "first_q": first_q, "second": second, "second_s": second_s, "second_q": second_q,
            "flags": flags}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kinds", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 10000])
    parser.add_argument("--large", action="store_true", help="also 50,000 patients (PostgreSQL only)")
    args = parser.parse_args()
    for kind in args.kinds:
        sizes = list(args.sizes) + ([50000] if args.large and kind == "postgresql" else [])
        previous = None
        for n in sizes:
            m = measure(kind, n)
            print(f"[{kind}] {m['patients']:>6} patients, {m['sessions']:>7} sessions (90 days; the sweep reads "
                  f"{history_days(enabled_rules())}+ days): raw SQL aggregate {m['raw_s']:.3f} s "
                  f"({m['raw_q']} statement)", flush=True)
            for label in ("first", "second"):
                totals, seconds, queries = m[label], m[f"{label}_s"], m[f"{label}_q"]
                print(f"    sweep ({label}): {seconds:.3f} s (app CPU {m[f'{label}_cpu']:.3f} s), "
                      f"{seconds / n * 1000:.2f} ms/patient, x{seconds / m['raw_s']:.1f} "
                      f"the raw aggregate; {queries} SQL statements in {totals['batches']} batches "
                      f"({queries / max(totals['batches'], 1):.1f} per batch); opened {totals['opened']}, "
                      f"updated {totals['updated']}, resolved {totals['resolved']}", flush=True)
            print(f"    flags stored: {m['flags']}", flush=True)
            if previous is not None:  # how the steady-state sweep grows with the patients
                grow = n / previous["patients"]
                print(f"    x{grow:g} patients: sweep time x{m['second_s'] / previous['second_s']:.1f}, "
                      f"SQL statements x{m['second_q'] / max(previous['second_q'], 1):.1f}", flush=True)
            previous = m


if __name__ == "__main__":
    main()
