"""A patient's plan history replayed through the API with time moved: plan changes on the
day they are made, sessions logged (one by one or as offline batches), edited and deleted."""
import uuid
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from tests.factories import at, enrolled_patient

UTC = timezone.utc
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def local(day: date, hour: int, minute: int, tz: str) -> datetime:
    """The UTC moment of a patient-local wall-clock time."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz)).astimezone(UTC)


class PatientHistory:
    def __init__(self, client, world, tz: str, items: list, start: date, language="en", made_on: date | None = None):
        self.world, self.tz = world, tz
        self.coordinator = world.coord_a
        self.patient, self.profile = enrolled_patient(client, world.coord_a, neurological_level="L1",
                                                      time_zone=tz, language=language)
        self.url = f"/api/v1/patients/{self.profile['id']}"
        made_on = made_on or start - timedelta(days=1)
        with self.on(made_on):
            response = self.coordinator.post(f"{self.url}/plans", json={"start_date": start.isoformat(), "items": items})
            assert response.status_code == 201, response.get_json()
        self.plan = response.get_json()
        self.keys = [i["item_key"] for i in self.plan["versions"][0]["items"]]
        self.sessions: dict = {}

    @contextmanager
    def moment(self, when: datetime):
        with at(when, self.patient, self.coordinator):
            yield self

    def on(self, day: date, hour=12, minute=0):
        """At a patient-local time of day."""
        return self.moment(local(day, hour, minute, self.tz))

    # --- plan changes (made by the coordinator; the caller is at the right moment) ---------

    def _plan_post(self, action: str, body: dict) -> dict:
        plan_url = f"{self.url}/plans/{self.plan['id']}"
        response = self.coordinator.post(f"{plan_url}/{action}", json=body, if_match_of=plan_url)
        assert response.status_code in (200, 201), response.get_json()
        self.plan = response.get_json()
        return self.plan

    def version(self, effective_from: date, items: list) -> dict:
        return self._plan_post("versions", {"effective_from": effective_from.isoformat(), "items": items})

    def pause(self, start: date) -> dict:
        return self._plan_post("pause", {"reason": "illness", "start_date": start.isoformat()})

    def resume(self, on: date) -> dict:
        return self._plan_post("resume", {"on": on.isoformat()})

    def end(self, on: date) -> dict:
        return self._plan_post("end", {"reason": "programme completed", "on": on.isoformat()})

    # --- sessions (logged by the patient) -----------------------------------------------

    def body(self, started: datetime, key=0, minutes=30) -> dict:
        ref = {"item_key": self.keys[key]} if isinstance(key, int) else {"exercise": key}
        return {**ref, "started_at": started.isoformat(), "duration_minutes": minutes}

    def log(self, started: datetime, key=0, minutes=30, session_id=None) -> str:
        session_id = session_id or str(uuid.uuid4())
        response = self.patient.put(f"{self.url}/sessions/{session_id}", json=self.body(started, key, minutes))
        assert response.status_code in (200, 201), response.get_json()
        return session_id

    def batch(self, sessions: list[dict]) -> list[str]:
        """Offline sync: bodies from body(); returns their ids."""
        items = [{"id": str(uuid.uuid4()), **s} for s in sessions]
        response = self.patient.post(f"{self.url}/sessions/batch", json={"sessions": items})
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["counts"] == {"created": len(items)}, response.get_json()
        return [i["id"] for i in items]

    def delete(self, session_id: str) -> None:
        """Soft delete of the stored version (its revision as If-Match, as the app sends it)."""
        stored = self.patient.get(f"{self.url}/sessions/{session_id}")
        assert stored.status_code == 200, stored.get_json()
        response = self.patient.delete(f"{self.url}/sessions/{session_id}", headers={"If-Match": stored.headers["ETag"]})
        assert response.status_code == 204, response.get_json()

    # --- reads --------------------------------------------------------------------------

    def get(self, path: str) -> dict:
        response = self.coordinator.get(f"{self.url}/{path}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def adherence(self, query="window=7") -> dict:
        return self.get(f"adherence?{query}")

    def weekly(self, week: date | None = None, lang: str | None = None) -> dict:
        query = "&".join(f"{k}={v}" for k, v in (("week", week), ("lang", lang)) if v)
        return self.get(f"adherence/weekly?{query}")

    def agenda(self, day: date | None = None) -> dict:
        return self.get(f"agenda?date={day.isoformat()}" if day else "agenda")

    def agenda_week(self, day: date) -> dict:
        return self.get(f"agenda/week?start={day.isoformat()}")
