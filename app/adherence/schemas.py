import uuid
from datetime import date

import marshmallow as ma

from app.common.i18n import LANG_FIELD
from app.common.validation import calendar_date
from app.exercises.schemas import ExerciseSchema
from app.exercises.service import LibraryExercise, ServedExercise

# Field classes whose dump of a value of these exact types is the value itself (and None of None).
_AS_GIVEN = {ma.fields.Integer: (int,), ma.fields.Float: (float,), ma.fields.String: (str,),
             ma.fields.Boolean: (bool,)}
# How PlainDumpSchema dumps a field's value when it is there: as given (of the types above), a
# uuid.UUID as its text, a date (ISO format) as its isoformat(), a Nested's or a List's through
# the field's own _serialize (what serialize() calls once it has the value), a List of a Nested
# PlainDumpSchema item by item through that schema.
_GIVEN, _UUID, _DATE, _NESTED, _LIST = range(5)


def _dump_kind(field):
    kind = type(field)
    if kind in _AS_GIVEN and not getattr(field, "as_string", False):
        return _GIVEN, _AS_GIVEN[kind]
    if kind is ma.fields.UUID:
        return _UUID, (uuid.UUID,)
    if kind is ma.fields.Date and field.format in (None, "iso"):
        return _DATE, (date,)
    if isinstance(field, ma.fields.Nested):
        return _NESTED, None
    if kind is ma.fields.List:
        return _LIST, None
    return None, None


class PlainDumpSchema(ma.Schema):
    """Dumps a dict as marshmallow does, with fewer calls: a value its field would give back
    unchanged (an int for an Integer, a str for a String, a float for a Float, a bool for a
    Boolean, None for any of them) is copied, a uuid.UUID for a UUID and a date for an ISO Date
    are turned to text directly, a Nested's or a List's value goes to the field's own
    _serialize (a List of a Nested PlainDumpSchema without dump hooks: each dict straight to that
    schema); every other value, and a missing key, goes through the field as usual. The field
    list is worked out once per schema instance. The agenda and adherence dump many small dicts
    of such values on the patients' daily reads."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._dump_plan = [
            (field.attribute or name, field.data_key if field.data_key is not None else name, name, field,
             *_dump_kind(field))
            for name, field in self.dump_fields.items()]

    def _plain(self) -> bool:
        """Whether dump() is _serialize() (no hooks) and one object a time."""
        return not self.many and not self._hooks[ma.decorators.PRE_DUMP] and not self._hooks[ma.decorators.POST_DUMP]

    def _serialize(self, obj, *, many: bool = False):
        if many and obj is not None:
            return [self._serialize(d) for d in obj]
        if type(obj) is not dict:
            return super()._serialize(obj, many=many)
        ret = {}
        for attr, key, name, field, kind, types in self._dump_plan:
            value = obj.get(attr, ma.missing)
            if value is None and kind is not None:
                pass
            elif value is ma.missing or kind is None:
                value = field.serialize(name, obj, accessor=self.get_attribute)
                if value is ma.missing:
                    continue
            elif kind is _NESTED:
                value = field._serialize(value, name, obj)
            elif kind is _LIST:
                inner = field.inner
                schema = inner.schema if type(inner) is ma.fields.Nested else None
                if isinstance(schema, PlainDumpSchema) and schema._plain():
                    value = [schema._serialize(each) for each in value]
                else:
                    value = field._serialize(value, name, obj)
            elif type(value) not in types:
                value = field.serialize(name, obj, accessor=self.get_attribute)
            elif kind is _UUID:
                value = str(value)
            elif kind is _DATE:
                value = value.isoformat()
            ret[key] = value
        return ret


class LibraryExerciseNested(ma.fields.Nested):
    """Nested, whose dump of a library exercise (plain data kept across requests, rebuilt as new
    objects when the seed changes: app/exercises/service.py) served in a language is worked out
    once and shared by the responses: read-only."""

    MEMO_SIZE = 1024

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._memo: dict = {}

    def _serialize(self, nested_obj, attr, obj, **kwargs):
        if type(nested_obj) is not ServedExercise or type(nested_obj.exercise) is not LibraryExercise:
            return super()._serialize(nested_obj, attr, obj, **kwargs)
        exercise = nested_obj.exercise
        key = (id(exercise), nested_obj.language)
        found = self._memo.get(key)
        if found is None or found[0] is not exercise:  # (the entry keeps its exercise: no id reused)
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            found = self._memo[key] = (exercise, super()._serialize(nested_obj, attr, obj, **kwargs))
        return found[1]


class AdherenceArgs(ma.Schema):
    parse_once_per_query = True  # plain fields: the same query string, the same arguments (app/extensions.py)
    window = ma.fields.Integer(validate=ma.validate.OneOf([7, 30, 90]),
                               metadata={"description": "Days ending today (patient-local); default 30"})
    date_from = ma.fields.Date(data_key="from", validate=calendar_date)
    date_to = ma.fields.Date(data_key="to", validate=calendar_date)


class ItemAdherenceSchema(PlainDumpSchema):
    item_key = ma.fields.UUID()
    plan_id = ma.fields.UUID()
    exercise_id = ma.fields.UUID()
    expected_sessions = ma.fields.Integer()
    completed_sessions = ma.fields.Integer()
    session_rate = ma.fields.Float(allow_none=True)
    prescribed_minutes = ma.fields.Integer()
    logged_minutes = ma.fields.Integer()


class AdherenceSchema(PlainDumpSchema):
    date_from = ma.fields.Date(data_key="from")
    date_to = ma.fields.Date(data_key="to")
    expected_sessions = ma.fields.Integer()
    completed_sessions = ma.fields.Integer()
    session_rate = ma.fields.Float(allow_none=True, metadata={"description": "None when nothing was expected"})
    adherent = ma.fields.Boolean(allow_none=True)
    adherent_threshold = ma.fields.Float()
    prescribed_minutes = ma.fields.Integer()
    logged_minutes = ma.fields.Integer()
    sessions_logged = ma.fields.Integer()
    current_streak_days = ma.fields.Integer()
    last_session_at = ma.fields.DateTime(allow_none=True)
    days_with_data_last_30 = ma.fields.Integer()
    remote_monitoring_days_threshold = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(ItemAdherenceSchema))


class WeeklyArgs(ma.Schema):
    parse_once_per_query = True  # plain fields: the same query string, the same arguments (app/extensions.py)
    week = ma.fields.Date(validate=calendar_date, metadata={"description": "Any date in the week; default this week"})
    lang = LANG_FIELD


class WeeklySummarySchema(PlainDumpSchema):
    week_start = ma.fields.Date()
    week_end = ma.fields.Date()
    complete = ma.fields.Boolean()
    language = ma.fields.String()
    planned_sessions = ma.fields.Integer(metadata={
        "description": "Due by the end of the week, or by today in the current week (what must be done "
                       "by now for the week's plan to stay reachable)"})
    week_planned_sessions = ma.fields.Integer(metadata={
        "description": "What the whole week plans, as the plan now stands"})
    completed_sessions = ma.fields.Integer()
    session_rate = ma.fields.Float(allow_none=True)
    prescribed_minutes = ma.fields.Integer()
    logged_minutes = ma.fields.Integer()
    current_streak_days = ma.fields.Integer()
    message = ma.fields.String()


class AgendaArgs(ma.Schema):
    parse_once_per_query = True  # plain fields: the same query string, the same arguments (app/extensions.py)
    date = ma.fields.Date(validate=calendar_date, metadata={"description": "Patient-local date; default today"})
    lang = LANG_FIELD


class AgendaWeekArgs(ma.Schema):
    parse_once_per_query = True  # plain fields: the same query string, the same arguments (app/extensions.py)
    start = ma.fields.Date(validate=calendar_date, metadata={"description": "Any date in the week; default this week"})
    lang = LANG_FIELD


class AgendaExerciseSchema(ExerciseSchema):
    """The library's exercise, only what the agenda needs."""

    class Meta:
        fields = ("id", "slug", "kind", "language", "name", "measures")


class AgendaItemSchema(PlainDumpSchema):
    plan_id = ma.fields.UUID()
    item_id = ma.fields.UUID()
    item_key = ma.fields.UUID(metadata={"description": "Send it with the session"})
    exercise = LibraryExerciseNested(AgendaExerciseSchema)
    minutes = ma.fields.Integer()
    time_of_day = ma.fields.String(allow_none=True)
    schedule = ma.fields.String(metadata={"description": "days_of_week (due today) or weekly (N a week)"})
    done = ma.fields.Boolean()
    done_sessions = ma.fields.Integer()
    done_minutes = ma.fields.Integer()
    # The weekly fields: for every item, null where the schedule is days_of_week.
    sessions_per_week = ma.fields.Integer(allow_none=True, dump_default=None)
    planned_this_week = ma.fields.Integer(allow_none=True, dump_default=None, metadata={
        "description": "What the week plans at this dose: sessions_per_week, prorated when the item is "
                       "not in force at this dose all week (start, end, pause, change)"})
    done_this_week = ma.fields.Integer(allow_none=True, dump_default=None, metadata={
        "description": "Sessions counted for it from Monday up to and including the date"})
    remaining_this_week = ma.fields.Integer(allow_none=True, dump_default=None,
                                            metadata={"description": "planned_this_week - done_this_week"})


class AgendaSchema(PlainDumpSchema):
    date = ma.fields.Date()
    today = ma.fields.Date()
    time_zone = ma.fields.String()
    language = ma.fields.String()
    paused = ma.fields.Boolean()
    items = ma.fields.List(ma.fields.Nested(AgendaItemSchema))


class AgendaDaySchema(PlainDumpSchema):
    date = ma.fields.Date()
    paused = ma.fields.Boolean()
    items = ma.fields.List(ma.fields.Nested(AgendaItemSchema))


class AgendaWeekSchema(PlainDumpSchema):
    week_start = ma.fields.Date()
    today = ma.fields.Date()
    time_zone = ma.fields.String()
    language = ma.fields.String()
    days = ma.fields.List(ma.fields.Nested(AgendaDaySchema))
