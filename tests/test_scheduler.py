"""The scheduler: job registration and options, the leader lock, and no jobs in web workers."""
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from app import create_app
from app.common.types import utcnow
from app.config import TestConfig
from app.scheduler import LeaderLock, _add, register_job, registered_jobs


def test_the_domains_register_their_jobs_with_explicit_ids_and_safe_options(app):
    jobs = registered_jobs(app)
    assert {"reminders-materialise", "reminders-dispatch", "followup-planning"} <= set(jobs)
    assert jobs["reminders-dispatch"].leader_only is False and jobs["reminders-materialise"].leader_only
    assert jobs["reminders-materialise"].trigger.interval == timedelta(seconds=900)
    assert jobs["reminders-dispatch"].trigger.interval == timedelta(seconds=30)
    scheduler = BackgroundScheduler()
    for spec in jobs.values():
        _add(scheduler, app, spec)
        _add(scheduler, app, spec)  # replace_existing: registering twice keeps one
    added = {job.id: job for job in scheduler.get_jobs()}
    assert set(added) == set(jobs)
    for job in added.values():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 60)


def test_register_job_takes_seconds_or_cron():
    calls = []
    register_job("test-cron", calls.append, cron="0 3 * * *")
    register_job("test-fields", calls.append, cron={"hour": 4})
    assert isinstance(registered_jobs()["test-cron"].trigger, CronTrigger)
    register_job("test-cron", calls.append, seconds=5)  # the same id replaces
    assert isinstance(registered_jobs()["test-cron"].trigger, IntervalTrigger)
    with pytest.raises(ValueError):
        register_job("test-bad", calls.append)
    from app import scheduler

    for job_id in ("test-cron", "test-fields"):
        scheduler._jobs.pop(job_id)


def test_creating_the_app_starts_no_scheduler(database_url):
    """Gunicorn workers import wsgi.create_app: nothing in it may start jobs."""
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    create_app(Config).test_client().get("/healthz")
    assert not [t for t in threading.enumerate() if "APScheduler" in t.name]


@pytest.mark.committing
def test_one_leader_at_a_time_and_a_successor_when_it_goes(app):
    first, second = LeaderLock(app, "first"), LeaderLock(app, "second")
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        assert first.acquire() is True  # renewing
        if first.postgres:
            first._connection.invalidate()  # as when its process dies: the server drops the lock
        else:  # the lease runs out when its holder stops renewing it
            with time_machine.travel(utcnow() + timedelta(seconds=app.config["SCHEDULER_LEASE_SECONDS"] + 1)):
                assert second.acquire() is True
                assert first.acquire() is False
            return
        assert first.acquire() is False
        for _ in range(50):  # the server frees the lock as soon as it sees the connection gone
            if second.acquire():
                break
            time.sleep(0.1)
        assert second.acquire() is True
    finally:
        first.release()
        second.release()
