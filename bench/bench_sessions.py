"""PUT /sessions/{id} against /healthz under gunicorn (4 sync workers), SQLite and PostgreSQL."""
import functools
import json
import sys
import uuid
from datetime import datetime, timedelta, timezone

from harness import healthz, load, login, report, request, server


def put_new(token, key, seed, i):
    body = {"item_key": key, "duration_minutes": 30, "pain": 1, "symptoms": [],
            "started_at": (datetime.now(timezone.utc) - timedelta(minutes=10)).isoformat()}
    return "PUT", f"/api/v1/patients/me/sessions/{uuid.uuid4()}", body, {"Authorization": f"Bearer {token}"}


def put_replay(token, body, sid, seed, i):
    return "PUT", f"/api/v1/patients/me/sessions/{sid}", body, {"Authorization": f"Bearer {token}"}


def main(kinds):
    for kind in kinds:
        with server(kind) as (port, _env):
            token = login(port, "patient.li@demo.standstrong.local")["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            agenda = json.loads(request(port, "GET", "/api/v1/patients/me/agenda", headers=headers)[1])
            key = agenda["items"][0]["item_key"]
            _method, path, body, _h = put_new(token, key, 0, 0)
            sid = path.rsplit("/", 1)[1]
            assert request(port, "PUT", path, body, headers)[0] == 201
            base = load(port, healthz)
            print(f"[{kind}] gunicorn -w 4, 8 client processes, 5 s each")
            print(report("GET /healthz", base, base))
            print(report("PUT session (new id: 201)", load(port, functools.partial(put_new, token, key)), base))
            print(report("PUT session (retry: 200)", load(port, functools.partial(put_replay, token, body, sid)), base))


if __name__ == "__main__":
    main(sys.argv[1:] or ["sqlite", "postgresql"])
