"""What every request costs StandStrong above the floor app, at the WSGI call that gunicorn makes
(no test client: its environ building and response wrapping would be most of a /healthz and hide
the difference), each app in a process of its own as under gunicorn. Python calls per request
are the figure the machine's load does not move; ms are the best of three rounds.

    .venv/bin/python bench/bench_wsgi_floor.py [sqlite] [postgresql] [-n 2000] [--profile healthz|catalogue|304|me|floor_healthz|floor_read]
"""
import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import time

from harness import ROOT, fresh_database

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def environ(path: str, headers: dict | None = None) -> dict:
    """The environ gunicorn's sync worker builds for a GET on a keep-alive-less connection."""
    path, _, query = path.partition("?")
    env = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
        "RAW_URI": path + ("?" + query if query else ""), "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:8000", "HTTP_USER_AGENT": "wrk", "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.input_terminated": True,
        "gunicorn.socket": None,
    }
    for name, value in (headers or {}).items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def call(app, base: dict):
    env = dict(base, **{"wsgi.input": io.BytesIO(b"")})
    status = []

    def start_response(s, headers, exc_info=None):
        status.append((s, headers))

    body = app(env, start_response)
    size = sum(len(chunk) for chunk in body)
    if hasattr(body, "close"):
        body.close()
    return status[0][0], len(status[0][1]), size


def measure(endpoints: dict, n: int, profile: str | None):
    if profile:
        app, env = endpoints[profile]
        for _ in range(50):
            call(app, env)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            call(app, env)
        profiler.disable()
        if os.environ.get("PROFILE_DUMP"):
            profiler.dump_stats(os.environ["PROFILE_DUMP"])
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
            os.environ.get("PROFILE_FILTER", ""), 60)
        return
    for name, (app, env) in endpoints.items():
        status, headers, size = call(app, env)
        for _ in range(50):
            call(app, env)
        rounds = []
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(n):
                call(app, env)
            rounds.append(time.perf_counter() - started)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(50):
            call(app, env)
        profiler.disable()
        calls = sum(stat[1] for stat in pstats.Stats(profiler).stats.values()) / 50
        print(f"{name:16} {status[:3]:>6} {min(rounds) * 1e6 / n:8.0f} {calls:8.0f} {headers:8} {size:6}",
              flush=True)


def floor(kind: str, n: int, profile):
    os.environ["FLOOR_DATABASE_URL"] = fresh_database(kind, "_wsgifloor")
    import floor_app

    token = floor_app.setup()
    app = floor_app.app
    measure({"floor_healthz": (app, environ("/healthz")),
             "floor_read": (app, environ("/floor/read", {"Authorization": f"Bearer {token}"}))}, n, profile)


def standstrong(kind: str, n: int, profile):
    from bench_profile_requests import _prepare

    os.environ["DATABASE_URL"] = _prepare(kind)
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # as bench/harness.py starts it
    from app import create_app

    app = create_app()
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"email": "patient.li@demo.standstrong.local",
                                                    "password": "StandStrong-demo-2026"}).json["access_token"]
    catalogue = "/api/v1/education/modules?lang=en"
    etag = client.get(catalogue).headers["ETag"]
    measure({"healthz": (app, environ("/healthz")),
             "catalogue": (app, environ(catalogue)),
             "304": (app, environ(catalogue, {"If-None-Match": etag})),
             "me": (app, environ("/api/v1/me", {"Authorization": f"Bearer {token}"}))}, n, profile)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kinds", nargs="*", default=["sqlite"])
    parser.add_argument("--profile")
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    for kind in args.kinds:
        print(f"[{kind}]\n{'endpoint':16} {'status':>6} {'us best':>8} {'calls':>8} {'headers':>8} {'bytes':>6}",
              flush=True)
        for which in ("floor", "standstrong"):
            if args.profile and not args.profile.startswith("floor") == (which == "floor"):
                continue
            subprocess.run([sys.executable, __file__, "--one", which, kind, str(args.n), args.profile or ""],
                           check=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        which, kind, n, profile = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] or None
        (floor if which == "floor" else standstrong)(kind, n, profile)
    else:
        main()
