"""The adherence schemas' plain-dict dump (PlainDumpSchema) gives what marshmallow's own gives,
and the agenda's exercise dump is kept per library exercise and language, not across them."""
import uuid
from datetime import date, datetime, timezone

import marshmallow as ma
import pytest

from app.adherence import schemas
from app.exercises.service import LibraryExercise, ServedExercise

KEY = uuid.uuid4()


def _reference(schema_cls):
    """The same fields on a plain marshmallow Schema (nested schemas dumped as they are)."""
    return ma.Schema.from_dict(dict(schema_cls._declared_fields))()


@pytest.mark.parametrize("row", [
    {"plan_id": KEY, "item_id": str(KEY).upper(), "item_key": KEY, "minutes": 30, "time_of_day": None,
     "schedule": "weekly", "done": False, "done_sessions": 0, "done_minutes": 0, "sessions_per_week": 3,
     "planned_this_week": 3, "done_this_week": 1, "remaining_this_week": 2},
    # values their field converts: a bool or float for an Integer, an int for a Float, a missing key
    {"plan_id": str(KEY), "minutes": True, "done_minutes": 2.7, "done": 1, "time_of_day": 930},
    {},
])
def test_agenda_item_dump_is_marshmallows(row):
    assert schemas.AgendaItemSchema().dump(row) == _reference(schemas.AgendaItemSchema).dump(row)


@pytest.mark.parametrize("metrics", [
    {"date_from": date(2026, 3, 2), "date_to": date(2026, 3, 31), "expected_sessions": 9, "completed_sessions": 6,
     "session_rate": 0.6667, "adherent": False, "adherent_threshold": 0.8, "prescribed_minutes": 540,
     "logged_minutes": 360, "sessions_logged": 7, "current_streak_days": 3,
     "last_session_at": datetime(2026, 3, 30, 9, tzinfo=timezone.utc), "days_with_data_last_30": 6,
     "remote_monitoring_days_threshold": 16, "items": []},
    {"session_rate": None, "adherent": None, "adherent_threshold": 1, "last_session_at": None, "items": []},
])
def test_adherence_dump_is_marshmallows(metrics):
    item = {"item_key": KEY, "plan_id": KEY, "exercise_id": KEY, "expected_sessions": 3, "completed_sessions": 1,
            "session_rate": 1, "prescribed_minutes": 90, "logged_minutes": 30}
    metrics = {**metrics, "items": [item]}
    reference = _reference(schemas.AdherenceSchema).dump({**metrics, "items": []})
    reference["items"] = [_reference(schemas.ItemAdherenceSchema).dump(item)]
    assert schemas.AdherenceSchema().dump(metrics) == reference


@pytest.mark.parametrize("day", [
    {"date": date(2026, 3, 4), "today": date(2026, 3, 5), "time_zone": "Europe/London", "language": "en",
     "paused": False},
    # values their field converts: a datetime for a Date; items as None
    {"date": datetime(2026, 3, 4, 9, tzinfo=timezone.utc), "items": None},
    {"date": None, "paused": None},
])
def test_agenda_dump_with_its_items_is_marshmallows(day):
    items = [{"plan_id": KEY, "item_id": KEY, "item_key": KEY, "minutes": 30, "schedule": "days_of_week"},
             {"plan_id": str(KEY), "item_id": None, "sessions_per_week": 2, "done": True}]
    agenda = {"items": items, **day}
    reference = _reference(schemas.AgendaSchema).dump({**agenda, "items": []})
    reference["items"] = None if agenda["items"] is None else [
        _reference(schemas.AgendaItemSchema).dump(item) for item in items]
    assert schemas.AgendaSchema().dump(agenda) == reference
    week = {"week_start": agenda["date"], "days": [{**agenda, "items": items}]}
    dumped = schemas.AgendaWeekSchema().dump(week)
    assert dumped["days"][0]["items"] == [_reference(schemas.AgendaItemSchema).dump(item) for item in items]
    assert dumped["week_start"] == reference["date"]


def _exercise(slug: str, name: str) -> LibraryExercise:
    texts = {"en": {"name": name}, "zh-CN": {"name": name + " (zh)"}}
    return LibraryExercise(uuid.uuid4(), slug, "standing", [], [{"key": "k", "label": {"en": "K"}}], {}, texts)


def test_the_exercise_dump_is_kept_per_exercise_and_language():
    schema = schemas.AgendaItemSchema()
    one, other = _exercise("one", "One"), _exercise("other", "Other")
    dumped = [schema.dump({"exercise": ServedExercise(e, lang)})["exercise"]
              for e, lang in [(one, "en"), (one, "zh-CN"), (other, "en"), (one, "en")]]
    assert [d["name"] for d in dumped] == ["One", "One (zh)", "Other", "One"]
    assert dumped[0] == schemas.AgendaExerciseSchema().dump(ServedExercise(one, "en"))
    # A new library (a seed run) gives new objects: their dump is worked out again.
    renamed = LibraryExercise(one.id, "one", "standing", [], one.measures, {}, {"en": {"name": "Renamed"}})
    assert schema.dump({"exercise": ServedExercise(renamed, "en")})["exercise"]["name"] == "Renamed"
