"""The scheduler: job registration and options, the leader lock, and no jobs in web workers."""
import threading
from datetime import timedelta

import pytest
import time_machine
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import create_engine, text

from app import create_app
from app.common.types import utcnow
from app.config import TestConfig
from app.extensions import db
from app.scheduler import ADVISORY_KEY, LeaderLock, _add, register_job, registered_jobs


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


class Elsewhere:
    """A PostgreSQL session of its own, as another process's: it ends sessions, waiting until
    they are gone, and tries the advisory lock."""

    def __init__(self, app):
        self.engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], isolation_level="AUTOCOMMIT")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.engine.dispose()

    def scalar(self, sql, **params):
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def end(self, pid: int) -> None:
        """End session pid and wait (up to 10 s) until it is gone, with its locks."""
        self.scalar("SELECT pg_terminate_backend(:pid, 10000)", pid=pid)

    def takes_the_lock(self, connection=None) -> bool:
        if connection is None:
            got = self.scalar("SELECT pg_try_advisory_lock(:key)", key=ADVISORY_KEY)
            if got:
                self.scalar("SELECT pg_advisory_unlock(:key)", key=ADVISORY_KEY)
            return got
        return connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}).scalar()

    def advisory_locks(self) -> int:
        """Advisory locks held in this database (pg_locks lists the whole cluster's)."""
        return self.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                           "(SELECT oid FROM pg_database WHERE datname = current_database())")


def _pid(lock: LeaderLock) -> int:
    return lock._connection.execute(text("SELECT pg_backend_pid()")).scalar()


@pytest.mark.committing
def test_one_leader_at_a_time_and_a_successor_when_it_goes(app):
    first, second = LeaderLock(app, "first"), LeaderLock(app, "second")
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        assert first.acquire() is True  # renewing
        if not first.postgres:  # the lease runs out when its holder stops renewing it
            with time_machine.travel(utcnow() + timedelta(seconds=app.config["SCHEDULER_LEASE_SECONDS"] + 1)):
                assert second.acquire() is True
                assert first.acquire() is False
            return
        with Elsewhere(app) as elsewhere:  # its process dies: the server ends its session, and the lock with it
            elsewhere.end(_pid(first))
        assert second.acquire() is True
        assert first.acquire() is False  # its connection is gone, and the lock is the second's now
    finally:
        first.release()
        second.release()


@pytest.mark.committing
def test_a_stopped_leader_frees_the_lock_at_once(app):
    """release() gives the lock up there and then, not when the pool or the process closes its
    connection: a successor can take it at its next poll."""
    first, second = LeaderLock(app, "first"), LeaderLock(app, "second")
    try:
        assert first.acquire() is True
        first.release()
        if first.postgres:
            with Elsewhere(app) as elsewhere:
                assert elsewhere.advisory_locks() == 0  # no session of this process holds it, pooled or not
                assert elsewhere.takes_the_lock() is True
        assert second.acquire() is True
        assert first.acquire() is False
        second.release()
        assert first.acquire() is True  # released again
    finally:
        first.release()
        second.release()


@pytest.mark.committing
def test_the_leader_holds_the_lock_on_a_connection_outside_the_pool(app):
    lock = LeaderLock(app, "leader")
    if not lock.postgres:
        pytest.skip("PostgreSQL's advisory lock")
    with app.app_context():
        pool = db.engine.pool
        before = pool.checkedout()
        try:
            assert lock.acquire() is True
            assert pool.checkedout() == before  # detached: never handed back to the pool with the lock on it
            with Elsewhere(app) as elsewhere:
                assert elsewhere.takes_the_lock() is False
        finally:
            lock.release()
        assert pool.checkedout() == before


@pytest.mark.committing
def test_a_dead_lock_connection_is_closed_and_the_lock_taken_again(app):
    """The database restarted, or the lock's connection died: the dead connection is closed, and
    the process takes the lock again on a new one (at once if it is free, else at a later poll)."""
    lock = LeaderLock(app, "leader")
    if not lock.postgres:
        pytest.skip("PostgreSQL's advisory lock")
    with app.app_context(), Elsewhere(app) as elsewhere, elsewhere.engine.connect() as rival:
        pool = db.engine.pool
        before = pool.checkedout()
        try:
            assert lock.acquire() is True
            dead = lock._connection
            elsewhere.end(_pid(lock))
            assert lock.acquire() is True  # free: taken again on a new connection at once
            assert lock._connection is not dead and dead.closed
            assert elsewhere.takes_the_lock() is False  # held: the new connection has it

            dead = lock._connection
            elsewhere.end(_pid(lock))
            assert elsewhere.takes_the_lock(rival) is True  # another process is quicker this time
            assert lock.acquire() is False
            assert lock._connection is None and dead.closed
            assert pool.checkedout() == before  # nothing left checked out
            rival.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            assert lock.acquire() is True  # the next poll tries again
        finally:
            lock.release()
        assert elsewhere.advisory_locks() == 0
