"""GET /api/v1/me against /healthz under gunicorn (4 sync workers), SQLite and PostgreSQL."""
import functools
import sys

from harness import healthz, load, login, report, server


def me(token, seed, i):
    return "GET", "/api/v1/me", None, {"Authorization": f"Bearer {token}"}


def main(kinds):
    for kind in kinds:
        with server(kind) as (port, _env):
            token = login(port, "patient.li@demo.standstrong.local")["access_token"]
            base = load(port, healthz)
            print(f"[{kind}] gunicorn -w 4, 8 client processes, 5 s each")
            print(report("GET /healthz", base, base))
            print(report("GET /api/v1/me", load(port, functools.partial(me, token)), base))


if __name__ == "__main__":
    main(sys.argv[1:] or ["sqlite", "postgresql"])
