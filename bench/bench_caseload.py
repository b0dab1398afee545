"""The caseload endpoint for a coordinator with 500 patients (90 days of sessions each, open
flags from a sweep) under gunicorn, loaded by wrk beside GET /healthz in the same run.
Figures, not assertions. `BENCH_CASELOAD=50 BENCH_SECONDS=2 python bench/bench_caseload.py sqlite`
is a smoke run."""
import os
import subprocess
import sys
from datetime import date, datetime, timezone

from harness import BIN, ROOT, TABLE_HEAD, load, login, request, row, server

PATIENTS = int(os.environ.get("BENCH_CASELOAD", "500"))
COORDINATOR = "coordinator@demo.standstrong.local"

# Runs in a child process on the server's database: bulk-loads the caseload, then sweeps.
_LOAD = f"""
import sys
sys.path.insert(0, {str(ROOT / 'bench')!r})
from datetime import date, datetime, timezone
from sqlalchemy import insert, select
from app import create_app
from app.auth.models import User
from app.extensions import db
from app.access.models import CareTeamMember
from app.patients.models import Patient
from app.rules import service as rules
from bench_adherence_scale import populate

app = create_app()
with app.app_context():
    before = set(db.session.scalars(select(Patient.id)))
    populate({PATIENTS}, date.today())
    coordinator = db.session.scalar(select(User.id).where(User.email == {COORDINATOR!r}))
    new = [pid for pid in db.session.scalars(select(Patient.id)) if pid not in before]
    db.session.execute(insert(CareTeamMember), [{{"patient_id": pid, "coordinator_id": coordinator}} for pid in new])
    db.session.commit()
    print(rules.sweep(datetime.now(timezone.utc)))
"""


def figures(kind: str) -> dict:
    with server(kind) as (port, env):
        subprocess.run([str(BIN / "python"), "-c", _LOAD], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        auth = {"Authorization": f"Bearer {login(port, COORDINATOR)['access_token']}"}
        status, _ = request(port, "GET", "/api/v1/caseload?per_page=50", headers=auth)
        assert status == 200
        return {"healthz": load(port, "GET", "/healthz"),
                "caseload": load(port, "GET", "/api/v1/caseload?per_page=50", headers=auth),
                "caseload_urgent": load(port, "GET", "/api/v1/caseload?severity=urgent&per_page=50", headers=auth)}


def main(kinds):
    print(f"caseload of {PATIENTS} patients + the demo ones, first page of 50, {datetime.now(timezone.utc):%Y-%m-%d}")
    for kind in kinds:
        f = figures(kind)
        print(f"\n[{kind}]\n{TABLE_HEAD}")
        for name in ("healthz", "caseload", "caseload_urgent"):
            print(row(name, f[name], f["healthz"], "/healthz"), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["sqlite", "postgresql"])
