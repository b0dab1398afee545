"""Issue 13: a coordinator reading a patient's sessions while the patient logs sessions.

The coordinator's read is audited. On SQLite under WAL, writing that row inside the read's
own transaction fails ("database is locked") whenever the patient committed meanwhile; the
row is now written after the read in a write transaction of its own. Real threads, real
commits, on both databases."""
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from tests.factories import World

DURATION_SECONDS = 3.0
MAX_LATENCY_SECONDS = 5.0


@pytest.mark.committing
def test_reads_by_others_never_fail_while_the_patient_writes(app):
    world = World(app.test_client()).build()
    stop = time.monotonic() + DURATION_SECONDS
    reads, writes, errors = [], [], []
    body = {"exercise": "pressure-relief", "duration_minutes": 5}

    def patient_writes():
        client = app.test_client()
        while time.monotonic() < stop:
            started = (datetime.now(timezone.utc) - timedelta(minutes=30)).isoformat()
            response = client.put(f"/api/v1/patients/me/sessions/{uuid.uuid4()}",
                                  json=body | {"started_at": started}, headers=world.patient_a.headers)
            writes.append(response.status_code)

    def coordinator_reads(n):
        client = app.test_client()
        i = 0
        while time.monotonic() < stop:
            i += 1
            begun = time.monotonic()
            response = client.get(f"/api/v1/patients/{world.a_id}/sessions?per_page=5",
                                  headers={**world.coord_a.headers, "X-Request-ID": f"concurrent-{n}-{i:05d}"})
            reads.append((response.status_code, time.monotonic() - begun))
            if response.status_code != 200:
                errors.append(response.get_json())

    threads = [threading.Thread(target=patient_writes)] + [
        threading.Thread(target=coordinator_reads, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DURATION_SECONDS + 30)
    assert not any(thread.is_alive() for thread in threads)

    assert reads and writes
    assert errors == [], f"{len(errors)} of {len(reads)} reads failed, e.g. {errors[:1]}"
    assert set(writes) == {201}
    assert max(latency for _, latency in reads) < MAX_LATENCY_SECONDS
    with app.app_context():
        audited = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "read", AuditEvent.request_id.like("concurrent-%")))
    assert audited == len(reads), "every read left its audit row"
