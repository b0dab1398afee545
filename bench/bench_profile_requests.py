"""In-process cost of the daily endpoints: ms per request (the best of three rounds of n), SQL
statements and Python calls per request, over the Flask test client (no server, no load
generator), so that changes can be judged on a shared machine. `--profile NAME` prints a cProfile of one endpoint (PROFILE_FILTER=app/ keeps
the lines that match; PROFILE_DUMP=file also writes the raw stats, for pstats' print_callers).

    .venv/bin/python bench/bench_profile_requests.py [sqlite] [postgresql] [--profile agenda] [-n 300]
"""
import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import event

from harness import BIN, ROOT, fresh_database

sys.path.insert(0, str(ROOT))


def _prepare(kind: str) -> str:
    url = fresh_database(kind, "_profile")
    env = dict(os.environ, DATABASE_URL=url, FLASK_APP="wsgi.py")
    for cmd in (["db", "upgrade"], ["seed"], ["demo"]):
        done = subprocess.run([str(BIN / "flask"), *cmd], cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"flask {' '.join(cmd)} failed:\n{done.stderr}")
    return url


def _body(item_key: str) -> dict:
    started = (datetime.now(timezone.utc) - timedelta(minutes=10)).isoformat()
    return {"item_key": item_key, "duration_minutes": 30, "pain": 1, "symptoms": [], "started_at": started}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kinds", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--profile")
    parser.add_argument("-n", type=int, default=200)
    args = parser.parse_args()
    for kind in args.kinds:
        print(f"[{kind}]", flush=True)
        subprocess.run([sys.executable, __file__, "--one", kind, "-n", str(args.n),
                        *(["--profile", args.profile] if args.profile else [])], check=True)


def one(kind: str, n: int, profile: str | None):
    """In a process of its own, so each database gets a fresh app."""
    args = argparse.Namespace(kind=kind, n=n, profile=profile)
    os.environ["DATABASE_URL"] = _prepare(args.kind)
    os.environ.setdefault("LOG_LEVEL", "INFO")
    from app import create_app
    from app.extensions import db

    app = create_app()
    client = app.test_client()
    statements = [0]
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a, **k: statements.__setitem__(0, statements[0] + 1))
    logging_off = __import__("logging").getLogger("standstrong")
    logging_off.handlers[0].stream = open(os.devnull, "w")  # keep the access log's cost, not its output

    token = client.post("/api/v1/auth/login", json={"email": "patient.li@demo.standstrong.local",
                                                    "password": "StandStrong-demo-2026"}).json["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    agenda = client.get("/api/v1/patients/me/agenda", headers=auth).json
    body = _body(agenda["items"][0]["item_key"])
    fixed = f"/api/v1/patients/me/sessions/{uuid.uuid4()}"
    assert client.put(fixed, json=body, headers=auth).status_code == 201
    catalogue = "/api/v1/education/modules?lang=en"
    etag = client.get(catalogue).headers["ETag"]

    endpoints = {
        "healthz": lambda: client.get("/healthz"),
        "me": lambda: client.get("/api/v1/me", headers=auth),
        "agenda": lambda: client.get("/api/v1/patients/me/agenda", headers=auth),
        "adherence": lambda: client.get("/api/v1/patients/me/adherence?window=30", headers=auth),
        "catalogue": lambda: client.get(catalogue),
        "catalogue_304": lambda: client.get(catalogue, headers={"If-None-Match": etag}),
        "put_new": lambda: client.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}", json=body, headers=auth),
        "put_retry": lambda: client.put(fixed, json=body, headers=auth),
    }
    if args.profile:
        run = endpoints[args.profile]
        for _ in range(20):
            run()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.n):
            run()
        profiler.disable()
        if os.environ.get("PROFILE_DUMP"):  # for pstats' print_callers and the like
            profiler.dump_stats(os.environ["PROFILE_DUMP"])
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(os.environ.get("PROFILE_FILTER", ""), 45)
        return
    print(f"{'endpoint':16} {'status':>6} {'ms best':>8} {'SQL/req':>8} {'calls/req':>10}")
    for name, run in endpoints.items():
        status = run().status_code
        for _ in range(10):
            run()
        statements[0] = 0
        rounds = []  # the best of three rounds: the least disturbed by the rest of the machine
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(args.n):
                run()
            rounds.append(time.perf_counter() - started)
        elapsed = min(rounds)
        sql = statements[0] / (3 * args.n)
        # Python function calls per request: a figure the machine's load does not move.
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(20):
            run()
        profiler.disable()
        calls = sum(stat[1] for stat in pstats.Stats(profiler).stats.values()) / 20
        print(f"{name:16} {status:>6} {elapsed * 1000 / args.n:8.2f} {sql:8.1f} {calls:10.0f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        one(sys.argv[2], int(sys.argv[4]), sys.argv[6] if len(sys.argv) > 6 else None)
    else:
        main()
