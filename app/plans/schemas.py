import marshmallow as ma

from app.common.i18n import LANG_FIELD
from app.common.pagination import PageArgs
from app.common.validation import calendar_date
from app.errors import ProblemSchema
from app.plans.models import DAY_NAMES

Length = ma.validate.Length
WARNING_CODES = ("autonomic_dysreflexia", "recent_fracture", "recent_clot")


class PlanItemInSchema(ma.Schema):
    item_key = ma.fields.UUID(metadata={"description": "Keep a previous version's item_key to continue that item"})
    exercise = ma.fields.String(required=True, validate=Length(min=1, max=80),
                                metadata={"description": "Exercise id or slug"})
    minutes = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=300))
    sessions_per_week = ma.fields.Integer(validate=ma.validate.Range(min=1, max=14))
    days_of_week = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(DAY_NAMES)),
                                  validate=Length(min=1, max=7))
    time_of_day = ma.fields.String(validate=ma.validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$",
                                                               error="Use HH:MM, 24-hour, local time."))
    start_date = ma.fields.Date(validate=calendar_date)
    end_date = ma.fields.Date(validate=calendar_date)
    notes = ma.fields.String(validate=Length(max=500))

    @ma.validates_schema
    def _schedule(self, data, **kwargs):
        if ("sessions_per_week" in data) == ("days_of_week" in data):
            raise ma.ValidationError("Give either sessions_per_week or days_of_week.", "sessions_per_week")
        days = data.get("days_of_week") or []
        if len(set(days)) != len(days):
            raise ma.ValidationError("Each day once.", "days_of_week")
        if data.get("start_date") and data.get("end_date") and data["end_date"] < data["start_date"]:
            raise ma.ValidationError("Ends before it starts.", "end_date")


class SafetyFields(ma.Schema):
    acknowledge_warnings = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(WARNING_CODES)),
                                          load_default=list, validate=Length(max=5))
    override_reason = ma.fields.String(validate=Length(min=5, max=500),
                                       metadata={"description": "Needed to assign a contraindicated exercise"})


class PlanCreateSchema(SafetyFields):
    name = ma.fields.String(validate=Length(min=1, max=120))
    template = ma.fields.String(validate=Length(min=1, max=80), metadata={"description": "Template slug"})
    start_date = ma.fields.Date(validate=calendar_date, metadata={"description": "Default: today in the patient's time zone"})
    items = ma.fields.List(ma.fields.Nested(PlanItemInSchema), validate=Length(min=1, max=20))
    change_note = ma.fields.String(validate=Length(max=500))

    @ma.validates_schema
    def _source(self, data, **kwargs):
        if ("template" in data) == ("items" in data):
            raise ma.ValidationError("Give either a template or items.", "items")


class VersionCreateSchema(SafetyFields):
    effective_from = ma.fields.Date(validate=calendar_date, metadata={"description": "Default: today in the patient's time zone"})
    items = ma.fields.List(ma.fields.Nested(PlanItemInSchema), required=True, validate=Length(min=1, max=20))
    change_note = ma.fields.String(validate=Length(max=500))


class PauseSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=Length(min=3, max=300),
                              metadata={"example": "hospital stay"})
    start_date = ma.fields.Date(validate=calendar_date, metadata={"description": "First paused day; default today"})


class ResumeSchema(ma.Schema):
    on = ma.fields.Date(validate=calendar_date, metadata={"description": "First day expected again; default today"})


class EndSchema(ma.Schema):
    on = ma.fields.Date(validate=calendar_date, metadata={"description": "First day without the plan; default today"})
    reason = ma.fields.String(required=True, validate=Length(min=3, max=300))


class PlanItemSchema(ma.Schema):
    id = ma.fields.UUID()
    item_key = ma.fields.UUID()
    exercise_id = ma.fields.UUID()
    exercise_slug = ma.fields.String(attribute="exercise.slug")
    minutes = ma.fields.Integer()
    sessions_per_week = ma.fields.Integer(allow_none=True)
    days_of_week = ma.fields.List(ma.fields.String(), allow_none=True)
    time_of_day = ma.fields.String(allow_none=True)
    start_date = ma.fields.Date()
    end_date = ma.fields.Date(allow_none=True)
    notes = ma.fields.String(allow_none=True)


class PlanVersionSchema(ma.Schema):
    number = ma.fields.Integer()
    effective_from = ma.fields.Date()
    change_note = ma.fields.String(allow_none=True)
    warnings_acknowledged = ma.fields.List(ma.fields.String())
    override_reason = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    created_by_id = ma.fields.UUID(allow_none=True)
    items = ma.fields.List(ma.fields.Nested(PlanItemSchema))


class PauseOutSchema(ma.Schema):
    id = ma.fields.UUID()
    start_date = ma.fields.Date()
    end_date = ma.fields.Date(allow_none=True)
    reason = ma.fields.String()


class PlanSchema(ma.Schema):
    id = ma.fields.UUID()
    patient_id = ma.fields.UUID()
    name = ma.fields.String()
    template_slug = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={"description": "scheduled, active, paused or ended"})
    start_date = ma.fields.Date()
    ended_on = ma.fields.Date(allow_none=True, metadata={"description": "Last day of the plan"})
    end_reason = ma.fields.String(allow_none=True)
    version_in_force = ma.fields.Nested(PlanVersionSchema, allow_none=True,
                                        metadata={"description": "On ?on= (default today)"})
    versions = ma.fields.List(ma.fields.Nested(PlanVersionSchema))
    pauses = ma.fields.List(ma.fields.Nested(PauseOutSchema))


class PlanListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf(["scheduled", "active", "paused", "ended"]))


class PlanDetailArgs(ma.Schema):
    on = ma.fields.Date(validate=calendar_date, metadata={"description": "Answer with the version in force on this date"})


class TemplateArgs(PageArgs):
    lang = LANG_FIELD


class TemplateItemSchema(ma.Schema):
    exercise = ma.fields.String()
    minutes = ma.fields.Integer()
    sessions_per_week = ma.fields.Integer(allow_none=True, dump_default=None,
                                          metadata={"description": "N a week; null when days_of_week is set"})
    days_of_week = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(DAY_NAMES)), allow_none=True, dump_default=None,
                                  metadata={"description": "On these days; null when sessions_per_week is set"})
    time_of_day = ma.fields.String(allow_none=True, dump_default=None)


class PlanTemplateSchema(ma.Schema):
    id = ma.fields.UUID()
    slug = ma.fields.String()
    language = ma.fields.String()
    name = ma.fields.String()
    description = ma.fields.String()
    duration_weeks = ma.fields.Integer(allow_none=True)
    source = ma.fields.String()
    items = ma.fields.List(ma.fields.Nested(TemplateItemSchema))


class SafetyWarningSchema(ma.Schema):
    code = ma.fields.String(validate=ma.validate.OneOf(WARNING_CODES))
    requires = ma.fields.String(validate=ma.validate.OneOf(["acknowledge", "override"]), metadata={
        "description": "acknowledge: list the code in acknowledge_warnings; override: that and override_reason"})
    exercises = ma.fields.List(ma.fields.String(), metadata={"description": "The plan's exercises it is about"})
    message = ma.fields.String(metadata={"description": "In the reader's language"})


class PlanConflictSchema(ProblemSchema):
    warnings = ma.fields.List(ma.fields.Nested(SafetyWarningSchema), metadata={
        "optional": True, "description": "The safety warnings to acknowledge or override (plan-safety-warnings)"})
