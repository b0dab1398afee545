"""Services run without a request: routes, CLI commands and scheduler jobs call the same code.

Every public function of every domain's service module is classified here as a read (called
below under an app context only, with no request) or a write; a new function that is in
neither list fails the test, so a new service cannot quietly depend on a request again.
"""
import importlib
import inspect
import pkgutil
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from flask import has_request_context
from sqlalchemy import select

import app as app_package
from app.audit.models import AuditEvent
from app.auth.models import User
from app.common.actors import SystemActor
from app.common.clock import local_date, local_today
from app.common.db import writing
from app.common.types import utcnow
from app.dxa.models import DxaFollowUp, DxaResult
from app.common.pagination import Page
from app.exercises.models import Exercise
from app.extensions import db
from app.medications.models import BoneTreatment
from app.patients.models import Patient
from app.plans.models import Plan
from app.rules.models import Flag
from app.reminders.models import Notification
from app.sessions.models import ExerciseSession
from tests.factories import PASSWORD


def _user(actor) -> User:
    return db.session.get(User, uuid.UUID(actor.id))


def _module(w):
    from app.education.service import module_by_slug

    return module_by_slug("keep-going")


def _plan(w):
    return db.session.get(Plan, uuid.UUID(w.plan_a["id"]))


def _exercise(w):
    return db.session.scalar(select(Exercise).where(Exercise.slug == "fes-cycling"))


def _now() -> datetime:
    """When the test runs, not when the module was imported (a run may cross midnight)."""
    return utcnow()


def _today() -> date:
    """Patient A's today (Asia/Shanghai), as the app reckons it."""
    return local_today("Asia/Shanghai")


def _history_a(w):
    from app.adherence.service import history_many

    return history_many([uuid.UUID(w.a_id)], _now(), 30)[1]


def _facts_a(w):
    from app.rules.facts import load

    return load([uuid.UUID(w.a_id)], 3, _now(), 40)


def _patient_a(w):
    return db.session.get(Patient, uuid.UUID(w.a_id))


def _result(w):
    return db.session.get(DxaResult, uuid.UUID(w.dxa_result_a["id"]))


def _followup(w):
    return db.session.get(DxaFollowUp, uuid.UUID(w.followup_a["id"]))


def _treatment(w):
    return db.session.get(BoneTreatment, uuid.UUID(w.treatment_a["id"]))

# name -> a function of the world giving the arguments to call it with.
READS = {
    "access.list_accounts": lambda w: (_user(w.admin), {"role": "coordinator"}),
    "access.list_audit_events": lambda w: (_user(w.admin), {"patient_id": uuid.UUID(w.a_id)}),
    "adherence.adherence": lambda w: (_user(w.coord_a), w.a_id, {"window": 7}),
    "adherence.adherence_many": lambda w: ([uuid.UUID(w.a_id)], 30),
    "adherence.history_many": lambda w: ([uuid.UUID(w.a_id)], _now(), 30),
    "adherence.last_session_at_many": lambda w: ([uuid.UUID(w.a_id)], _now()),
    "adherence.window_metrics": lambda w: (_history_a(w), uuid.UUID(w.a_id), _today() - timedelta(days=6), _today(), _today()),
    "adherence.streaks.load": lambda w: ([uuid.UUID(w.a_id)], {uuid.UUID(w.a_id): _today()}, _today() - timedelta(days=30)),
    "adherence.streaks.load_one": lambda w: (uuid.UUID(w.a_id), _today(), _today() - timedelta(days=30)),
    "adherence.streaks.settled_margin": lambda w: (),
    "adherence.streaks.checkpoint_read": lambda w: (uuid.UUID(w.a_id),),
    "adherence.agenda": lambda w: (_user(w.patient_a), "me"),
    "adherence.agenda_week": lambda w: (_user(w.caregiver_a), "me", None, "en"),
    "adherence.weekly_summary": lambda w: (_user(w.coord_a), w.a_id, None, "zh-CN"),
    "audit.list_events": lambda w: (uuid.UUID(w.a_id),),
    "auth.account_unavailable": lambda w: (),
    "auth.check_not_locked": lambda w: (w.coord_a.email, utcnow()),
    "calendar.feed_status": lambda w: (_user(w.patient_a), "me"),
    "calendar.ics": lambda w: (_patient_a(w), "en"),
    "calendar.patient_by_actor": lambda w: (_user(w.coord_a), w.a_id),
    "calendar.patient_by_token": lambda w: (
        w.a_id, w.patient_a.post("/api/v1/patients/me/calendar-feed").get_json()["token"]),
    "dxa.booked_appointments": lambda w: (uuid.UUID(w.a_id),),
    "dxa.due_notices": lambda w: (_now(), _now() + timedelta(days=2)),
    "dxa.followup_view": lambda w: (_followup(w), _patient_a(w), _now()),
    "dxa.followup_views": lambda w: ([_followup(w)], {uuid.UUID(w.a_id): "Asia/Shanghai"}, _now()),
    "dxa.get_followup": lambda w: (_user(w.patient_a), "me", uuid.UUID(w.followup_a["id"])),
    "dxa.get_protocol": lambda w: (_user(w.caregiver_a), "me", _now()),
    "dxa.get_result": lambda w: (_user(w.coord_a), w.a_id, uuid.UUID(w.dxa_result_a["id"]), "zh-CN"),
    "dxa.latest_results": lambda w: ([uuid.UUID(w.a_id)],),
    "dxa.list_followups": lambda w: (_user(w.coord_a), w.a_id, {"status": ["due"]}, _now()),
    "dxa.list_results": lambda w: (_user(w.patient_a), "me", {"site": "distal_femur"}, "zh-CN"),
    "dxa.overdue_followups": lambda w: ([uuid.UUID(w.a_id)], 30, _now()),
    "dxa.profile_date_errors": lambda w: (None, _patient_a(w), _patient_a(w).date_of_birth, _patient_a(w).injury_date),
    "dxa.protocol_view": lambda w: (_patient_a(w), _now()),
    "dxa.result_views": lambda w: ([_result(w)], "en"),
    "auth.check_password": lambda w: (PASSWORD,),
    "auth.list_users": lambda w: ("admin",),
    "auth.normalise_email": lambda w: (" Someone@Example.org ",),
    "coordinator.caseload_csv": lambda w: (_user(w.coord_a), {"sort": "risk", "adherence_window": 30}, _now()),
    "coordinator.caseload_page": lambda w: (_user(w.coord_a), {"page": 1, "per_page": 20, "sort": "adherence_7",
                                                               "adherence_window": 7}, _now()),
    "coordinator.contacts": lambda w: (_user(w.coord_a), w.a_id),
    "coordinator.fhir": lambda w: (_user(w.coord_a), w.a_id, "en", _now()),
    "coordinator.own_data": lambda w: (_user(w.patient_a), "me", "zh-CN", _now()),
    "coordinator.own_sessions_csv": lambda w: (_user(w.patient_a), "me", "en", _now()),
    "coordinator.timeline": lambda w: (_user(w.coord_a), w.a_id, {"order": "oldest"}, "en"),
    "education.catalogue": lambda w: (None, "bone", "en"),
    "education.catalogue_etag": lambda w: (Page([]), "en"),
    "education.catalogue_page": lambda w: ({"tag": "bone", "per_page": 2}, "zh-CN"),
    "education.catalogue_summaries": lambda w: ("zh-CN",),
    "education.etag_for": lambda w: (_module(w), "en"),
    "education.module_by_slug": lambda w: ("keep-going",),
    "education.module_in": lambda w: (_module(w), "zh-CN"),
    "education.patient_overview": lambda w: (_user(w.coord_a), w.a_id),
    "education.quiz_attempts": lambda w: (_user(w.caregiver_a), "me", "keep-going"),
    "education.served_language_of": lambda w: (_module(w), "en"),
    "exercises.catalogue": lambda w: ("zh-CN", {"kind": "fes"}),
    "medications.calendar_entries": lambda w: (uuid.UUID(w.a_id),),
    "medications.dose_status": lambda w: ([uuid.UUID(w.a_id)], _now()),
    "medications.due_notices": lambda w: (_now(), _now() + timedelta(days=2)),
    "medications.get_treatment": lambda w: (_user(w.coord_a), w.a_id, uuid.UUID(w.treatment_a["id"])),
    "medications.list_doses": lambda w: (_user(w.patient_a), "me", uuid.UUID(w.treatment_a["id"]), {}),
    "medications.list_treatments": lambda w: (_user(w.caregiver_a), "me", {"active": True}, _now(), "en"),
    "medications.profile_date_errors": lambda w: (None, _patient_a(w), _patient_a(w).date_of_birth,
                                                  _patient_a(w).injury_date),
    "medications.treatment_view": lambda w: (_treatment(w), _patient_a(w), _now(), "en"),
    "medications.treatment_views": lambda w: ([_treatment(w)], {uuid.UUID(w.a_id): "Asia/Shanghai"}, _now(), "zh-CN"),
    "exercises.exercise_key": lambda w: (str(_exercise(w).id).upper(),),
    "exercises.exercises_by_id": lambda w: ([_exercise(w).id],),
    "exercises.get_exercise": lambda w: ("fes-cycling", "zh-CN"),
    "patients.care_team": lambda w: (_user(w.coord_a), w.a_id),
    "patients.caregivers": lambda w: (_user(w.patient_a), "me"),
    "patients.get_patient": lambda w: (_user(w.coord_a), w.a_id),
    "patients.language_for": lambda w: (_user(w.patient_a), None),
    "patients.list_patients": lambda w: (_user(w.coord_a), {"q": "Alice"}),
    "patients.listed": lambda w: (_user(w.admin), [db.session.get(Patient, uuid.UUID(w.a_id))]),
    "patients.me": lambda w: (_user(w.caregiver_a),),
    "plans.get_plan": lambda w: (_user(w.coord_a), w.a_id, uuid.UUID(w.plan_a["id"])),
    "plans.list_plans": lambda w: (_user(w.patient_a), "me", {"status": "active"}),
    "plans.load_specs": lambda w: ([uuid.UUID(w.a_id)],),
    "plans.plan_status": lambda w: (_plan(w), _today()),
    "plans.safety_warnings": lambda w: (db.session.get(Patient, uuid.UUID(w.a_id)), [_exercise(w)], _today()),
    "plans.template": lambda w: ("gentle-start",),
    "plans.template_warnings": lambda w: (_user(w.coord_a), w.a_id, "gentle-start", "zh-CN"),
    "plans.templates": lambda w: ("zh-CN",),
    "rules.facts.load": lambda w: ([uuid.UUID(w.a_id)], 3, _now(), 40),
    "rules.facts.load_extras": lambda w: (_facts_a(w), {"dxa_latest", "dxa_overdue", "doses", "exercise_kinds"}, _now()),
    "rules.notify.care_teams": lambda w: ([uuid.UUID(w.a_id)],),
    "rules.caseload_flags": lambda w: (_user(w.coord_a), {"status": "active"}),
    "rules.flag_view": lambda w: (Flag(patient_id=uuid.UUID(w.a_id), rule_id="lapse", severity="warning", status="open",
                                       evidence={"days": 3, "last_session_date": "2026-01-01"}, opened_at=_now(),
                                       last_seen_at=_now()), "zh-CN"),
    "rules.patient_flags": lambda w: (_user(w.coord_a), w.a_id, {"severity": ["urgent"]}),
    "rules.rules_view": lambda w: (_user(w.admin), "en"),
    "reminders.devices": lambda w: (_user(w.patient_a),),
    "reminders.inbox": lambda w: (_user(w.caregiver_a), "me", {"unread": True}, "en"),
    "reminders.my_inbox": lambda w: (_user(w.coord_a), {}, "en"),
    "reminders.notification_view": lambda w: (db.session.get(Notification, uuid.UUID(w.notification_a)), "zh-CN"),
    "reminders.preferences": lambda w: (_user(w.coord_a), w.a_id, datetime.now(timezone.utc), None),
    "reminders.unread_count": lambda w: (_user(w.patient_a), "me"),
    "sessions.changes": lambda w: (_user(w.coord_a), w.a_id),
    "sessions.get_session": lambda w: (_user(w.coord_a), w.a_id, uuid.UUID(w.session_a)),
    "sessions.list_sessions": lambda w: (_user(w.caregiver_a), "me"),
    "sessions.symptom_checklist": lambda w: ("en",),
    "sessions.view": lambda w: (db.session.get(ExerciseSession, uuid.UUID(w.session_a)), "en"),
}
WRITES = {
    "adherence.streaks.advance", "adherence.streaks.on_session_saving", "adherence.streaks.on_session_written",
    "access.create_staff_account", "access.update_staff_account",
    "audit.discard_reads", "audit.flush_reads", "audit.nothing_written", "audit.record", "audit.record_at_once", "audit.record_read",
    "auth.create_user", "auth.login", "auth.logout", "auth.refresh", "auth.revoke_session", "auth.hold_login",
    "auth.change_password", "auth.confirm_password_reset", "auth.fail_login", "auth.request_password_reset",
    "auth.revoke_all_sessions", "auth.update_staff_account", "auth.check_credentials", "auth.open_login",
    "auth.set_own_language", "auth.lock_admins",
    "coordinator.log_contact",
    "calendar.issue_token", "calendar.on_caregiver_revoking", "calendar.on_logins_ending",
    "calendar.revoke_made_by", "calendar.revoke_token",
    "dxa.create_followup", "dxa.create_result", "dxa.delete_result", "dxa.plan_next", "dxa.put_protocol",
    "dxa.update_followup",
    "education.ensure_recommended", "education.recommend", "education.record_progress",
    "education.submit_quiz", "education.withdraw_recommendation",
    "medications.create_treatment", "medications.delete_dose", "medications.record_dose",
    "medications.update_treatment",
    "patients.activate", "patients.add_to_care_team", "patients.audit_listed", "patients.create_patient",
    "patients.invite_caregiver", "patients.reissue_patient_invitation", "patients.remove_from_care_team",
    "patients.revoke_caregiver", "patients.update_patient",
    "plans.add_version", "plans.assign_plan", "plans.check_safety", "plans.demo_plan", "plans.end", "plans.new_plan",
    "plans.pause", "plans.resume",
    "reminders.cancel_pending", "reminders.enqueue", "reminders.forget_devices", "reminders.materialise",
    "reminders.mark_all_read",
    "reminders.mark_mine_read", "reminders.mark_read", "reminders.on_caregiver_revoking",
    "reminders.on_session_saving", "reminders.on_session_written",
    "reminders.register_device", "reminders.remove_device", "reminders.snooze", "reminders.update_preferences",
    "rules.engine.run", "rules.notify.digest", "rules.notify.urgent",
    "rules.acknowledge", "rules.digest", "rules.on_dose_recorded", "rules.on_dxa_result_written",
    "rules.on_session_written", "rules.resolve", "rules.sweep",
    "sessions.batch", "sessions.delete_session", "sessions.put_session",
}


# Modules besides the service ones whose functions jobs and signal receivers call.
JOB_MODULES = ["adherence.streaks", "rules.engine", "rules.facts", "rules.notify"]


def service_functions() -> dict:
    """{"domain.function": function} for every public function app/*/service.py defines or gathers
    (and "module.function" for those of JOB_MODULES)."""
    found = {}
    for name in JOB_MODULES:
        module = importlib.import_module(f"app.{name}")
        for function_name, function in inspect.getmembers(module, inspect.isfunction):
            if not function_name.startswith("_") and function.__module__ == module.__name__:
                found[f"{name}.{function_name}"] = function
    for info in pkgutil.iter_modules(app_package.__path__):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"app.{info.name}.service")
        except ModuleNotFoundError:
            continue
        for name, function in inspect.getmembers(module, inspect.isfunction):
            # Its own public functions, and those it gathers from its domain's modules (__all__).
            own = not name.startswith("_") and function.__module__ == module.__name__
            if own or name in getattr(module, "__all__", ()):
                found[f"{info.name}.{name}"] = function
    return found


def test_every_service_function_is_classified():
    functions = set(service_functions())
    unclassified = functions - set(READS) - WRITES
    assert not unclassified, f"classify {sorted(unclassified)} in READS (with arguments) or WRITES"
    assert not (set(READS) | WRITES) - functions, "the lists name functions that no longer exist"


def test_every_read_runs_without_a_request(app, world):
    functions = service_functions()
    for name, arguments in READS.items():
        with app.app_context():
            assert not has_request_context()
            result = functions[name](*arguments(world))
            if hasattr(result, "compile"):  # a statement for the pagination helper: run it too
                db.session.execute(result).all()
            elif isinstance(result, tuple) and hasattr(result[0], "compile"):
                db.session.execute(result[0]).all()
            elif isinstance(result, Page):
                assert result.meta["next_url"] is None  # no request, no link; the rest is there
                assert result.meta["total"] == result.total


def test_a_job_reads_as_a_system_actor_and_the_trail_names_it(app, world):
    from app.adherence.service import adherence

    with app.app_context():
        metrics = adherence(SystemActor("system:rules"), uuid.UUID(world.a_id), {"window": 7})
    assert metrics["expected_sessions"] >= 0
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.actor_name == "system:rules"))
    assert (row.action, row.actor_role, row.actor_id, str(row.patient_id)) == ("read", "system", None, world.a_id)
    assert (row.method, row.route, row.request_id) == (None, None, None)


def test_a_job_writes_inside_writing(app, world):
    from app.sessions.service import put_session

    started = datetime.now(timezone.utc) - timedelta(minutes=20)
    with app.app_context(), writing():
        patient = _user(world.patient_a)
        view, status = put_session(patient, "me", uuid.uuid4(), {
            "exercise": "pressure-relief", "started_at": started, "duration_minutes": 5}, "en")
    assert status == 201 and view["duration_minutes"] == 5


def test_the_streak_checkpoint_advances_without_a_request(app, world):
    from app.adherence.models import StreakCheckpoint
    from app.adherence.streaks import advance, settled_margin

    with app.app_context(), writing():
        now = _now()
        advance(uuid.UUID(world.a_id), local_date(now, "Asia/Shanghai"), "created", now)
        row = db.session.get(StreakCheckpoint, uuid.UUID(world.a_id))
        assert row.settled_through == now.date() - timedelta(days=settled_margin() + 2)


def test_requests_add_their_details_to_the_trail(world):
    world.coord_a.get(f"/api/v1/patients/{world.a_id}/sessions/{world.session_a}",
                      headers={"X-Request-ID": "anywhere-check-01"})
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.request_id == "anywhere-check-01"))
    assert (row.method, row.route, row.resource_id) == (
        "GET", "/api/v1/patients/<patient_id>/sessions/<uuid:session_id>", world.session_a)
    assert row.client_address == "127.0.0.1"


@pytest.mark.parametrize("name", ["system", "reminders", "system:" + "x" * 60])
def test_system_actors_are_named_system_something(name):
    with pytest.raises(ValueError):
        SystemActor(name)
