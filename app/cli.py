"""flask commands that span domains: seed, demo, spec (domains add theirs, e.g. users)."""
import json
import os
import uuid
from datetime import date, timedelta
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import select

from app.common.clock import local_today
from app.common.seeding import seed_loaders
from app.extensions import api, db

SPEC_PATH = Path(__file__).resolve().parent.parent / "api_spec" / "openapi.json"

DEMO_PASSWORD = "StandStrong-demo-2026"
DEMO_ACCOUNTS = [
    ("admin", "admin@demo.standstrong.local", "Demo Admin"),
    ("coordinator", "coordinator@demo.standstrong.local", "Demo Coordinator"),
]
DEMO_PATIENTS = [
    # email, name, level, AIS, zone, language, plan template
    ("patient.li@demo.standstrong.local", "Li Wei", "T4", "A", "Asia/Shanghai", "zh-CN", "combined-programme"),
    ("patient.jones@demo.standstrong.local", "Sam Jones", "T10", "B", "Europe/London", "en", "standing-for-bone"),
]
DEMO_CAREGIVER = ("caregiver.li@demo.standstrong.local", "Li Na", "spouse")


def spec_json() -> str:
    return json.dumps(api.spec.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def register(app):
    """The commands that span domains; each domain adds its own in its register(app)."""

    @app.cli.command("seed")
    def seed():
        """Load seed content (idempotent: run it as often as you like)."""
        for loader in seed_loaders(app):
            click.echo(loader())
        click.echo("seed: done")

    @app.cli.command("demo")
    def demo():
        """Create the demo accounts (idempotent) and print their logins. Not in production."""
        if current_app.config.get("ENV_NAME") == "production":
            raise click.ClickException("flask demo refuses to run in production: its accounts share a "
                                       "published password.")
        for line in create_demo_accounts():
            click.echo(line)

    @app.cli.command("spec")
    @click.option("--check", is_flag=True, help="Exit 1 if the committed spec is stale.")
    def spec(check):
        """Write api_spec/openapi.json from the schemas."""
        current = spec_json()
        if check:
            stale = not SPEC_PATH.exists() or SPEC_PATH.read_text(encoding="utf-8") != current
            if stale:
                raise click.ClickException("api_spec/openapi.json is stale: run `flask spec`.")
            click.echo("spec is current")
            return
        SPEC_PATH.parent.mkdir(exist_ok=True)
        SPEC_PATH.write_text(current, encoding="utf-8")
        click.echo(f"wrote {SPEC_PATH}")


DEMO_HISTORY_DAYS = 27  # so the console has weeks to show; never past SESSION_BACKFILL_DAYS (below)
# Which of the last DEMO_HISTORY_DAYS days each demo patient logged their first item: Li Wei kept
# going for three weeks and then stopped (the lapse rule flags it), Sam Jones kept going.
DEMO_LOGGED = {"patient.li@demo.standstrong.local": lambda days_ago: days_ago > 5 and days_ago % 7 not in (2, 5),
               "patient.jones@demo.standstrong.local": lambda days_ago: days_ago % 7 != 3}


def _demo_history_days() -> int:
    return max(0, min(DEMO_HISTORY_DAYS, current_app.config["SESSION_BACKFILL_DAYS"] - 1))


def _demo_history(new_plans) -> None:
    """Sessions logged by the demo patients over the last weeks, through the session service,
    then one rules sweep, as the scheduler would run it."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from app.common.db import writing
    from app.common.types import utcnow
    from app.patients.models import Patient
    from app.rules import service as rules
    from app.sessions import service as sessions

    now = utcnow()
    with writing():
        for user, plan in new_plans:
            patient = db.session.get(Patient, plan.patient_id)
            item_key = plan.versions[0].items[0].item_key
            logged = DEMO_LOGGED[user.email]
            today = local_today(patient.time_zone)
            for days_ago in range(_demo_history_days(), 0, -1):
                if not logged(days_ago):
                    continue
                day = today - timedelta(days=days_ago)
                started = datetime.combine(day, time(10, 0), ZoneInfo(patient.time_zone))
                session_id = uuid.uuid5(uuid.NAMESPACE_URL, f"standstrong-demo:{user.email}:{day}")
                sessions.put_session(user, "me", session_id, {"item_key": item_key, "started_at": started,
                                                              "duration_minutes": 30})
        rules.sweep(now)
        db.session.commit()


def create_demo_accounts() -> list[str]:
    from app.auth.models import User
    from app.auth.service import create_user
    from app.access.models import CaregiverLink, CareTeamMember
    from app.patients.models import Patient
    from app.plans.service import demo_plan

    def account(email, role, name, patient_id=None):
        user = db.session.scalar(select(User).where(User.email == email))
        return user or create_user(email=email, password=DEMO_PASSWORD, role=role,
                                   display_name=name, patient_id=patient_id, commit=False)

    for role, email, name in DEMO_ACCOUNTS:
        account(email, role, name)
    coordinator = account(DEMO_ACCOUNTS[1][1], "coordinator", DEMO_ACCOUNTS[1][2])
    first_patient, new_plans = None, []
    for email, name, level, ais, zone, lang, template in DEMO_PATIENTS:
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            patient = Patient(display_name=name, date_of_birth=date(1985, 5, 1), sex="unknown",
                              injury_date=date(2025, 9, 1), neurological_level=level, ais_grade=ais,
                              time_zone=zone, language=lang, contact_email=email, known_fractures=[],
                              created_by_id=coordinator.id)
            db.session.add(patient)
            db.session.flush()
            db.session.add(CareTeamMember(patient_id=patient.id, coordinator_id=coordinator.id))
            user = account(email, "patient", name, patient.id)
            start = local_today(zone) - timedelta(days=_demo_history_days())
            new_plans.append((user, demo_plan(patient, template, coordinator.id, start)))
        first_patient = first_patient or user.patient_id
    cg_email, cg_name, relation = DEMO_CAREGIVER
    caregiver = account(cg_email, "caregiver", cg_name)
    if not db.session.scalar(select(CaregiverLink.id).where(CaregiverLink.caregiver_id == caregiver.id)):
        db.session.add(CaregiverLink(patient_id=first_patient, caregiver_id=caregiver.id,
                                     relationship_note=relation))
    db.session.commit()
    if new_plans:
        _demo_history(new_plans)
    port = os.environ.get("PORT", "5000")
    lines = [f"Demo accounts (password for all: {DEMO_PASSWORD}); API on http://127.0.0.1:{port}, docs at /docs, "
             f"coordinators' console at http://127.0.0.1:{port}/console/"]
    lines += [f"  {role:<12} {email}" for role, email, _ in DEMO_ACCOUNTS]
    lines += [f"  {'patient':<12} {email}  ({name}, {level} AIS {ais}, {zone}, plan: {template})"
              for email, name, level, ais, zone, _, template in DEMO_PATIENTS]
    lines.append(f"  {'caregiver':<12} {cg_email}  (cares for {DEMO_PATIENTS[0][1]})")
    return lines
