"""SQLite: what another process's commits cost a request. In WAL mode a connection drops its
whole page cache when it begins a transaction after any other connection committed, and reads
again every page it touches; under gunicorn, with every worker writing, that is every session
PUT. In-process over the test client, ms per request (the best of three rounds of n) with and
without another process committing a one-row insert between requests; figures, not assertions.

    .venv/bin/python bench/bench_sqlite_other_writer.py [-n 200]
"""
import argparse
import os
import subprocess
import sys
import time
import uuid

from bench_profile_requests import _body, _prepare
from harness import ROOT

sys.path.insert(0, str(ROOT))


def _best(run, n: int, between=None) -> float:
    rounds = []
    for _ in range(3):
        spent = 0.0
        for _ in range(n):
            if between is not None:
                started = time.perf_counter()
                between()
                spent -= time.perf_counter() - started  # the other writer's own time is not the request's
            started = time.perf_counter()
            run()
            spent += time.perf_counter() - started
        rounds.append(spent)
    return min(rounds) * 1000 / n


class _OtherWriter:
    """Another process that commits a one-row insert when asked (in this process, its SQLite work
    would also cool the CPU caches the requests run in, and be counted against them)."""

    _CHILD = ("import sqlite3, sys\n"
              "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
              "c.execute('PRAGMA busy_timeout=10000')\n"
              "c.execute('CREATE TABLE IF NOT EXISTS bench_other_writer (n INTEGER)')\n"
              "print('ready', flush=True)\n"
              "for _line in sys.stdin:\n"
              "    c.execute('INSERT INTO bench_other_writer VALUES (1)')\n"
              "    print('done', flush=True)\n")

    def __init__(self, path: str):
        self.process = subprocess.Popen([sys.executable, "-c", self._CHILD, path], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"

    def commit_one(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "done"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200)
    args = parser.parse_args()
    url = _prepare("sqlite")
    os.environ.update(DATABASE_URL=url, LOG_LEVEL="WARNING")
    from app import create_app

    client = create_app().test_client()
    other = _OtherWriter(url.removeprefix("sqlite:///"))

    token = client.post("/api/v1/auth/login", json={"email": "patient.li@demo.standstrong.local",
                                                    "password": "StandStrong-demo-2026"}).json["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    body = _body(client.get("/api/v1/patients/me/agenda", headers=auth).json["items"][0]["item_key"])
    endpoints = {
        "me": lambda: client.get("/api/v1/me", headers=auth),
        "agenda": lambda: client.get("/api/v1/patients/me/agenda", headers=auth),
        "put_new": lambda: client.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}", json=body, headers=auth),
    }
    print(f"{'endpoint':10} {'alone ms':>9} {'other writer ms':>16} {'extra':>7}")
    for name, run in endpoints.items():
        for _ in range(20):
            run()
        alone = _best(run, args.n)
        shared = _best(run, args.n, other.commit_one)
        print(f"{name:10} {alone:9.2f} {shared:16.2f} {shared - alone:+7.2f}")


if __name__ == "__main__":
    main()
