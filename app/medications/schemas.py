import marshmallow as ma

from app.common.i18n import LANG_FIELD
from app.common.pagination import PageArgs
from app.common.validation import calendar_date
from app.medications.catalogue import medicines

OneOf = ma.validate.OneOf


class TreatmentInSchema(ma.Schema):
    medicine = ma.fields.String(required=True, validate=OneOf(list(medicines())))
    started_on = ma.fields.Date(required=True, validate=calendar_date, metadata={"description": "First dose (interval medicines) or course start"})
    end_date = ma.fields.Date(allow_none=True, validate=calendar_date, metadata={"description": "Last day; required for a daily course"})


class TreatmentUpdateSchema(ma.Schema):
    end_date = ma.fields.Date(required=True, allow_none=True, validate=calendar_date,
                              metadata={"description": "Stop (or change the end of) the treatment; null reopens it"})


class TreatmentSchema(ma.Schema):
    id = ma.fields.UUID()
    patient_id = ma.fields.UUID()
    medicine = ma.fields.String()
    medicine_name = ma.fields.String()
    schedule = ma.fields.String(metadata={"description": "interval (dose by dose) or daily_course"})
    interval_months = ma.fields.Integer(allow_none=True)
    source = ma.fields.String()
    started_on = ma.fields.Date()
    end_date = ma.fields.Date(allow_none=True)
    last_dose_on = ma.fields.Date(allow_none=True)
    next_due_on = ma.fields.Date(allow_none=True, metadata={"description": "Patient-local; null for a daily course"})
    overdue = ma.fields.Boolean()
    days_overdue = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "active or ended"})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class TreatmentListArgs(PageArgs):
    medicine = ma.fields.String(validate=OneOf(list(medicines())))
    active = ma.fields.Boolean()
    overdue = ma.fields.Boolean()
    lang = LANG_FIELD


class TreatmentDoseInSchema(ma.Schema):
    given_on = ma.fields.Date(required=True, validate=calendar_date, metadata={"description": "Patient-local date the dose was given"})


class TreatmentDoseSchema(ma.Schema):
    id = ma.fields.UUID()
    treatment_id = ma.fields.UUID()
    patient_id = ma.fields.UUID()
    given_on = ma.fields.Date()
    recorded_by_id = ma.fields.UUID(allow_none=True)
    created_at = ma.fields.DateTime()


class TreatmentDoseRecordedSchema(ma.Schema):
    dose = ma.fields.Nested(TreatmentDoseSchema)
    treatment = ma.fields.Nested(TreatmentSchema)


class TreatmentDoseListArgs(PageArgs):
    date_from = ma.fields.Date(data_key="from", validate=calendar_date)
    date_to = ma.fields.Date(data_key="to", validate=calendar_date)
