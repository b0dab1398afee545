"""The issue-14 table: StandStrong's daily endpoints against the floor app, on SQLite and
PostgreSQL, each under gunicorn and loaded by wrk in the same run.

Reads are reported as a fraction of the floor read (JWT decode + one primary-key select), writes
of the floor write (marshmallow validation + one insert-if-absent), /healthz of bare Flask's.
Figures, not assertions.
"""
import json
import sys
import uuid
from datetime import datetime, timedelta, timezone

from harness import TABLE_HEAD, floor_server, load, load_average, login, machine, request, row, server


def floor_figures(kind: str) -> dict:
    with floor_server(kind) as (port, token):
        auth = {"Authorization": f"Bearer {token}"}
        body = _session_body(str(uuid.uuid4()))
        fixed = f"/floor/write/{uuid.uuid4()}"
        assert request(port, "PUT", fixed, body, auth)[0] == 201
        return {
            "healthz": load(port, "GET", "/healthz"),
            "read": load(port, "GET", "/floor/read", headers=auth),
            "write": load(port, "PUT", "/floor/write/{NEW_ID}", body, auth),
            "retry": load(port, "PUT", fixed, body, auth),
        }


def _session_body(item_key: str) -> dict:
    started = (datetime.now(timezone.utc) - timedelta(minutes=10)).isoformat()
    return {"item_key": item_key, "duration_minutes": 30, "pain": 1, "symptoms": [], "started_at": started}


def app_figures(kind: str) -> dict:
    with server(kind) as (port, _env):
        auth = {"Authorization": f"Bearer {login(port, 'patient.li@demo.standstrong.local')['access_token']}"}
        agenda = json.loads(request(port, "GET", "/api/v1/patients/me/agenda", headers=auth)[1])
        body = _session_body(agenda["items"][0]["item_key"])
        fixed = f"/api/v1/patients/me/sessions/{uuid.uuid4()}"
        assert request(port, "PUT", fixed, body, auth)[0] == 201
        catalogue = "/api/v1/education/modules?lang=en"
        conn_status, _ = request(port, "GET", catalogue)
        assert conn_status == 200
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", catalogue)
        etag = conn.getresponse().getheader("ETag")
        conn.close()
        return {
            "healthz": load(port, "GET", "/healthz"),
            "me": load(port, "GET", "/api/v1/me", headers=auth),
            "agenda": load(port, "GET", "/api/v1/patients/me/agenda", headers=auth),
            "adherence": load(port, "GET", "/api/v1/patients/me/adherence?window=30", headers=auth),
            "catalogue": load(port, "GET", catalogue),
            "catalogue_304": load(port, "GET", catalogue, headers={"If-None-Match": etag}),
            "put_new": load(port, "PUT", "/api/v1/patients/me/sessions/{NEW_ID}", body, auth),
            "put_retry": load(port, "PUT", fixed, body, auth),
        }


def _mean(one: dict, other: dict) -> dict:
    return {key: one[key] + other[key] if key in ("requests", "errors") else (one[key] + other[key]) / 2
            for key in one}


def main(kinds):
    print(f"Machine: {machine()}")
    for kind in kinds:
        # The floor is measured before and after the app, and each ratio taken against the mean of
        # the two: on a shared machine the speed drifts within a run, and a floor measured on one
        # side only turns that drift into a ratio. The drift is printed, so a run can be judged.
        before = floor_figures(kind)
        app = app_figures(kind)
        after = floor_figures(kind)
        floor = {key: _mean(before[key], after[key]) for key in before}
        drift = ", ".join(f"{key} {before[key]['rps']:,.0f} -> {after[key]['rps']:,.0f}" for key in ("healthz", "read", "write"))
        print(f"\n[{kind}] (load average {load_average()} after the run; floor req/s before -> after the app: "
              f"{drift}; the floor rows are their mean)\n{TABLE_HEAD}")
        print(row("floor: bare Flask /healthz", floor["healthz"], floor["healthz"], "itself"))
        print(row("floor read (JWT + PK select)", floor["read"], floor["read"], "itself"))
        print(row("floor write (validate + insert-if-absent)", floor["write"], floor["write"], "itself"))
        print(row("floor write retry", floor["retry"], floor["write"], "floor write"))
        print(row("StandStrong /healthz", app["healthz"], floor["healthz"], "bare /healthz"))
        for key, name in (("me", "GET /api/v1/me"), ("agenda", "GET .../agenda"),
                          ("adherence", "GET .../adherence?window=30"),
                          ("catalogue", "GET /education/modules"),
                          ("catalogue_304", "GET /education/modules, 304")):
            print(row(name, app[key], floor["read"], "floor read"))
        print(row("PUT .../sessions/{new id}", app["put_new"], floor["write"], "floor write"))
        print(row("PUT .../sessions/{same id} (retry)", app["put_retry"], floor["write"], "floor write"))
        print(row("  (same retry vs floor retry)", app["put_retry"], floor["retry"], "floor retry"))


if __name__ == "__main__":
    main(sys.argv[1:] or ["sqlite", "postgresql"])
