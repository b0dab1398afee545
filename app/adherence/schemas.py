import marshmallow as ma

from app.common.i18n import LANG_FIELD
from app.common.validation import calendar_date
from app.exercises.schemas import ExerciseSchema


class AdherenceArgs(ma.Schema):
    window = ma.fields.Integer(validate=ma.validate.OneOf([7, 30, 90]),
                               metadata={"description": "Days ending today (patient-local); default 30"})
    date_from = ma.fields.Date(data_key="from", validate=calendar_date)
    date_to = ma.fields.Date(data_key="to", validate=calendar_date)


class ItemAdherenceSchema(ma.Schema):
    item_key = ma.fields.UUID()
    plan_id = ma.fields.UUID()
    exercise_id = ma.fields.UUID()
    expected_sessions = ma.fields.Integer()
    completed_sessions = ma.fields.Integer()
    session_rate = ma.fields.Float(allow_none=True)
    prescribed_minutes = ma.fields.Integer()
    logged_minutes = ma.fields.Integer()


class AdherenceSchema(ma.Schema):
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
    week = ma.fields.Date(validate=calendar_date, metadata={"description": "Any date in the week; default this week"})
    lang = LANG_FIELD


class WeeklySummarySchema(ma.Schema):
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
    date = ma.fields.Date(validate=calendar_date, metadata={"description": "Patient-local date; default today"})
    lang = LANG_FIELD


class AgendaWeekArgs(ma.Schema):
    start = ma.fields.Date(validate=calendar_date, metadata={"description": "Any date in the week; default this week"})
    lang = LANG_FIELD


class AgendaExerciseSchema(ExerciseSchema):
    """The library's exercise, only what the agenda needs."""

    class Meta:
        fields = ("id", "slug", "kind", "language", "name", "measures")


class AgendaItemSchema(ma.Schema):
    plan_id = ma.fields.UUID()
    item_id = ma.fields.UUID()
    item_key = ma.fields.UUID(metadata={"description": "Send it with the session"})
    exercise = ma.fields.Nested(AgendaExerciseSchema)
    minutes = ma.fields.Integer()
    time_of_day = ma.fields.String(allow_none=True)
    schedule = ma.fields.String(metadata={"description": "days_of_week (due today) or weekly (N a week)"})
    done = ma.fields.Boolean()
    done_sessions = ma.fields.Integer()
    done_minutes = ma.fields.Integer()
    sessions_per_week = ma.fields.Integer()
    planned_this_week = ma.fields.Integer(metadata={
        "description": "What the week plans at this dose: sessions_per_week, prorated when the item is "
                       "not in force at this dose all week (start, end, pause, change)"})
    done_this_week = ma.fields.Integer(metadata={
        "description": "Sessions counted for it from Monday up to and including the date"})
    remaining_this_week = ma.fields.Integer(metadata={"description": "planned_this_week - done_this_week"})


class AgendaSchema(ma.Schema):
    date = ma.fields.Date()
    today = ma.fields.Date()
    time_zone = ma.fields.String()
    language = ma.fields.String()
    paused = ma.fields.Boolean()
    items = ma.fields.List(ma.fields.Nested(AgendaItemSchema))


class AgendaDaySchema(ma.Schema):
    date = ma.fields.Date()
    paused = ma.fields.Boolean()
    items = ma.fields.List(ma.fields.Nested(AgendaItemSchema))


class AgendaWeekSchema(ma.Schema):
    week_start = ma.fields.Date()
    today = ma.fields.Date()
    time_zone = ma.fields.String()
    language = ma.fields.String()
    days = ma.fields.List(ma.fields.Nested(AgendaDaySchema))
