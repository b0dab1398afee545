"""Reminders at scale, in-process against a real database (SQLite file, PostgreSQL):

- the materialiser for 1,000 and 10,000 patients (each: a login, a plan with a daily item and
  a 5-a-week item, in four time zones): time, and SQL statements counted two ways: the
  statements the code executes (which must not grow with patients) and the driver round
  trips (the one bulk upsert is sent in pages of rows, so those grow with rows);
- dispatch throughput: notifications claimed and delivered to the in-app inbox per second,
  by one and by two dispatcher processes over the same due rows.

Figures, not assertions. `--smoke` runs tiny sizes to check the script works.
"""
import multiprocessing as mp
import os
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("LOG_LEVEL", "WARNING")

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, func, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from app.auth.models import User  # noqa: E402
from app.common.seeding import seed_loaders  # noqa: E402
from app.exercises.models import Exercise  # noqa: E402
from app.extensions import db  # noqa: E402
from app.patients.models import Patient  # noqa: E402
from app.plans.models import Plan, PlanItem, PlanVersion  # noqa: E402
from app.reminders.dispatch import dispatch  # noqa: E402
from app.reminders.materialise import materialise  # noqa: E402
from app.reminders.models import Notification  # noqa: E402
from harness import fresh_database  # noqa: E402

ZONES = ["Asia/Shanghai", "Europe/London", "America/Los_Angeles", "Australia/Sydney"]


def make_app(url: str):
    return create_app({"SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
                       "RATELIMIT_ENABLED": False})


def populate(n: int) -> None:
    exercises = {e.slug: e.id for e in db.session.scalars(select(Exercise))}
    start = date.today() - timedelta(days=30)
    now = datetime.now(timezone.utc)
    patients, users, plans, versions, items = [], [], [], [], []
    for i in range(n):
        pid, plan_id, version_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        patients.append({"id": pid, "display_name": "Bench", "date_of_birth": date(1980, 1, 1), "sex": "unknown",
                         "injury_date": date(2020, 1, 1), "neurological_level": "T10", "ais_grade": "A",
                         "time_zone": ZONES[i % len(ZONES)], "language": "en", "known_fractures": [],
                         "created_at": now, "updated_at": now})
        users.append({"id": uuid.uuid4(), "email": f"bench{i}@example.org", "password_hash": "x", "role": "patient",
                      "display_name": "Bench", "patient_id": pid, "is_active": True, "failed_logins": 0,
                      "created_at": now})
        plans.append({"id": plan_id, "patient_id": pid, "name": "Combined", "start_date": start, "created_at": now})
        versions.append({"id": version_id, "plan_id": plan_id, "number": 1, "effective_from": start,
                         "warnings_acknowledged": [], "created_at": now})
        items.append({"id": uuid.uuid4(), "version_id": version_id, "item_key": uuid.uuid4(), "position": 0,
                      "exercise_id": exercises["passive-standing"], "minutes": 60, "sessions_per_week": 5,
                      "time_of_day": "10:00", "start_date": start})
        items.append({"id": uuid.uuid4(), "version_id": version_id, "item_key": uuid.uuid4(), "position": 1,
                      "exercise_id": exercises["passive-range-of-motion"], "minutes": 15, "days_mask": 0b1111111,
                      "time_of_day": "20:00", "start_date": start})
    for model, rows in ((Patient, patients), (User, users), (Plan, plans), (PlanVersion, versions), (PlanItem, items)):
        for i in range(0, len(rows), 5000):
            db.session.execute(insert(model), rows[i:i + 5000])
    db.session.commit()


def measure_materialiser(kind: str, n: int) -> dict:
    app = make_app(fresh_database(kind, "_reminders"))
    with app.app_context():
        upgrade()
        for loader in seed_loaders(app):
            loader()
        populate(n)
        executed, round_trips = [], []
        event.listen(db.engine, "before_execute", lambda *a: executed.append(1))
        event.listen(db.engine, "before_cursor_execute", lambda *a: round_trips.append(1))
        started = time.perf_counter()
        result = materialise(datetime.now(timezone.utc))
        seconds = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return {"n": n, "seconds": seconds, "rows": result["rows"], "statements": len(executed),
            "round_trips": len(round_trips)}


def _dispatcher(url: str, now, ready, go, out):
    app = make_app(url)
    with app.app_context():
        db.session.execute(select(1))
        ready.set()
        go.wait(timeout=60)
        started = time.perf_counter()
        result = dispatch(now, max_batches=10_000)
        out.put((result["sent"], time.perf_counter() - started))


def measure_dispatch(kind: str, rows: int, dispatchers: int) -> dict:
    url = fresh_database(kind, "_dispatch")
    app = make_app(url)
    now = datetime.now(timezone.utc)
    with app.app_context():
        upgrade()
        recipients = []
        for i in range(0, 1000):
            pid = uuid.uuid4()
            recipients.append(({"id": uuid.uuid4(), "email": f"d{i}@example.org", "password_hash": "x",
                                "role": "patient", "display_name": "x", "patient_id": pid, "is_active": True,
                                "failed_logins": 0, "created_at": now},
                               {"id": pid, "display_name": "x", "date_of_birth": date(1980, 1, 1), "sex": "unknown",
                                "injury_date": date(2020, 1, 1), "neurological_level": "T10", "ais_grade": "A",
                                "time_zone": "Europe/London", "language": "en", "known_fractures": [],
                                "created_at": now, "updated_at": now}))
        db.session.execute(insert(Patient), [p for _, p in recipients])
        db.session.execute(insert(User), [u for u, _ in recipients])
        batch = []
        for i in range(rows):
            user, patient = recipients[i % len(recipients)]
            batch.append({"id": uuid.uuid4(), "recipient_user_id": user["id"], "patient_id": patient["id"],
                          "kind": "plan_reminder", "dedupe_key": f"bench:{i}", "due_at": now - timedelta(seconds=1),
                          "status": "pending", "attempts": 0, "materialised": False, "created_at": now,
                          "payload": {"exercise": {"en": "Standing"}, "minutes": 30, "time": "10:00"}})
            if len(batch) == 5000:
                db.session.execute(insert(Notification), batch)
                batch = []
        if batch:
            db.session.execute(insert(Notification), batch)
        db.session.commit()
        db.engine.dispose()
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    readies = [ctx.Event() for _ in range(dispatchers)]
    procs = [ctx.Process(target=_dispatcher, args=(url, now, ready, go, out)) for ready in readies]
    for proc in procs:
        proc.start()
    for ready in readies:
        ready.wait(timeout=120)
    started = time.perf_counter()
    go.set()
    results = [out.get(timeout=600) for _ in procs]
    wall = time.perf_counter() - started
    for proc in procs:
        proc.join(timeout=60)
    with app.app_context():
        sent = db.session.scalar(select(func.count()).where(Notification.status == "sent"))
        db.engine.dispose()
    return {"rows": rows, "dispatchers": dispatchers, "sent": sent, "seconds": wall,
            "per_dispatcher": [r[0] for r in results]}


def main(kinds, sizes, rows):
    for kind in kinds:
        previous = None
        for n in sizes:
            m = measure_materialiser(kind, n)
            growth = (f"  (x{m['seconds'] / previous['seconds']:.1f} time, statements {previous['statements']} -> "
                      f"{m['statements']} for x{n // previous['n']} patients)") if previous else ""
            print(f"[{kind}] materialise {n:>6} patients: {m['rows']} rows in {m['seconds']:.2f} s "
                  f"({m['seconds'] / n * 1000:.2f} ms/patient), {m['statements']} statements executed, "
                  f"{m['round_trips']} driver round trips{growth}", flush=True)
            previous = m
        for dispatchers in (1, 2):
            d = measure_dispatch(kind, rows, dispatchers)
            print(f"[{kind}] dispatch {d['rows']} inbox notifications with {dispatchers} dispatcher(s): "
                  f"{d['sent']} sent in {d['seconds']:.2f} s = {d['sent'] / d['seconds']:.0f}/s "
                  f"(split {d['per_dispatcher']})", flush=True)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--smoke" in sys.argv:
        main(args or ["sqlite", "postgresql"], (100, 400), 2000)
    else:
        main(args or ["sqlite", "postgresql"], (1000, 10000), 20000)
