"""Benchmark harness: a real gunicorn server on loopback, a fresh database, and a bounded
load generator. Every figure is reported beside /healthz measured the same way, as a ratio.

Traffic goes to 127.0.0.1 only; each run is bounded in time and stops by itself.
"""
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/standstrong_bench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(kind: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='ssbench-')}/bench.sqlite3"
    import psycopg

    base, _, name = PG_URL.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_URL


@contextlib.contextmanager
def server(kind: str = "sqlite", workers: int = 4):
    env = dict(os.environ, DATABASE_URL=fresh_database(kind), FLASK_APP="wsgi.py",
               LOG_LEVEL="WARNING", RATELIMIT_ENABLED="0", ARGON2_TIME_COST="1",
               ARGON2_MEMORY_COST="1024")
    for cmd in (["db", "upgrade"], ["seed"], ["demo"]):
        subprocess.run([str(BIN / "flask"), *cmd], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            with contextlib.suppress(OSError):
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            time.sleep(0.2)
        yield port, env
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    payload = json.dumps(body).encode() if body is not None else None
    hdrs = {"Content-Type": "application/json"} if payload else {}
    hdrs.update(headers or {})
    conn.request(method, path, body=payload, headers=hdrs)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def login(port, email, password="StandStrong-demo-2026") -> dict:
    status, data = request(port, "POST", "/api/v1/auth/login", {"email": email, "password": password})
    assert status == 200, data
    return json.loads(data)


def _worker(args):
    port, make_request, seconds, seed = args
    latencies, errors, i = [], 0, 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        method, path, body, headers = make_request(seed, i)
        started = time.perf_counter()
        status, _ = request(port, method, path, body, headers)
        latencies.append(time.perf_counter() - started)
        errors += status >= 400
        i += 1
    return latencies, errors


def load(port, make_request, seconds=5.0, concurrency=8) -> dict:
    """make_request(worker_seed, i) -> (method, path, body, headers); must be picklable."""
    with mp.get_context("fork").Pool(concurrency) as pool:
        results = pool.map(_worker, [(port, make_request, seconds, s) for s in range(concurrency)])
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
    }


def healthz(seed, i):
    return "GET", "/healthz", None, None


def report(name: str, result: dict, baseline: dict) -> str:
    return (f"{name:<34} {result['rps']:8.0f} req/s ({result['rps'] / baseline['rps']:.2f} x healthz)  "
            f"p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms "
            f"({result['p99_ms'] / baseline['p99_ms']:.1f} x healthz)  errors {result['errors']}")
