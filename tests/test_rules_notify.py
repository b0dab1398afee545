"""Coordinators are told: urgent flags at once, the rest in a daily digest, follow-ups on the
morning they are due; all through the outbox (app.reminders), in the recipient's language."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.reminders.dispatch import dispatch
from app.reminders.models import Notification
from app.reminders.texts import render
from app.rules import service as rules
from tests.factories import at, staff
from tests.test_rules import Patient, utc


def outbox(kind, recipient=None):
    stmt = select(Notification).where(Notification.kind == kind)
    if recipient:
        stmt = stmt.where(Notification.recipient_user_id == uuid.UUID(recipient))
    return db.session.scalars(stmt.order_by(Notification.due_at)).all()


@pytest.fixture
def p(client, world):
    return Patient(client, world)


def test_urgent_safety_flag_is_enqueued_at_once_for_each_coordinator(p):
    p.log(utc(2027, 3, 2, 10), symptoms=["pounding_headache"])
    [row] = outbox("rule_flag_urgent", p.coord.id)
    assert row.patient_id == uuid.UUID(p.id) and row.payload["rule_id"] == "dysreflexia_signs"
    assert render(row.kind, row.payload, "en")["subject"] == "Urgent: Signs of autonomic dysreflexia reported"
    assert render(row.kind, row.payload, "zh-CN")["subject"].startswith("紧急：")
    p.sweep(utc(2027, 3, 2, 12))  # the backstop finds nothing new: nothing more to send
    assert len(outbox("rule_flag_urgent", p.coord.id)) == 1
    p.log(utc(2027, 3, 2, 15), symptoms=["flushing_or_sweating"])  # a new event on the open flag
    assert len(outbox("rule_flag_urgent", p.coord.id)) == 2


def test_lapse_tells_at_once_only_when_it_becomes_urgent_and_digests_the_rest(p):
    p.log(utc(2027, 3, 1, 10))
    with at(utc(2027, 3, 5, 12)), p.app.app_context():
        p.sweep(utc(2027, 3, 5, 12))
        assert outbox("rule_flag_urgent") == []
        assert rules.digest(utc(2027, 3, 5, 12)) == 1
        assert rules.digest(utc(2027, 3, 5, 13)) == 0  # one a day
        [digest] = outbox("rule_flag_digest", p.coord.id)
        assert digest.payload["warning"] >= 1 and "{" not in render(digest.kind, digest.payload, "en")["text"]
    p.sweep(utc(2027, 3, 15, 12))
    [urgent] = outbox("rule_flag_urgent", p.coord.id)
    assert urgent.payload["rule_id"] == "lapse"


def test_contact_follow_up_reminds_the_coordinator_that_morning(p):
    with at(utc(2027, 3, 2, 10), p.coord):
        response = p.coord.post(f"{p.url}/contacts", json={"channel": "phone", "outcome": "no_answer",
                                                           "follow_up_on": "2027-04-01"})
        assert response.status_code == 201
    [row] = outbox("contact_follow_up", p.coord.id)
    # 09:00 in London on 1 April 2027 (summer time, UTC+1)
    assert row.due_at == datetime(2027, 4, 1, 8, tzinfo=timezone.utc)


def test_a_coordinators_email_comes_in_the_language_of_their_account(p, smtp):
    with at(utc(2027, 3, 2, 9), p.world.admin):
        changed = p.world.admin.patch(f"/api/v1/users/{p.coord.id}", json={"language": "zh-CN"})
    assert changed.status_code == 200 and changed.get_json()["language"] == "zh-CN"
    p.log(utc(2027, 3, 2, 10), symptoms=["pounding_headache"])
    [row] = outbox("rule_flag_urgent", p.coord.id)
    with p.app.app_context():
        dispatch(row.due_at + timedelta(minutes=1))
    [message] = smtp.to(p.coord.email)
    assert message["Subject"].startswith("紧急：") and message["Content-Language"] == "zh-CN"


def _second_coordinator(p):
    """A coordinator added to p's care team beside p.coord."""
    second = staff(p.app.test_client(), "coordinator", "Second coordinator")
    added = p.coord.post(f"{p.url}/care-team", json={"coordinator_id": second.id})
    assert added.status_code == 201, added.get_json()
    return second


def _deactivate(p, coordinator):
    off = p.world.admin.patch(f"/api/v1/users/{coordinator.id}", json={"is_active": False})
    assert off.status_code == 200, off.get_json()


def test_a_deactivated_coordinator_is_not_sent_urgent_flag_emails(p, smtp):
    former = _second_coordinator(p)
    p.log(utc(2027, 3, 2, 10), symptoms=["pounding_headache"])  # queued for both, then one leaves
    queued = {row.recipient_user_id: row for row in outbox("rule_flag_urgent")}
    assert set(queued) == {uuid.UUID(p.coord.id), uuid.UUID(former.id)}
    _deactivate(p, former)
    p.log(utc(2027, 3, 2, 15), symptoms=["flushing_or_sweating"])  # a new event after it left
    assert len(outbox("rule_flag_urgent", p.coord.id)) == 2
    assert len(outbox("rule_flag_urgent", former.id)) == 1  # not queued for the deactivated account
    with p.app.app_context():
        dispatch(utc(2027, 3, 2, 16))
    assert smtp.to(former.email) == []
    assert len(smtp.to(p.coord.email)) >= 1
    [void] = outbox("rule_flag_urgent", former.id)
    assert (void.status, void.sent_at, void.channel) == ("cancelled", None, None)
    assert "deactivated" in void.last_error
    assert {row.status for row in outbox("rule_flag_urgent", p.coord.id)} == {"sent"}


def test_the_active_coordinator_still_gets_the_urgent_flag_email_when_another_is_deactivated(p, smtp):
    _deactivate(p, _second_coordinator(p))
    p.log(utc(2027, 3, 2, 10), symptoms=["pounding_headache"])
    [row] = outbox("rule_flag_urgent")
    assert row.recipient_user_id == uuid.UUID(p.coord.id)
    with p.app.app_context():
        dispatch(row.due_at + timedelta(minutes=1))
    [message] = smtp.to(p.coord.email)
    assert message["Subject"] == "Urgent: Signs of autonomic dysreflexia reported"
    assert outbox("rule_flag_urgent")[0].status == "sent"


def test_a_contact_follow_up_is_not_sent_to_a_coordinator_deactivated_since(p, smtp):
    former = _second_coordinator(p)
    with at(utc(2027, 3, 2, 10), former):
        response = former.post(f"{p.url}/contacts", json={"channel": "phone", "outcome": "no_answer",
                                                         "follow_up_on": "2027-04-01"})
        assert response.status_code == 201, response.get_json()
    _deactivate(p, former)
    [row] = outbox("contact_follow_up", former.id)
    with p.app.app_context():
        dispatch(row.due_at + timedelta(minutes=1))
    assert smtp.to(former.email) == []
    [void] = outbox("contact_follow_up", former.id)
    assert void.status == "cancelled" and void.sent_at is None
