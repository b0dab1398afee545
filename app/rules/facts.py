"""What the rules look at, loaded for a batch of patients with a fixed number of queries.

Adherence (plans, sessions, windows' rates, days with data, the last session) is what the
adherence service counts (history_many, window_metrics): the rules never count sessions
themselves."""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, cached_property

from sqlalchemy import String, bindparam, cast, or_, select

from app.adherence import service as adherence
from app.common.clock import local_date
from app.extensions import db
from app.patients.models import Patient
from app.sessions.models import ExerciseSession


@dataclass(frozen=True)
class SafetySession:
    id: object
    local_date: date
    updated_at: datetime
    pain: int | None
    symptoms: list
    alerts: list


@dataclass
class PatientFacts:
    patient_id: object
    today: date
    time_zone: str
    specs: list = field(default_factory=list)
    history: object = None  # adherence's History of the batch (the sweep), None on a session write
    safety: list = field(default_factory=list)
    last_session_at: datetime | None = None  # however old
    extra: dict = field(default_factory=dict)  # name -> what an EXTRAS loader found for the patient
    _windows: dict = field(default_factory=dict, repr=False)  # (start, end) -> metrics: rules share windows

    @property
    def last_session_date(self) -> date | None:
        """The patient-local date of the latest session (as the session stored it)."""
        return None if self.last_session_at is None else local_date(self.last_session_at, self.time_zone)

    def metrics(self, start: date, end: date) -> dict:
        """Adherence's metrics of [start, end] (see adherence.window_metrics), once per window."""
        if (start, end) not in self._windows:
            self._windows[(start, end)] = adherence.window_metrics(self.history, self.patient_id, start, end,
                                                                   self.today)
        return self._windows[(start, end)]

    @cached_property
    def running(self) -> list:
        return [s for s in self.specs if s.running_on(self.today)]

    @cached_property
    def active(self) -> list:
        """Plans in force today and not paused (read by most rules: worked out once)."""
        return [s for s in self.running if not s.paused_on(self.today)]

    @property
    def paused(self) -> bool:
        """Every running plan is paused today."""
        return bool(self.running) and not self.active


@cache
def _safety_statement():
    return (select(ExerciseSession.patient_id, ExerciseSession.id, ExerciseSession.local_date,
                   ExerciseSession.updated_at, ExerciseSession.pain, ExerciseSession.symptoms,
                   ExerciseSession.alerts)
            .where(ExerciseSession.patient_id.in_(bindparam("ids", expanding=True)),
                   ExerciseSession.deleted_at.is_(None),
                   ExerciseSession.local_date >= bindparam("start"),
                   or_(ExerciseSession.pain.is_not(None), cast(ExerciseSession.symptoms, String) != "[]")))


def _dxa_latest(ids, now):
    from app.dxa import service as dxa

    return dxa.latest_results(ids)


def _dxa_overdue(ids, now):
    from app.dxa import service as dxa

    return dxa.overdue_followups(ids, 0, now)


def _doses(ids, now):
    from app.medications import service as medications

    return medications.dose_status(ids, now, overdue_only=True)


def _exercise_kinds(_ids, _now):
    from app.exercises.models import Exercise

    return dict(db.session.execute(select(Exercise.id, Exercise.kind)).all())


# Facts only some rules read, loaded when an enabled rule needs them: each one query, returning
# rows with a patient_id (or, for exercise_kinds, one mapping shared by every patient).
EXTRAS = {"dxa_latest": _dxa_latest, "dxa_overdue": _dxa_overdue, "doses": _doses,
          "exercise_kinds": _exercise_kinds}
SHARED = {"exercise_kinds"}


def load_extras(facts: dict, needs: set, now: datetime) -> None:
    ids = list(facts)
    for name in sorted(needs):
        found = EXTRAS[name](ids, now)
        if name in SHARED:
            for f in facts.values():
                f.extra[name] = found
            continue
        for row in found:
            if row["patient_id"] in facts:
                facts[row["patient_id"]].extra.setdefault(name, []).append(row)


def load(patient_ids: list, safety_days: int, now: datetime, history_days: int | None = None) -> dict:
    """{patient_id: PatientFacts}. With history_days (the sweep): adherence's history of the
    batch (history_many: at most seven queries) and the safety answers (one); without (a
    session was written): the patients and their safety answers, two queries."""
    rows = db.session.execute(select(Patient.id, Patient.time_zone).where(Patient.id.in_(patient_ids))).all()
    zones = {r.id: r.time_zone for r in rows}
    if history_days is not None and zones:
        todays, history = adherence.history_many(list(zones), now, history_days)
        facts = {pid: PatientFacts(pid, today, zones[pid], history.specs.get(pid, []), history,
                                   last_session_at=history.last_session_at.get(pid))
                 for pid, today in todays.items()}
    else:
        facts = {pid: PatientFacts(pid, local_date(now, tz), tz) for pid, tz in zones.items()}
    if facts:
        start = min(f.today for f in facts.values()) - timedelta(days=safety_days)
        for row in db.session.execute(_safety_statement(), {"ids": list(facts), "start": start}):
            facts[row.patient_id].safety.append(
                SafetySession(row.id, row.local_date, row.updated_at, row.pain, row.symptoms or [], row.alerts or []))
    return facts
