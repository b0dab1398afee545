import marshmallow as ma

from app.common.i18n import LANG_FIELD
from app.common.pagination import PageArgs, PageMeta
from app.common.validation import calendar_date
from app.coordinator.caseload import SORTS
from app.coordinator.models import CHANNELS, OUTCOMES
from app.coordinator.timeline import KINDS
from app.patients.schemas import PatientSchema
from app.plans.schemas import PlanSchema
from app.rules.definitions import SEVERITIES, all_rules
from app.rules.schemas import FlagSchema
from app.sessions.schemas import SessionSchema

Length = ma.validate.Length


class CaseloadFilterArgs(ma.Schema):
    severity = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(SEVERITIES)),
                              metadata={"description": "Patients with an active flag of this severity (repeatable)"})
    rule = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(list(all_rules()))),
                          metadata={"description": "Patients with an active flag of this rule (repeatable)"})
    adherence_below = ma.fields.Float(validate=ma.validate.Range(min=0, max=1),
                                      metadata={"description": "Session rate below this (0-1)"})
    adherence_window = ma.fields.Integer(load_default=30, validate=ma.validate.OneOf([7, 30]))
    no_session_since = ma.fields.Date(validate=calendar_date, metadata={"description": "No session on or after this date"})
    overdue = ma.fields.Boolean(metadata={"description": "A contact follow-up, a DXA scan or a dose is overdue"})
    q = ma.fields.String(validate=Length(max=120), metadata={"description": "Part of the name"})
    sort = ma.fields.String(load_default="risk", validate=ma.validate.OneOf(SORTS),
                            metadata={"description": "risk: the most urgent, then warning, then info flags; "
                                                     "anything overdue (a contact follow-up, a DXA scan or a dose); "
                                                     "then the longest without a session (never first), then the name"})


class CaseloadArgs(CaseloadFilterArgs, PageArgs):
    pass


class RateSchema(ma.Schema):
    rate = ma.fields.Float(allow_none=True)
    expected = ma.fields.Integer()
    completed = ma.fields.Integer()


class FlagCountsSchema(ma.Schema):
    urgent = ma.fields.Integer()
    warning = ma.fields.Integer()
    info = ma.fields.Integer()
    total = ma.fields.Integer()


class CaseloadPatientSchema(ma.Schema):
    id = ma.fields.UUID()
    display_name = ma.fields.String()
    neurological_level = ma.fields.String()
    time_zone = ma.fields.String()
    language = ma.fields.String()


class CaseloadRowSchema(ma.Schema):
    patient = ma.fields.Nested(CaseloadPatientSchema)
    today = ma.fields.Date(metadata={"description": "The patient's local date"})
    plan_status = ma.fields.String(metadata={"enum": ["active", "paused", "none"]})
    adherence_7 = ma.fields.Nested(RateSchema)
    adherence_30 = ma.fields.Nested(RateSchema)
    last_session_at = ma.fields.AwareDateTime(allow_none=True)
    days_with_data_last_30 = ma.fields.Integer()
    current_streak_days = ma.fields.Integer(metadata={"description": "As the adherence endpoint counts it"})
    open_flags = ma.fields.Nested(FlagCountsSchema)
    open_flag_rules = ma.fields.List(ma.fields.String())
    next_follow_up_on = ma.fields.Date(allow_none=True)
    follow_up_overdue = ma.fields.Boolean()
    next_dxa_due = ma.fields.Date(allow_none=True, metadata={"description": "Open DXA follow-up: its appointment or due date"})
    dxa_overdue = ma.fields.Boolean()
    next_dose_due = ma.fields.Date(allow_none=True)
    dose_overdue = ma.fields.Boolean()


class CaseloadPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CaseloadRowSchema))
    meta = ma.fields.Nested(PageMeta)


class ContactInSchema(ma.Schema):
    channel = ma.fields.String(required=True, validate=ma.validate.OneOf(CHANNELS))
    outcome = ma.fields.String(required=True, validate=ma.validate.OneOf(OUTCOMES))
    note = ma.fields.String(validate=Length(max=2000))
    contacted_at = ma.fields.AwareDateTime(validate=calendar_date, metadata={"description": "Default now"})
    follow_up_on = ma.fields.Date(validate=calendar_date, metadata={"description": "Patient-local date; you are reminded that morning"})
    flag_id = ma.fields.UUID(metadata={"description": "The flag this contact answers"})


class ContactSchema(ma.Schema):
    id = ma.fields.UUID()
    patient_id = ma.fields.UUID()
    coordinator_id = ma.fields.UUID(allow_none=True)
    flag_id = ma.fields.UUID(allow_none=True)
    channel = ma.fields.String()
    outcome = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    contacted_at = ma.fields.AwareDateTime()
    follow_up_on = ma.fields.Date(allow_none=True)
    created_at = ma.fields.AwareDateTime()


class TimelineArgs(PageArgs):
    kind = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(KINDS)),
                          metadata={"description": "Only these kinds (repeatable)"})
    order = ma.fields.String(load_default="newest", validate=ma.validate.OneOf(["newest", "oldest"]))
    lang = LANG_FIELD


class TimelinePlanSchema(ma.Schema):
    plan_id = ma.fields.UUID()
    # A version's fields; null on a pause entry.
    version = ma.fields.Integer(allow_none=True, dump_default=None)
    effective_from = ma.fields.Date(allow_none=True, dump_default=None)
    change_note = ma.fields.String(allow_none=True, dump_default=None)
    # A pause's fields; null on a version entry.
    pause_start = ma.fields.Date(allow_none=True, dump_default=None)
    pause_end = ma.fields.Date(allow_none=True, dump_default=None)
    reason = ma.fields.String(allow_none=True, dump_default=None)


class TimelineDxaSchema(ma.Schema):
    id = ma.fields.UUID()
    scan_date = ma.fields.Date()
    site = ma.fields.String()
    side = ma.fields.String()
    bmd = ma.fields.Float()
    t_score = ma.fields.Float(allow_none=True)
    z_score = ma.fields.Float(allow_none=True)


class TimelineDoseSchema(ma.Schema):
    id = ma.fields.UUID()
    treatment_id = ma.fields.UUID()
    medicine = ma.fields.String()
    given_on = ma.fields.Date()


class TimelineEntrySchema(ma.Schema):
    at = ma.fields.AwareDateTime()
    kind = ma.fields.String(metadata={"enum": list(KINDS)})
    id = ma.fields.UUID()
    # The entry of its kind; the others are null.
    session = ma.fields.Nested(SessionSchema, allow_none=True, dump_default=None)
    plan = ma.fields.Nested(TimelinePlanSchema, allow_none=True, dump_default=None)
    flag = ma.fields.Nested(FlagSchema, allow_none=True, dump_default=None)
    contact = ma.fields.Nested(ContactSchema, allow_none=True, dump_default=None)
    dxa_result = ma.fields.Nested(TimelineDxaSchema, allow_none=True, dump_default=None)
    dose = ma.fields.Nested(TimelineDoseSchema, allow_none=True, dump_default=None)


class LangArgs(ma.Schema):
    lang = LANG_FIELD


class OwnDataSchema(ma.Schema):
    exported_at = ma.fields.AwareDateTime()
    patient = ma.fields.Nested(PatientSchema)
    plans = ma.fields.List(ma.fields.Nested(PlanSchema))
    sessions = ma.fields.List(ma.fields.Nested(SessionSchema))


