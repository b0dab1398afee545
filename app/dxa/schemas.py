import marshmallow as ma

from app.common.i18n import LANG_FIELD
from app.common.pagination import PageArgs
from app.common.validation import calendar_date
from app.dxa.models import FOLLOWUP_KINDS, FOLLOWUP_STATUSES, SIDES, SITES

Length = ma.validate.Length
Range = ma.validate.Range
OneOf = ma.validate.OneOf
HHMM = ma.validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Use HH:MM, 24-hour, patient-local time.")


class DxaResultInSchema(ma.Schema):
    scan_date = ma.fields.Date(required=True, validate=calendar_date, metadata={"description": "Patient-local date of the scan"})
    site = ma.fields.String(required=True, validate=OneOf(SITES))
    side = ma.fields.String(validate=OneOf(SIDES), metadata={"description": "left, right, or none (spine); default none"})
    bmd = ma.fields.Float(required=True, allow_nan=False, validate=Range(min=0.05, max=3.0),
                          metadata={"description": "Bone mineral density, g/cm2", "example": 0.712})
    t_score = ma.fields.Float(allow_none=True, allow_nan=False, validate=Range(min=-10, max=10))
    z_score = ma.fields.Float(allow_none=True, allow_nan=False, validate=Range(min=-10, max=10))
    centre = ma.fields.String(allow_none=True, validate=Length(min=1, max=120))
    machine = ma.fields.String(allow_none=True, validate=Length(min=1, max=120),
                               metadata={"description": "Scanner (make, model or serial): scans on different "
                                                        "machines are not compared against the LSC"})


class DxaLscSchema(ma.Schema):
    value = ma.fields.Float(metadata={"description": "Least significant change, in unit"})
    unit = ma.fields.String(metadata={"description": "g/cm2 (judged on the change in g/cm2) or % (on the % change)"})
    source = ma.fields.String()


class DxaChangeSchema(ma.Schema):
    previous_result_id = ma.fields.UUID()
    previous_scan_date = ma.fields.Date()
    delta_g_cm2 = ma.fields.Float()
    percent = ma.fields.Float()
    lsc = ma.fields.Nested(DxaLscSchema)
    significant = ma.fields.Boolean(metadata={"description": "The change reaches the least significant change"})
    judgement = ma.fields.String(metadata={"description": "no_real_change, real_loss, real_gain or not_comparable"})


class DxaResultSchema(ma.Schema):
    id = ma.fields.UUID()
    patient_id = ma.fields.UUID()
    scan_date = ma.fields.Date()
    site = ma.fields.String()
    side = ma.fields.String()
    bmd = ma.fields.Float()
    t_score = ma.fields.Float(allow_none=True)
    z_score = ma.fields.Float(allow_none=True)
    centre = ma.fields.String(allow_none=True)
    machine = ma.fields.String(allow_none=True)
    entered_by_id = ma.fields.UUID(allow_none=True)
    created_at = ma.fields.DateTime()
    change = ma.fields.Nested(DxaChangeSchema, allow_none=True,
                              metadata={"description": "From the previous scan at the same site and side; null for the first"})
    high_fracture_risk = ma.fields.Boolean(metadata={"description": "Knee site (distal femur, proximal tibia) below the threshold"})
    language = ma.fields.String()
    explanation = ma.fields.String(metadata={"description": "Plain-language explanation for the patient"})


class DxaResultListArgs(PageArgs):
    site = ma.fields.String(validate=OneOf(SITES))
    side = ma.fields.String(validate=OneOf(SIDES))
    date_from = ma.fields.Date(data_key="from", validate=calendar_date)
    date_to = ma.fields.Date(data_key="to", validate=calendar_date)
    high_fracture_risk = ma.fields.Boolean()
    lang = LANG_FIELD


class DxaProtocolInSchema(ma.Schema):
    medically_stable_on = ma.fields.Date(allow_none=True, validate=calendar_date, metadata={"description": "Baseline scan is due from this date"})
    treatment_started_on = ma.fields.Date(allow_none=True, validate=calendar_date, metadata={"description": "The repeat scan is due the protocol's months of treatment after"})
    interval_months = ma.fields.Integer(strict=True, validate=Range(min=1, max=120),
                                        metadata={"description": "Then every this many months, within the protocol's 1 to 2 years (default from the protocol)"})


class DxaAppointmentSchema(ma.Schema):
    date = ma.fields.Date(required=True, validate=calendar_date, metadata={"description": "Patient-local"})
    time = ma.fields.String(required=True, validate=HHMM, metadata={"example": "09:30"})
    place = ma.fields.String(required=True, validate=Length(min=1, max=200))
    starts_at = ma.fields.DateTime(dump_only=True, metadata={"description": "The same moment in UTC"})


class DxaFollowUpSchema(ma.Schema):
    id = ma.fields.UUID()
    patient_id = ma.fields.UUID()
    kind = ma.fields.String(metadata={"description": "baseline, repeat or interval"})
    due_date = ma.fields.Date()
    status = ma.fields.String(metadata={"description": "due, booked, done, missed or cancelled"})
    appointment = ma.fields.Nested(DxaAppointmentSchema, allow_none=True)
    completed_on = ma.fields.Date(allow_none=True)
    overdue = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class DxaProtocolSchema(ma.Schema):
    patient_id = ma.fields.UUID()
    medically_stable_on = ma.fields.Date(allow_none=True)
    treatment_started_on = ma.fields.Date(allow_none=True)
    interval_months = ma.fields.Integer()
    sites = ma.fields.List(ma.fields.String())
    steps = ma.fields.Dict(metadata={"description": "The protocol's steps, as seeded, with when each is due"})
    source = ma.fields.String()
    next_followup = ma.fields.Nested(DxaFollowUpSchema, allow_none=True)


class DxaFollowUpCreateSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=OneOf(FOLLOWUP_KINDS))
    due_date = ma.fields.Date(required=True, validate=calendar_date)
    appointment = ma.fields.Nested(DxaAppointmentSchema)


class DxaFollowUpUpdateSchema(ma.Schema):
    due_date = ma.fields.Date(validate=calendar_date)
    appointment = ma.fields.Nested(DxaAppointmentSchema, allow_none=True,
                                   metadata={"description": "Books (or rebooks) it; null unbooks"})
    status = ma.fields.String(validate=OneOf(FOLLOWUP_STATUSES))
    completed_on = ma.fields.Date(validate=calendar_date, metadata={"description": "With status done: the scan date (default the appointment)"})

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Change at least one of due_date, appointment, status.", "status")


class DxaFollowUpListArgs(PageArgs):
    status = ma.fields.List(ma.fields.String(validate=OneOf(FOLLOWUP_STATUSES)),
                            metadata={"description": "One or more (repeat the parameter)"})
    date_from = ma.fields.Date(data_key="from", validate=calendar_date, metadata={"description": "Due on or after"})
    date_to = ma.fields.Date(data_key="to", validate=calendar_date, metadata={"description": "Due on or before"})
