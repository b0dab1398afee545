"""The outbox under concurrency, with real commits: two dispatchers over 10,000 rows, a
dispatcher killed mid-batch, a scheduler leader killed and replaced."""
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from app.auth.models import User
from app.common.clock import local_today
from app.common.types import utcnow
from app.exercises.models import Exercise
from app.exercises.seed import load_exercises
from app.extensions import db
from app.patients.models import Patient
from app.plans.models import Plan, PlanItem, PlanVersion
from app.reminders.dispatch import dispatch
from app.reminders.models import DeviceToken, Notification, NotificationPreference
from app.reminders.service import enqueue
from tests.reminder_helpers import PushEndpoint

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.committing


def _recipients(n: int, push=False) -> list[tuple]:
    """n patients with a login each (inserted directly: this is about the outbox)."""
    now = utcnow()
    out = []
    for i in range(n):
        patient = Patient(display_name=f"Outbox {i}", date_of_birth=date(1980, 1, 1), sex="unknown",
                          injury_date=date(2020, 1, 1), neurological_level="T10", ais_grade="A",
                          time_zone="Europe/London", language="en", known_fractures=[])
        db.session.add(patient)
        db.session.flush()
        user = User(email=f"outbox-{uuid.uuid4().hex[:10]}@example.org", password_hash="x", role="patient",
                    display_name="x", patient_id=patient.id)
        db.session.add(user)
        db.session.flush()
        if push:
            db.session.add(NotificationPreference(patient_id=patient.id, push=True, item_times={}, opted_out=[],
                                                  updated_at=now))
            db.session.add(DeviceToken(user_id=user.id, token=f"device-{uuid.uuid4().hex}", platform="android"))
        out.append((user.id, patient.id))
    db.session.commit()
    return out


def _due_rows(recipients, count: int, due) -> None:
    rows = [{"id": uuid.uuid4(), "recipient_user_id": recipients[i % len(recipients)][0],
             "patient_id": recipients[i % len(recipients)][1], "kind": "plan_reminder",
             "dedupe_key": f"bulk:{i}", "due_at": due, "status": "pending", "attempts": 0,
             "payload": {"exercise": {"en": "Standing"}, "minutes": 30, "time": "09:00"},
             "materialised": False, "created_at": due} for i in range(count)]
    db.session.execute(insert(Notification), rows)
    db.session.commit()


def _statuses():
    return dict(db.session.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())


def test_two_dispatchers_deliver_each_of_10000_rows_exactly_once(app):
    with app.app_context():
        now = utcnow()
        _due_rows(_recipients(100), 10_000, now - timedelta(seconds=1))
    start = threading.Barrier(2)
    claimed, errors = [], []

    def dispatcher():
        try:
            with app.app_context():  # its own session and connection
                start.wait(timeout=30)
                claimed.append(dispatch(now, batch_size=500)["claimed"])
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert sum(claimed) == 10_000, claimed  # a row claimed twice would count twice
    with app.app_context():
        assert _statuses() == {"sent": 10_000}
        assert db.session.scalar(select(func.max(Notification.attempts))) == 1
        assert db.session.scalar(select(func.count()).where(Notification.channel != "inbox")) == 0


def _env(database_url, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_URL"))}
    env.update(FLASK_APP=str(ROOT / "wsgi.py"), DATABASE_URL=database_url, LOG_LEVEL="INFO",
               ARGON2_TIME_COST="1", ARGON2_MEMORY_COST="8", **{k: str(v) for k, v in extra.items()})
    return env


def _wait(condition, seconds=60, what="condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_dispatcher_killed_mid_batch_loses_nothing(app, database_url, tmp_path):
    with app.app_context():
        recipients = _recipients(5, push=True)
        _due_rows(recipients, 20, utcnow() - timedelta(seconds=1))
    release, arrived = threading.Event(), threading.Event()
    with PushEndpoint() as fcm:
        original = fcm.server.RequestHandlerClass.do_POST

        def hanging(handler):
            arrived.set()
            release.wait(timeout=60)  # the first dispatcher is killed while it waits here

        fcm.server.RequestHandlerClass.do_POST = hanging
        log = (tmp_path / "dispatch.log").open("w")
        process = subprocess.Popen([sys.executable, "-m", "flask", "reminders", "dispatch"], cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT,
                                   env=_env(database_url, FCM_ENDPOINT=fcm.url, FCM_PROJECT_ID="p", FCM_ACCESS_TOKEN="t"))
        try:
            with app.app_context():
                def stuck():
                    db.session.rollback()
                    return _statuses().get("sending") == 20
                _wait(stuck, what="the dispatcher to claim the batch")
            # Killed only once its first push hangs here: killed sooner (a loaded machine), that
            # push could reach the endpoint after the real handler is back, and count as a sixth.
            assert arrived.wait(timeout=60), "the dispatcher's first push never reached the endpoint"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
        release.set()
        fcm.server.RequestHandlerClass.do_POST = original
        with app.app_context():
            app.config.update(FCM_ENDPOINT=fcm.url, FCM_PROJECT_ID="p", FCM_ACCESS_TOKEN="t")
            try:
                later = utcnow() + timedelta(seconds=app.config["DISPATCH_CLAIM_TIMEOUT_SECONDS"] + 1)
                assert dispatch(utcnow())["claimed"] == 0  # not reclaimed before the claim timeout
                outcome = dispatch(later)
            finally:
                app.config.update(FCM_PROJECT_ID="", FCM_ACCESS_TOKEN="")
            assert outcome["reclaimed"] == 20 and outcome["sent"] == 20
            assert _statuses() == {"sent": 20}
            assert set(db.session.scalars(select(Notification.attempts))) == {2}
            assert set(db.session.scalars(select(Notification.channel))) == {"inbox,push"}
    assert len(fcm.requests) == 5  # one bundled push per recipient after the takeover


def _leading(path: Path) -> bool:
    return path.exists() and "is the leader" in path.read_text()


def test_a_second_scheduler_takes_over_from_a_killed_leader_without_duplicates(app, database_url, tmp_path):

    with app.app_context():
        load_exercises()
        db.session.commit()
        recipients = _recipients(3)
        exercise = db.session.scalar(select(Exercise.id).limit(1))
        today = local_today("Europe/London") - timedelta(days=1)  # the recipients' zone
        for _, patient_id in recipients:
            plan = Plan(patient_id=patient_id, name="Daily", start_date=today)
            plan.versions.append(PlanVersion(number=1, effective_from=today, items=[
                PlanItem(item_key=uuid.uuid4(), exercise_id=exercise, minutes=10, days_mask=0b1111111,
                         time_of_day=f"{h:02d}:00", start_date=today) for h in (8, 13, 19)]))
            db.session.add(plan)
        db.session.commit()
        for i, (user_id, patient_id) in enumerate(recipients):
            enqueue(recipient_user_id=user_id, patient_id=patient_id, kind="plan_reminder", dedupe_key=f"due:{i}",
                    due_at=utcnow() - timedelta(seconds=1), payload={}, now=utcnow())
        db.session.commit()
    env = _env(database_url, SCHEDULER_LEASE_SECONDS=3, SCHEDULER_POLL_SECONDS=1, SCHEDULER_DISPATCH_SECONDS=1,
               SCHEDULER_MATERIALISE_SECONDS=2)
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    processes = {}

    def start(name):
        processes[name] = subprocess.Popen([sys.executable, "-m", "flask", "scheduler", "run"], cwd=ROOT, env=env,
                                           stdout=logs[name].open("w"), stderr=subprocess.STDOUT)

    def materialised():
        with app.app_context():
            return list(db.session.execute(select(Notification.id, Notification.dedupe_key)
                                           .where(Notification.materialised.is_(True))).all())
    try:
        start("a")
        _wait(lambda: _leading(logs["a"]) and "job reminders-materialise done" in logs["a"].read_text(),
              what="a to lead and materialise")
        before = sorted(materialised())
        assert before
        start("b")
        # b says so once its first try of the lock fails; had it taken the lock (a lock that let
        # two processes lead) it would say it leads instead, and this wait would fail.
        _wait(lambda: "not the leader" in logs["b"].read_text(), what="b to find the lock taken")
        assert not _leading(logs["b"])  # a still holds the lock
        assert "job reminders-materialise" not in logs["b"].read_text()
        processes["a"].send_signal(signal.SIGKILL)
        processes["a"].wait(timeout=30)
        _wait(lambda: _leading(logs["b"]), seconds=30, what="b to take over")
        _wait(lambda: "job reminders-materialise done" in logs["b"].read_text(), what="b to materialise")
        processes["b"].send_signal(signal.SIGTERM)
        processes["b"].wait(timeout=30)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    after = sorted(materialised())
    assert after == before  # the same rows: nothing made twice
    with app.app_context():
        due = list(db.session.execute(select(Notification.status, Notification.attempts)
                                      .where(Notification.dedupe_key.like("due:%"))).all())
    assert due == [("sent", 1)] * 3
    assert "stopped" in logs["b"].read_text()
