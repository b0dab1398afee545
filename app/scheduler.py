"""The scheduler process: `flask scheduler run` (APScheduler 3). Never started by web workers.

Domains register their periodic jobs with register_job from their register(app). Every
scheduler process runs the jobs that are not leader-bound (the dispatcher: claims make any
number of them safe); the leader jobs (materialise, sweeps) run only in the process that holds
the leader lock: a PostgreSQL advisory lock held by a dedicated connection outside the pool
(unlocked when the process stops, freed by the server when the process or its connection
dies), or on SQLite a lease row renewed every few seconds (ended when the process stops, run
out after SCHEDULER_LEASE_SECONDS when it dies). The other processes poll the lock every
SCHEDULER_POLL_SECONDS and one takes over when it comes free.
"""
import logging
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import String, select, text, update
from sqlalchemy.orm import Mapped, mapped_column

from app.common.db import insert_ignoring_conflict, writing
from app.common.jobs import registered_jobs as app_jobs
from app.common.types import UTCDateTime, utcnow
from app.extensions import db

log = logging.getLogger("standstrong.scheduler")
LEADER = "leader"
ADVISORY_KEY = 0x5354_414E_4453  # "STANDS": the one session-level advisory lock this app takes
MISFIRE_GRACE_SECONDS = 60


class SchedulerLease(db.Model):
    """The scheduler's leader lock on SQLite (PostgreSQL uses an advisory lock)."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass
class JobSpec:
    job_id: str
    func: object  # func(now)
    trigger: object
    leader_only: bool


_jobs: dict[str, JobSpec] = {}


def register_job(job_id: str, func, *, seconds: int | None = None, cron: str | dict | None = None,
                 leader_only: bool = True) -> None:
    """Run func(now) every `seconds`, or on `cron` (a crontab string or CronTrigger fields, UTC),
    in an app context with writes allowed (`writing()`); func acts as a SystemActor of its own.
    Registering the same id again replaces it. (Domains may also register an
    app.common.jobs.Job in their register(app): both kinds run.)"""
    if (seconds is None) == (cron is None):
        raise ValueError("give seconds or cron")
    if seconds is not None:
        trigger = IntervalTrigger(seconds=seconds, timezone=timezone.utc)
    elif isinstance(cron, str):
        trigger = CronTrigger.from_crontab(cron, timezone=timezone.utc)
    else:
        trigger = CronTrigger(timezone=timezone.utc, **cron)
    _jobs[job_id] = JobSpec(job_id, func, trigger, leader_only)


def registered_jobs(app=None) -> dict[str, JobSpec]:
    """Every job: those registered here and, given the app, its app.common.jobs Jobs."""
    jobs = dict(_jobs)
    for job in app_jobs(app) if app is not None else []:
        options = dict(job.trigger)
        kind = options.pop("trigger", "interval")
        trigger = (IntervalTrigger(timezone=timezone.utc, **options) if kind == "interval"
                   else CronTrigger(timezone=timezone.utc, **options))
        jobs[job.name] = JobSpec(job.name, lambda now, run=job.run: run(), trigger, job.leader_only)
    return jobs


# --- the leader lock ----------------------------------------------------------------------

class LeaderLock:
    """On PostgreSQL a session-level advisory lock, held for as long as this process leads by a
    connection of its own, detached from the pool: it is never handed to other code, and
    closing it ends the session. The lock lives exactly as long as that session: release()
    unlocks and closes it; if the process dies the server ends the session and frees the lock;
    if the connection dies (the database restarted) the next acquire() closes it and takes the
    lock again on a new connection if it is free. On SQLite a lease row that acquire() renews
    and release() ends."""

    def __init__(self, app, holder: str):
        self.app, self.holder = app, holder
        self._connection = None  # PostgreSQL: the session holding the advisory lock

    @property
    def postgres(self) -> bool:
        with self.app.app_context():
            return db.engine.dialect.name == "postgresql"

    def acquire(self) -> bool:
        """Take or keep the lock; False when another process holds it."""
        with self.app.app_context(), writing():
            if db.engine.dialect.name == "postgresql":
                return self._advisory()
            return self._lease()

    def _advisory(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                return True  # the session lives, and with it the lock
            except Exception:
                log.warning("the leader lock's connection was lost; taking the lock again")
                self._discard()  # whatever failed, end that session: no lock may stay behind on it
        connection = db.engine.connect()
        try:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}).scalar()
        except Exception:
            connection.invalidate()  # it may hold the lock or not: end the session to be sure
            connection.close()
            raise
        if not got:
            connection.close()  # back to the pool: it holds nothing
            return False
        connection.detach()  # the lock's session: closing it from now on ends the session
        self._connection = connection
        return True

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        connection.invalidate()  # closes the DBAPI connection (already closed if the server went)
        connection.close()

    def _lease(self) -> bool:
        now = utcnow()
        until = now + timedelta(seconds=self.app.config["SCHEDULER_LEASE_SECONDS"])
        insert_ignoring_conflict(SchedulerLease, {"name": LEADER, "holder": self.holder, "expires_at": until}, ["name"])
        won = db.session.execute(
            update(SchedulerLease).where(SchedulerLease.name == LEADER,
                                         (SchedulerLease.holder == self.holder) | (SchedulerLease.expires_at < now))
            .values(holder=self.holder, expires_at=until).execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        return won == 1

    def release(self) -> None:
        """Give the lock up at once, so that a waiting process takes it at its next poll."""
        with self.app.app_context(), writing():
            if self._connection is not None:
                connection, self._connection = self._connection, None
                try:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
                except Exception:  # the connection is gone, and the lock with its session
                    log.warning("could not unlock the leader lock; closing its connection")
                    connection.invalidate()
                finally:
                    connection.close()  # detached: this ends the session, which frees the lock if unlock did not
            elif db.engine.dialect.name != "postgresql":
                db.session.execute(update(SchedulerLease).where(SchedulerLease.name == LEADER,
                                                                SchedulerLease.holder == self.holder)
                                   .values(expires_at=utcnow() - timedelta(seconds=1)))
                db.session.commit()


def current_leader(app) -> str | None:
    """The lease holder on SQLite; None on PostgreSQL."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            return None
        row = db.session.scalar(select(SchedulerLease).where(SchedulerLease.name == LEADER))
        return row.holder if row and row.expires_at > utcnow() else None


# --- running ------------------------------------------------------------------------------

def _runner(app, spec: JobSpec):
    def run():
        with app.app_context(), writing():
            started = time.perf_counter()
            try:
                result = spec.func(datetime.now(timezone.utc))
                level = logging.INFO if spec.leader_only else logging.DEBUG  # the dispatcher ticks often
                log.log(level, "job %s done in %.0f ms: %s", spec.job_id, (time.perf_counter() - started) * 1000,
                        result)
            except Exception:
                log.exception("job %s failed", spec.job_id)
                db.session.rollback()
            finally:
                db.session.remove()
    return run


def _add(scheduler, app, spec: JobSpec) -> None:
    """Interval jobs run once at once (a new leader catches up); cron jobs wait for their time,
    so a change of leader never sends a daily digest twice."""
    first = datetime.now(timezone.utc) if isinstance(spec.trigger, IntervalTrigger) else None
    options = {"next_run_time": first} if first else {}
    scheduler.add_job(_runner(app, spec), spec.trigger, id=spec.job_id, name=spec.job_id, replace_existing=True,
                      coalesce=True, max_instances=1, misfire_grace_time=MISFIRE_GRACE_SECONDS, **options)


def run(app, stop: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or stop is set): every process runs the non-leader jobs; the
    leader also runs the leader jobs."""
    stop = stop or threading.Event()
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    lock = LeaderLock(app, holder)
    jobs = registered_jobs(app)
    scheduler = BackgroundScheduler(timezone=timezone.utc)
    for spec in jobs.values():
        if not spec.leader_only:
            _add(scheduler, app, spec)
    scheduler.start()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    log.info("scheduler %s started with jobs %s", holder, sorted(jobs))
    leading = None  # not known before the first try
    poll = max(1, min(app.config["SCHEDULER_POLL_SECONDS"], app.config["SCHEDULER_LEASE_SECONDS"] // 3 or 1))
    try:
        while not stop.is_set():
            try:
                have = lock.acquire()
            except Exception:
                log.exception("leader lock check failed")
                have = False
            if have and not leading:
                leading = True
                log.info("scheduler %s is the leader", holder)
                for spec in jobs.values():
                    if spec.leader_only:
                        _add(scheduler, app, spec)
            elif not have and leading is not False:
                if leading:
                    log.warning("scheduler %s lost the leader lock", holder)
                    for spec in jobs.values():
                        if spec.leader_only and scheduler.get_job(spec.job_id):
                            scheduler.remove_job(spec.job_id)
                leading = False
                log.info("not the leader: trying the leader lock every %d s", poll)  # once per change
            stop.wait(poll)
    finally:
        scheduler.shutdown(wait=True)
        lock.release()
        log.info("scheduler %s stopped", holder)
