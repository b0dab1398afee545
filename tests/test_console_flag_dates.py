"""The flag partial's dates (raised, last found, acknowledged, resolved) are the patient's local
ones, on the flag list as on the patient page, whose other dates are local too: a flag raised at
20:00 UTC in Shanghai was raised the next day there, not on the UTC date."""
import re
import uuid
from datetime import date, datetime, time, timedelta, timezone

from app.extensions import db
from app.rules.models import Flag, active_key
from tests.console_client import signed_in
from tests.test_console_caseload import add_patient


def _long(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def _article(html: str, flag_id: str) -> str:
    found = re.search(rf'<article class="flag[^"]*" id="flag-{flag_id}".*?</article>', html, re.S)
    assert found, flag_id
    return found.group(0)


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.utc)


def _flag(app, patient_id, rule_id, **moments) -> str:
    with app.app_context():
        flag = Flag(patient_id=uuid.UUID(patient_id), rule_id=rule_id, severity="warning",
                    active_key=None if moments.get("status") == "resolved" else active_key(patient_id, rule_id),
                    evidence={"days": 4}, **moments)
        db.session.add(flag)
        db.session.commit()
        return str(flag.id)


def test_flag_dates_are_the_patients_local_dates(app, world):
    base = datetime.now(timezone.utc).date() - timedelta(days=20)
    # Patient A lives in Asia/Shanghai (UTC+8): 20:00 UTC is 04:00 the next day there.
    shanghai = _flag(app, world.a_id, "few_data_days", status="acknowledged", opened_at=_at(base, 20),
                     last_seen_at=_at(base + timedelta(days=3), 20),
                     acknowledged_at=_at(base + timedelta(days=6), 20), acknowledged_by_id=uuid.UUID(world.coord_a.id))
    # A patient in Los Angeles (UTC-8 or -7): 03:00 UTC is the evening before there.
    la_id = add_patient(app.test_client(), world, "Pacific Pat", time_zone="America/Los_Angeles")
    pacific = _flag(app, la_id, "never_started", status="resolved", opened_at=_at(base, 3), last_seen_at=_at(base, 3),
                    resolved_at=_at(base + timedelta(days=6), 3), resolved_by_id=uuid.UUID(world.coord_a.id),
                    outcome="contacted_patient", resolution_note="Called.")
    console = signed_in(app, world.coord_a)
    listed = console.get("/console/flags?status=all").get_data(as_text=True)
    page = console.get(f"/console/patients/{world.a_id}").get_data(as_text=True)
    for html in (listed, page):
        article = _article(html, shanghai)
        assert f"raised on {_long(base + timedelta(days=1))}" in article
        assert f"last found on {_long(base + timedelta(days=4))}" in article
        assert f"on {_long(base + timedelta(days=7))}" in article  # acknowledged
        for utc_day in (base, base + timedelta(days=3), base + timedelta(days=6)):
            assert _long(utc_day) not in article, utc_day
    article = _article(listed, pacific)
    assert f"raised on {_long(base - timedelta(days=1))}" in article
    assert f"on {_long(base + timedelta(days=5))}: " in article  # resolved
    assert _long(base) not in article and _long(base + timedelta(days=6)) not in article
