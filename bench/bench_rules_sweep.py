"""The rules sweep over 100, 1,000 and 10,000 patients (50,000 too on PostgreSQL with --large)
with 90 days of sessions: wall time, SQL statements, how both grow with the patients, and the
ratio to one raw SQL aggregate over the same session rows (what the database alone needs to
read them).

In-process against a real database, bulk-loaded as bench_adherence_scale.py does. The first
sweep opens the flags; the second is the steady state (conditions unchanged, nothing to write).
Figures, not assertions. `python bench/bench_rules_sweep.py sqlite --sizes 200` is a smoke run.
`--repeat 3` runs each sweep three times on the same rows and keeps the best (the machine is
shared); `--profile` prints cProfile's top entries of one more steady-state sweep. Each line ends
with the figure before the adherence counting was reworked (BEFORE, main at dcaf06e).
"""
import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from datetime import date, datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("LOG_LEVEL", "WARNING")

from sqlalchemy import event, func, select  # noqa: E402

from app.extensions import db  # noqa: E402
from app.rules import service as rules  # noqa: E402
from app.rules.definitions import enabled_rules  # noqa: E402
from app.rules.evaluators import history_days  # noqa: E402
from app.rules.models import Flag  # noqa: E402
from app.sessions.models import ExerciseSession  # noqa: E402
from bench_adherence_scale import populated_app  # noqa: E402


CPU: dict = {}  # label -> this process's CPU seconds (the machine may be shared: wall time waits for it)

# The steady-state sweep before the counting was reworked (main at dcaf06e, this machine):
# (kind, patients) -> (seconds on a quiet machine, ratio to the raw aggregate then, this
# process's CPU seconds on 2026-12-01 15:00-15:20 UTC, best of 3, the machine shared).
BEFORE = {("sqlite", 1000): (2.25, 72.3, 2.11), ("sqlite", 10000): (26.0, 73.0, 20.18),
          ("postgresql", 1000): (3.4, 125.0, 1.83), ("postgresql", 10000): (33.0, 125.0, 18.43)}


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


def _best(runs: list) -> tuple:
    return min(runs, key=lambda run: run[1])


def _profile(now) -> str:
    profile = cProfile.Profile()
    profile.enable()
    rules.sweep(now)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(15)
    return out.getvalue()


def measure(kind: str, n: int, repeat: int = 1, profile: bool = False, reuse: bool = False) -> dict:
    app, n_sessions = populated_app(kind, n, reuse)
    with app.app_context():
        today = date.today()
        now = datetime.now(timezone.utc)
        statements: list = []
        listener = lambda *args: statements.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        raws = [_timed(lambda: raw_aggregate(today), statements, "raw") + (CPU["raw"],) for _ in range(repeat)]
        _, raw_s, raw_q, _ = _best(raws)
        raw_cpu = min(run[3] for run in raws)
        first, first_s, first_q = _timed(lambda: rules.sweep(now), statements, "first")
        runs = []
        for i in range(repeat):
            runs.append(_timed(lambda i=i: rules.sweep(now + timedelta(minutes=15 * (i + 1))), statements, "second")
                        + (CPU["second"],))
        second, second_s, second_q, CPU["second"] = _best(runs)
        event.remove(db.engine, "before_cursor_execute", listener)
        profiled = _profile(now + timedelta(hours=12)) if profile else ""
        flags = db.session.scalar(select(func.count(Flag.id)))
        db.session.remove()
        db.engine.dispose()
    return {"patients": n, "sessions": n_sessions, "raw_s": raw_s, "raw_q": raw_q, "raw_cpu": raw_cpu, "first": first,
            "first_cpu": CPU["first"], "second_cpu": CPU["second"],
            "first_s": first_s, "first_q": first_q, "second": second, "second_s": second_s, "second_q": second_q,
            "flags": flags, "profile": profiled}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kinds", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 10000])
    parser.add_argument("--large", action="store_true", help="also 50,000 patients (PostgreSQL only)")
    parser.add_argument("--repeat", type=int, default=1, help="steady-state sweeps (and raw aggregates): the best")
    parser.add_argument("--profile", action="store_true", help="cProfile of one more steady-state sweep")
    parser.add_argument("--reuse", action="store_true", help="keep the filled databases for the next run "
                        "(then the first sweep of a later run finds the flags of the earlier one)")
    args = parser.parse_args()
    for kind in args.kinds:
        sizes = list(args.sizes) + ([50000] if args.large and kind == "postgresql" else [])
        previous = None
        for n in sizes:
            m = measure(kind, n, args.repeat, args.profile, args.reuse)
            print(f"[{kind}] {m['patients']:>6} patients, {m['sessions']:>7} sessions (90 days; the sweep reads "
                  f"{history_days(enabled_rules())}+ days): raw SQL aggregate {m['raw_s']:.3f} s "
                  f"({m['raw_q']} statement; this process's CPU {m['raw_cpu']:.3f} s)", flush=True)
            for label in ("first", "second"):
                totals, seconds, queries = m[label], m[f"{label}_s"], m[f"{label}_q"]
                print(f"    sweep ({label}): {seconds:.3f} s (app CPU {m[f'{label}_cpu']:.3f} s), "
                      f"{seconds / n * 1000:.2f} ms/patient, x{seconds / m['raw_s']:.1f} "
                      f"the raw aggregate; {queries} SQL statements in {totals['batches']} batches "
                      f"({queries / max(totals['batches'], 1):.1f} per batch); opened {totals['opened']}, "
                      f"updated {totals['updated']}, resolved {totals['resolved']}", flush=True)
            if kind == "sqlite":  # SQLite runs in this process: CPU against CPU holds on a loaded machine
                print(f"    steady sweep in CPU: x{m['second_cpu'] / max(m['raw_cpu'], 1e-9):.1f} the raw aggregate's",
                      flush=True)
            before = BEFORE.get((kind, n))
            if before:
                print(f"    before (dcaf06e): {before[0]:.2f} s on a quiet machine, {before[0] / n * 1000:.2f} ms/patient, "
                      f"x{before[1]:.0f} the raw aggregate; app CPU {before[2]:.2f} s, now {m['second_cpu']:.2f} s "
                      f"(x{before[2] / m['second_cpu']:.1f} less)", flush=True)
            print(f"    flags stored: {m['flags']}", flush=True)
            if m["profile"]:
                print(m["profile"], flush=True)
            if previous is not None:  # how the steady-state sweep grows with the patients
                grow = n / previous["patients"]
                print(f"    x{grow:g} patients: sweep time x{m['second_s'] / previous['second_s']:.1f}, "
                      f"SQL statements x{m['second_q'] / max(previous['second_q'], 1):.1f}", flush=True)
            previous = m


if __name__ == "__main__":
    main()
