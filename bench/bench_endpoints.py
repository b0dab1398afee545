"""The issue-14 table: StandStrong's daily endpoints against the floor app, on SQLite and
PostgreSQL, each under gunicorn and loaded by wrk in the same run.

Reads are reported as a fraction of the floor read (JWT decode + one primary-key select), writes
of the floor write (marshmallow validation + one insert-if-absent), /healthz of bare Flask's; the
floor app and StandStrong run side by side and each StandStrong endpoint is loaded between two
loads of its floor (measure). Figures, not assertions.
"""
import json
import sys
import uuid
from datetime import datetime, timedelta, timezone

from harness import TABLE_HEAD, floor_server, load, load_average, login, machine, request, row, server


READS = (("me", "GET /api/v1/me"), ("agenda", "GET .../agenda"), ("adherence", "GET .../adherence?window=30"),
         ("catalogue", "GET /education/modules"), ("catalogue_304", "GET /education/modules, 304"))


def _session_body(item_key: str) -> dict:
    started = (datetime.now(timezone.utc) - timedelta(minutes=10)).isoformat()
    return {"item_key": item_key, "duration_minutes": 30, "pain": 1, "symptoms": [], "started_at": started}


def floor_loads(port: int, token: str) -> dict:
    """{kind: a function that loads the floor app's endpoint of that kind once}."""
    auth = {"Authorization": f"Bearer {token}"}
    body = _session_body(str(uuid.uuid4()))
    fixed = f"/floor/write/{uuid.uuid4()}"
    assert request(port, "PUT", fixed, body, auth)[0] == 201
    return {"healthz": lambda: load(port, "GET", "/healthz"),
            "read": lambda: load(port, "GET", "/floor/read", headers=auth),
            "write": lambda: load(port, "PUT", "/floor/write/{NEW_ID}", body, auth),
            "retry": lambda: load(port, "PUT", fixed, body, auth)}


def app_loads(port: int) -> dict:
    """{endpoint: a function that loads StandStrong's endpoint once}."""
    import http.client

    auth = {"Authorization": f"Bearer {login(port, 'patient.li@demo.standstrong.local')['access_token']}"}
    agenda = json.loads(request(port, "GET", "/api/v1/patients/me/agenda", headers=auth)[1])
    body = _session_body(agenda["items"][0]["item_key"])
    fixed = f"/api/v1/patients/me/sessions/{uuid.uuid4()}"
    assert request(port, "PUT", fixed, body, auth)[0] == 201
    catalogue = "/api/v1/education/modules?lang=en"
    assert request(port, "GET", catalogue)[0] == 200
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", catalogue)
    etag = conn.getresponse().getheader("ETag")
    conn.close()
    return {"healthz": lambda: load(port, "GET", "/healthz"),
            "me": lambda: load(port, "GET", "/api/v1/me", headers=auth),
            "agenda": lambda: load(port, "GET", "/api/v1/patients/me/agenda", headers=auth),
            "adherence": lambda: load(port, "GET", "/api/v1/patients/me/adherence?window=30", headers=auth),
            "catalogue": lambda: load(port, "GET", catalogue),
            "catalogue_304": lambda: load(port, "GET", catalogue, headers={"If-None-Match": etag}),
            "put_new": lambda: load(port, "PUT", "/api/v1/patients/me/sessions/{NEW_ID}", body, auth),
            "put_retry": lambda: load(port, "PUT", fixed, body, auth)}


def _mean(*runs: dict) -> dict:
    return {key: sum(r[key] for r in runs) if key in ("requests", "errors") else sum(r[key] for r in runs) / len(runs)
            for key in runs[0]}


def measure(kind: str) -> tuple[dict, dict, dict]:
    """(StandStrong's figures, each one's floor, every floor run by kind). Both apps run at once
    and each StandStrong endpoint is loaded between two loads of its floor, its ratio taken against
    their mean: a shared machine's speed drifts within minutes, and only adjacent loads see the
    same machine."""
    with floor_server(kind) as (floor_port, token), server(kind) as (app_port, _env):
        floor, app = floor_loads(floor_port, token), app_loads(app_port)
        figures, baselines, runs = {}, {}, {"healthz": [], "read": [], "write": [], "retry": []}

        def floor_run(name):
            runs[name].append(floor[name]())
            return runs[name][-1]

        for group, endpoints in (("healthz", ["healthz"]), ("read", [key for key, _ in READS]),
                                 ("write", ["put_new", "put_retry"])):
            previous = floor_run(group)
            for endpoint in endpoints:
                figures[endpoint] = app[endpoint]()
                following = floor_run(group)
                baselines[endpoint] = _mean(previous, following)
                previous = following
        floor_run("retry")
    return figures, baselines, runs


def main(kinds):
    print(f"Machine: {machine()}")
    for kind in kinds:
        app, base, runs = measure(kind)
        floor = {name: _mean(*found) for name, found in runs.items()}
        drift = ", ".join(f"{name} {min(r['rps'] for r in runs[name]):,.0f} to {max(r['rps'] for r in runs[name]):,.0f}"
                          for name in ("healthz", "read", "write"))
        print(f"\n[{kind}] (load average {load_average()} after the run; each StandStrong row against the mean of "
              f"the floor loaded right before and after it; floor req/s over the run: {drift}; the floor rows "
              f"are the mean of all its loads)\n{TABLE_HEAD}")
        print(row("floor: bare Flask /healthz", floor["healthz"], floor["healthz"], "itself"))
        print(row("floor read (JWT + PK select)", floor["read"], floor["read"], "itself"))
        print(row("floor write (validate + insert-if-absent)", floor["write"], floor["write"], "itself"))
        print(row("floor write retry", floor["retry"], floor["write"], "floor write"))
        print(row("StandStrong /healthz", app["healthz"], base["healthz"], "bare /healthz"))
        for key, name in READS:
            print(row(name, app[key], base[key], "floor read"))
        print(row("PUT .../sessions/{new id}", app["put_new"], base["put_new"], "floor write"))
        print(row("PUT .../sessions/{same id} (retry)", app["put_retry"], base["put_retry"], "floor write"))
        print(row("  (same retry vs floor retry)", app["put_retry"], floor["retry"], "floor retry"))


if __name__ == "__main__":
    main(sys.argv[1:] or ["sqlite", "postgresql"])
