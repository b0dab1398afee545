"""Scheduled jobs: each domain registers its periodic jobs here in its register(app); the
scheduler process (`flask scheduler run`, app/scheduler.py) runs what is registered."""
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask


@dataclass(frozen=True)
class Job:
    """name: unique, e.g. "reminders.materialise"; run: called with no arguments inside an
    app context (open `writing()` for writes and act as a SystemActor); trigger: APScheduler
    trigger arguments, e.g. {"trigger": "interval", "minutes": 5}; leader_only: run by the
    one scheduler process that holds the leader lock (False: by every one, e.g. the dispatcher)."""

    name: str
    run: Callable[[], object]
    trigger: dict = field(default_factory=dict)
    leader_only: bool = True


def register_job(app: Flask, job: Job) -> None:
    jobs = app.extensions.setdefault("standstrong.jobs", {})
    if job.name in jobs:
        raise ValueError(f"job {job.name!r} is registered twice")
    jobs[job.name] = job


def registered_jobs(app: Flask) -> list[Job]:
    return list(app.extensions.get("standstrong.jobs", {}).values())
