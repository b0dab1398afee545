import marshmallow as ma

from app.common.i18n import LANGUAGES
from app.common.pagination import PageArgs
from app.common.validation import calendar_date, time_zone
from app.patients.models import AIS_GRADES, NEURO_LEVELS, SEXES

OneOf = ma.validate.OneOf
Length = ma.validate.Length


class FractureSchema(ma.Schema):
    site = ma.fields.String(required=True, validate=Length(min=1, max=80))
    date = ma.fields.Date(required=True, validate=calendar_date)
    note = ma.fields.String(validate=Length(max=500))


class PatientFields(ma.Schema):
    display_name = ma.fields.String(required=True, validate=Length(min=1, max=120))
    date_of_birth = ma.fields.Date(required=True, validate=calendar_date)
    sex = ma.fields.String(required=True, validate=OneOf(SEXES))
    injury_date = ma.fields.Date(required=True, validate=calendar_date)
    neurological_level = ma.fields.String(
        required=True, validate=OneOf(NEURO_LEVELS),
        metadata={"description": "Neurological level of injury, C1 to S5"})
    ais_grade = ma.fields.String(required=True, validate=OneOf(AIS_GRADES))
    time_zone = ma.fields.String(required=True, validate=time_zone,
                                 metadata={"example": "Asia/Shanghai"})
    language = ma.fields.String(required=True, validate=OneOf(LANGUAGES))
    contact_email = ma.fields.Email(allow_none=True)
    known_fractures = ma.fields.List(ma.fields.Nested(FractureSchema), load_default=list,
                                     validate=Length(max=50))
    known_clots = ma.fields.List(ma.fields.Nested(FractureSchema), load_default=list, validate=Length(max=50),
                                 metadata={"description": "Deep vein thromboses or pulmonary emboli: site, date, note"})
    clinical_notes = ma.fields.String(allow_none=True, validate=Length(max=5000))

    @ma.validates_schema
    def _injury_after_birth(self, data, **kwargs):
        if "date_of_birth" in data and "injury_date" in data and data["injury_date"] < data["date_of_birth"]:
            raise ma.ValidationError("The injury cannot be before the date of birth.", "injury_date")


class PatientCreateSchema(PatientFields):
    pass


class PatientUpdateSchema(PatientFields):
    """Every field optional; which fields a patient or caregiver may change is the access
    policy's field rule (EDIT_PROFILE). Partial by name, top level only: partial=True would
    reach the nested records too (marshmallow passes it down), leaving a fracture or clot
    without its site or date; a record in a list is whole or refused."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", tuple(self._declared_fields))
        super().__init__(*args, **kwargs)


class StoredFractureSchema(ma.Schema):
    site = ma.fields.String()
    date = ma.fields.String(metadata={"format": "date"})
    note = ma.fields.String(allow_none=True, dump_default=None)


class PatientSchema(PatientFields):
    id = ma.fields.UUID(dump_only=True)
    known_fractures = ma.fields.List(ma.fields.Nested(StoredFractureSchema))
    known_clots = ma.fields.List(ma.fields.Nested(StoredFractureSchema))
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


_CLINICAL_LISTED = {"optional": True, "description": "Only to those who may read the patient's clinical "
                                                    "data (not to an admin)"}


class PatientSummarySchema(ma.Schema):
    id = ma.fields.UUID()
    display_name = ma.fields.String()
    neurological_level = ma.fields.String(validate=OneOf(NEURO_LEVELS), metadata=_CLINICAL_LISTED)
    ais_grade = ma.fields.String(validate=OneOf(AIS_GRADES), metadata=_CLINICAL_LISTED)
    time_zone = ma.fields.String()
    language = ma.fields.String(validate=OneOf(LANGUAGES))


class InvitationSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "Shown once; give it to the person to activate."})
    kind = ma.fields.String()
    expires_at = ma.fields.DateTime()


class PatientCreatedSchema(ma.Schema):
    patient = ma.fields.Nested(PatientSchema)
    invitation = ma.fields.Nested(InvitationSchema)


class PatientListArgs(PageArgs):
    q = ma.fields.String(validate=Length(max=100), metadata={"description": "Search by name"})


class CareTeamMemberSchema(ma.Schema):
    coordinator_id = ma.fields.UUID(required=True)
    display_name = ma.fields.String(dump_only=True)
    email = ma.fields.String(dump_only=True)
    added_at = ma.fields.DateTime(dump_only=True)


class CaregiverInviteSchema(ma.Schema):
    relationship_note = ma.fields.String(validate=Length(max=80),
                                         metadata={"example": "spouse"})


class CaregiverSchema(ma.Schema):
    id = ma.fields.UUID()
    caregiver_id = ma.fields.UUID()
    display_name = ma.fields.String()
    relationship_note = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()


class MeSchema(ma.Schema):
    id = ma.fields.UUID()
    email = ma.fields.String()
    role = ma.fields.String()
    display_name = ma.fields.String()
    patient = ma.fields.Nested(PatientSchema, allow_none=True)
    caring_for = ma.fields.List(ma.fields.Nested(PatientSummarySchema))
