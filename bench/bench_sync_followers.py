"""Many concurrent writers and two followers of the sync feed, under gunicorn (4 sync workers).

Writers (processes, as the patient's phone and the caregiver's device of one patient) create,
edit (with base_revision), delete and batch sessions for a bounded time; two followers replay
the changes feed into local copies meanwhile. Afterwards every acknowledged write must be in
both copies (at that revision or later) and both copies must equal the database. Prints the
numbers; a miss is printed, not asserted (benchmarks never fail the build).

    .venv/bin/python bench/bench_sync_followers.py [sqlite|postgresql] [writers] [seconds]
"""
import json
import multiprocessing as mp
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, text

from harness import login, request, server

SESSIONS = "/api/v1/patients/me/sessions"


def _started(minutes_ago: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).isoformat()


def writer(port, token, key, seconds, index, queue):
    headers = {"Authorization": f"Bearer {token}"}
    acked, conflicts, errors, n = [], 0, 0, 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        n += 1
        sid = str(uuid.uuid4())
        body = {"item_key": key, "started_at": _started(20 + n % 600), "duration_minutes": 10 + n % 50}
        status, data = request(port, "PUT", f"{SESSIONS}/{sid}", body, headers)
        if status != 201:
            errors += 1
            continue
        acked.append((sid, 1))
        status, data = request(port, "PUT", f"{SESSIONS}/{sid}", dict(body, duration_minutes=70, base_revision=1),
                               headers)
        if status == 200:
            acked.append((sid, json.loads(data)["revision"]))
        else:
            errors += 1
        if n % 3 == 0:
            status, _ = request(port, "DELETE", f"{SESSIONS}/{sid}", None, {**headers, "If-Match": '"2"'})
            acked.append((sid, 3)) if status == 204 else None
            errors += status != 204
        if n % 4 == 0:
            items = [{"id": str(uuid.uuid4()), "item_key": key, "started_at": _started(30 + i),
                      "duration_minutes": 5 + i} for i in range(20)]
            status, data = request(port, "POST", f"{SESSIONS}/batch", {"sessions": items}, headers)
            if status == 200:
                acked.extend((r["id"], r["session"]["revision"]) for r in json.loads(data)["results"]
                             if r["status"] == "created")
            else:
                errors += 1
        if n % 2 == 0:  # an offline edit made on revision 1 of a session changed since: must be 409
            other = acked[len(acked) // 2 - 1][0] if n % 4 else sid
            status, _ = request(port, "PUT", f"{SESSIONS}/{other}",
                                {"item_key": key, "started_at": _started(25), "duration_minutes": 99,
                                 "base_revision": 1}, headers)
            conflicts += status == 409
            errors += status not in (200, 409)
            if status == 200:  # it was still at revision 1 (a batch item)
                acked.append((other, 2))
    queue.put((index, acked, conflicts, errors))


def follower(port, token, limit, stop, queue):
    headers = {"Authorization": f"Bearer {token}"}
    cursor, replica, calls, regressions, errors = None, {}, 0, 0, {}

    def drain():
        nonlocal cursor, calls, regressions, errors
        while True:
            query = f"?limit={limit}" + (f"&since={cursor}" if cursor else "")
            status, data = request(port, "GET", f"{SESSIONS}/changes{query}", None, headers)
            calls += 1
            if status != 200:  # counted by status; the next round retries from the same cursor
                errors[status] = errors.get(status, 0) + 1
                return
            page = json.loads(data)
            for item in page["items"]:
                known = replica.get(item["id"])
                regressions += known is not None and item["revision"] <= known[0]
                replica[item["id"]] = (item["revision"], item["deleted"])
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return

    while not stop.is_set():
        drain()
        stop.wait(0.02)
    drain()
    queue.put((limit, replica, calls, regressions, errors))


def run(kind: str, writers: int, seconds: float) -> None:
    with server(kind) as (port, env):
        patient = login(port, "patient.li@demo.standstrong.local")["access_token"]
        carer = login(port, "caregiver.li@demo.standstrong.local")["access_token"]
        agenda = json.loads(request(port, "GET", "/api/v1/patients/me/agenda", None,
                                    {"Authorization": f"Bearer {patient}"})[1])
        key = agenda["items"][0]["item_key"]
        ctx = mp.get_context("fork")
        queue, stop = ctx.Queue(), ctx.Event()
        followers = [ctx.Process(target=follower, args=(port, token, limit, stop, queue))
                     for token, limit in ((carer, 50), (patient, 500))]
        procs = [ctx.Process(target=writer, args=(port, patient if i % 2 else carer, key, seconds, i, queue))
                 for i in range(writers)]
        started = time.perf_counter()
        for proc in followers + procs:
            proc.start()
        results = [queue.get(timeout=seconds + 120) for _ in procs]
        elapsed = time.perf_counter() - started
        stop.set()
        replicas = [queue.get(timeout=120) for _ in followers]
        for proc in followers + procs:
            proc.join(timeout=30)
        url = env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
        engine = create_engine(url)
        with engine.connect() as conn:
            stored = {str(uuid.UUID(str(sid))): (rev, bool(deleted)) for sid, rev, deleted in conn.execute(text(
                "SELECT id, revision, deleted_at IS NOT NULL FROM exercise_sessions"))}
        engine.dispose()
        acked = [a for _, got, _, _ in results for a in got]
        print(f"[{kind}] gunicorn -w 4; {writers} writer processes for {seconds:.0f} s (one patient: phone and "
              f"caregiver), 2 followers")
        print(f"  acknowledged writes {len(acked)} in {elapsed:.1f} s ({len(acked) / elapsed:.0f}/s), "
              f"stale edits refused (409) {sum(r[2] for r in results)}, "
              f"other errors {sum(r[3] for r in results)}")
        for limit, replica, calls, regressions, errors in replicas:
            misses = sum(1 for sid, rev in acked if sid not in replica or replica[sid][0] < rev)
            print(f"  follower (limit {limit}): {calls} feed calls, misses {misses}, revisions going back "
                  f"{regressions}, failed feed calls by status {errors or 'none'}, copy equals the database: {replica == stored}")


if __name__ == "__main__":
    args = sys.argv[1:]
    run(args[0] if args else "postgresql", int(args[1]) if len(args) > 1 else 16,
        float(args[2]) if len(args) > 2 else 20)
