import marshmallow as ma

from app.common.pagination import PageArgs
from app.common.i18n import LANG_FIELD


class ExerciseListArgs(PageArgs):
    lang = LANG_FIELD
    kind = ma.fields.String(validate=ma.validate.Length(max=30))


class MeasureSchema(ma.Schema):
    key = ma.fields.String()
    unit = ma.fields.String()
    min = ma.fields.Float()
    max = ma.fields.Float()
    label = ma.fields.String()


class DoseSchema(ma.Schema):
    minutes = ma.fields.Integer()
    sessions_per_week = ma.fields.Integer()
    source = ma.fields.String()


class ExerciseSchema(ma.Schema):
    id = ma.fields.UUID()
    slug = ma.fields.String()
    kind = ma.fields.String()
    language = ma.fields.String()
    name = ma.fields.String()
    instructions = ma.fields.String()
    equipment = ma.fields.String()
    precautions = ma.fields.String()
    contraindications = ma.fields.String()
    measures = ma.fields.List(ma.fields.Nested(MeasureSchema),
                              metadata={"description": "What a session records besides minutes"})
    default_dose = ma.fields.Nested(DoseSchema)
    safety = ma.fields.List(ma.fields.String())
