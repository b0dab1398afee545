"""Helpers for the reminders tests: a patient with a plan at a fixed time, a push endpoint
stand-in on loopback."""
import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select

from app.extensions import db
from app.reminders.models import Notification
from tests.factories import at, enrolled_patient

EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def item(time_of_day=None, exercise="pressure-relief", minutes=5, days=EVERY_DAY, **extra):
    body = {"exercise": exercise, "minutes": minutes, "days_of_week": days, **extra}
    if time_of_day:
        body["time_of_day"] = time_of_day
    return body


def patient_with_plan(world, when: datetime, items: list, **profile):
    """(patient actor, profile, plan) assigned at `when` by coordinator A (no safety warnings)."""
    profile.setdefault("neurological_level", "T10")
    with at(when, world.coord_a):
        actor, patient = enrolled_patient(world.client, world.coord_a, **profile)
        response = world.coord_a.post(f"/api/v1/patients/{patient['id']}/plans", json={"items": items})
        assert response.status_code == 201, response.get_json()
    return actor, patient, response.get_json()


def rows(patient_id, status=None, recipient=None) -> list[Notification]:
    stmt = select(Notification).where(Notification.patient_id == patient_id).order_by(Notification.due_at)
    if status:
        stmt = stmt.where(Notification.status == status)
    if recipient:
        stmt = stmt.where(Notification.recipient_user_id == recipient)
    return list(db.session.scalars(stmt))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


class PushEndpoint:
    """An FCM HTTP v1 stand-in: records each request; answers with the statuses queued."""

    def __init__(self):
        self.requests, self.answers = [], []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append({"path": self.path, "auth": self.headers["Authorization"], "body": body})
                status, answer = endpoint.answers.pop(0) if endpoint.answers else (200, {"name": "projects/x/messages/1"})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
