"""Benchmark harness: a real gunicorn server on loopback over a fresh database, loaded by wrk
(an efficient C load generator, so the server and not the client is the limit), with every figure
reported as a ratio to a baseline measured the same way in the same run.

Traffic goes to 127.0.0.1 only; each run is bounded in time and stops by itself.
"""
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/standstrong_bench")
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(kind: str, suffix: str = "") -> str:
    if kind == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='ssbench-')}/bench.sqlite3"
    import psycopg

    base, _, name = PG_URL.rpartition("/")
    name += suffix
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def kept_database(kind: str, name: str) -> str:
    """A database the in-process benches keep between runs (--reuse): filling 10,000 patients takes
    minutes. SQLite: a file under BENCH_KEEP_DIR (default: the temp directory); PostgreSQL: a
    database next to BENCH_PG_URL's, created if missing. The caller fills it when it is empty."""
    if kind == "sqlite":
        folder = Path(os.environ.get("BENCH_KEEP_DIR", Path(tempfile.gettempdir()) / "ssbench-kept"))
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / name}.sqlite3"
    import psycopg

    base, _, prefix = PG_URL.rpartition("/")
    db_name = f"{prefix}_{name}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{db_name}"')
    return f"{base}/{db_name}"


def _wait_healthy(port: int, proc) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        with contextlib.suppress(OSError):
            if request(port, "GET", "/healthz")[0] == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("the server did not answer /healthz within 30 s")


@contextlib.contextmanager
def gunicorn(app_spec: str, env: dict, workers: int = WORKERS, cwd=ROOT):
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", app_spec],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def app_env(kind: str) -> dict:
    return dict(os.environ, DATABASE_URL=fresh_database(kind), FLASK_APP="wsgi.py",
                LOG_LEVEL="WARNING", RATELIMIT_ENABLED="0", ARGON2_TIME_COST="1",
                ARGON2_MEMORY_COST="1024")


@contextlib.contextmanager
def server(kind: str = "sqlite", workers: int = WORKERS):
    """StandStrong under gunicorn over a fresh, migrated, seeded database with the demo accounts."""
    env = app_env(kind)
    for cmd in (["db", "upgrade"], ["seed"], ["demo"]):
        subprocess.run([str(BIN / "flask"), *cmd], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with gunicorn("wsgi:app", env, workers) as port:
        yield port, env


@contextlib.contextmanager
def floor_server(kind: str = "sqlite", workers: int = WORKERS):
    """The floor app (bench/floor_app.py) under gunicorn; yields (port, token)."""
    url = fresh_database(kind, suffix="_floor")
    env = dict(os.environ, FLOOR_DATABASE_URL=url)
    token = subprocess.run([sys.executable, "-c", "import floor_app; print(floor_app.setup())"],
                           cwd=ROOT / "bench", env=env, check=True, capture_output=True,
                           text=True).stdout.strip()
    with gunicorn("floor_app:app", env, workers, cwd=ROOT / "bench") as port:
        yield port, token


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


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
        return shutil.which("wrk")
    raise SystemExit("wrk is needed for the benchmarks: apt-get install wrk")


# wrk runs this per thread. {NEW_ID} in the path becomes a fresh UUID for every request.
_LUA = r"""
wrk.method = %(method)s
wrk.body = %(body)s
wrk.headers["Content-Type"] = "application/json"
%(headers)s
local template = %(path)s
local counter = 0
local prefix = ""
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  math.randomseed(os.time() * 1000 + id)
  prefix = string.format("%%08x", math.random(0, 0x7fffffff))
end
local n = 0
function request()
  if string.find(template, "{NEW_ID}", 1, true) then
    n = n + 1
    local uuid = string.format("%%s-%%04x-4%%03x-8%%03x-%%012x", prefix, id, n %% 4096,
      math.random(0, 4095), n)
    return wrk.format(nil, (string.gsub(template, "{NEW_ID}", uuid)))
  end
  return wrk.format(nil, template)
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%f %%f\n", summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def _lua_string(value) -> str:
    return "nil" if value is None else json.dumps(value)  # JSON strings are valid Lua strings here


def load(port, method, path, body=None, headers=None, seconds=SECONDS) -> dict:
    """wrk with THREADS threads and CONNECTIONS keep-alive connections for `seconds`."""
    header_lines = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items())
    script = _LUA % {"method": json.dumps(method), "path": json.dumps(path),
                     "body": _lua_string(json.dumps(body) if body is not None else None),
                     "headers": header_lines}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run([ensure_wrk(), "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s",
                              "-s", handle.name, f"http://127.0.0.1:{port}"],
                             check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(handle.name)
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", out)
    requests, duration_us, errors, _status, p50, p99 = match.groups()
    return {"requests": int(requests), "errors": int(errors),
            "rps": int(requests) / (int(duration_us) / 1e6), "p50_ms": float(p50), "p99_ms": float(p99)}


def row(name: str, result: dict, baseline: dict, base_name: str) -> str:
    return (f"| {name} | {result['rps']:,.0f} | {result['rps'] / baseline['rps']:.2f} of {base_name} | "
            f"{result['p50_ms']:.1f} | {result['p99_ms']:.1f} ({result['p99_ms'] / baseline['p99_ms']:.1f}x) | "
            f"{result['errors']} |")


TABLE_HEAD = ("| endpoint | req/s | ratio | p50 ms | p99 ms (x baseline p99) | errors |\n"
              "|---|---|---|---|---|---|")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    return (f"{os.cpu_count()} cores ({cpu}); gunicorn -w {WORKERS} sync; wrk -t{THREADS} -c{CONNECTIONS} "
            f"-d{SECONDS}s on loopback; load average {load_average()}")


def load_average() -> str:
    """The 1-minute load average: above the core count, other work shared the machine."""
    return f"{os.getloadavg()[0]:.2f}"
