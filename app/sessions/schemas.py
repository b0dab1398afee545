import marshmallow as ma

from app.common.i18n import LANG_FIELD
from app.common.pagination import PageArgs
from app.common.validation import calendar_date
from app.education.schemas import ReferenceSchema
from app.errors import ProblemSchema
from app.sessions.content import symptom_codes

Range = ma.validate.Range
Length = ma.validate.Length
MAX_BATCH = 500


class MeasureValue(ma.fields.Float):
    """A measure as sent: a finite number, an integer staying an integer (at most 2**53, what
    every JSON reader holds exactly)."""

    def __init__(self, **kwargs):
        super().__init__(allow_nan=False, **kwargs)

    def _format_num(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("not a number")
        if isinstance(value, int) and abs(value) > 2**53:
            raise ValueError("too large")
        return value


class SessionFields(ma.Schema):
    # Exactly one of item_key and exercise (checked below): the spec says it as a oneOf of two
    # variants, each requiring its field and without the other (app/openapi.py).
    OPENAPI_ONE_OF = {"OnPlan": "item_key", "OffPlan": "exercise"}

    item_key = ma.fields.UUID(metadata={"description": "The plan item done (from the agenda); or give exercise"})
    exercise = ma.fields.String(validate=Length(min=1, max=80),
                                metadata={"description": "Exercise id or slug, for a session off the plan"})
    started_at = ma.fields.AwareDateTime(required=True, validate=calendar_date, metadata={"description": "ISO 8601 with offset"})
    duration_minutes = ma.fields.Integer(required=True, strict=True, validate=Range(min=1, max=300))
    measures = ma.fields.Dict(keys=ma.fields.String(), values=MeasureValue(),
                              load_default=dict, metadata={"description": "As the exercise's measures say"})
    exertion = ma.fields.Integer(strict=True, allow_none=True, validate=Range(min=0, max=10),
                                 metadata={"description": "Perceived exertion 0-10"})
    pain = ma.fields.Integer(strict=True, allow_none=True, validate=Range(min=0, max=10))
    symptoms = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(symptom_codes())),
                              load_default=list, validate=Length(max=len(symptom_codes())))
    note = ma.fields.String(allow_none=True, validate=Length(max=2000))
    base_revision = ma.fields.Integer(
        strict=True, allow_none=True, validate=Range(min=1),
        metadata={"description": "The revision this edit was made on (the `revision` the app last had). "
                                 "Required to change a stored session: a stale one answers 409 with the "
                                 "current version, none 428. Not needed to create or to resend."})

    @ma.validates_schema
    def _what(self, data, **kwargs):
        if ("item_key" in data) == ("exercise" in data):
            raise ma.ValidationError("Give either item_key (a plan item) or exercise (off the plan).", "item_key")
        if len(set(data.get("symptoms", []))) != len(data.get("symptoms", [])):
            raise ma.ValidationError("Each symptom once.", "symptoms")


class SessionInSchema(SessionFields):
    pass


class BatchItemSchema(SessionFields):
    id = ma.fields.UUID(required=True)


class AsIs(ma.fields.Nested):
    """Documented as the nested schema, loaded and dumped as it is: the service checks each batch
    item on its own (one bad item is an error item and never loses the others), and builds each
    item's problem whole."""

    def _deserialize(self, value, attr, data, **kwargs):
        return value

    def _serialize(self, nested_obj, attr, obj, **kwargs):
        return nested_obj


class BatchInSchema(ma.Schema):
    checked_on_their_own = ("sessions",)  # each item on its own, by the batch (app/sessions/service.py: _loaded)
    sessions = ma.fields.List(AsIs(BatchItemSchema), required=True, validate=Length(min=1, max=MAX_BATCH),
                              metadata={"description": f"Up to {MAX_BATCH} sessions, each with its id; "
                                                       "each is answered on its own"})


class AlertBranchSchema(ma.Schema):
    when = ma.fields.String(metadata={"description": "high or low: the blood pressure reading these steps are for"})
    answer = ma.fields.String(metadata={"description": "The safety answer these steps come from"})
    condition = ma.fields.String(metadata={"description": "How to tell, in the patient's words"})
    title = ma.fields.String()
    steps = ma.fields.List(ma.fields.String())
    card = ma.fields.String(allow_none=True)


class AlertSchema(ma.Schema):
    code = ma.fields.String()
    severity = ma.fields.String(metadata={"description": "urgent or warning"})
    language = ma.fields.String()
    title = ma.fields.String()
    steps = ma.fields.List(ma.fields.String())
    branches = ma.fields.List(ma.fields.Nested(AlertBranchSchema),
                              metadata={"description": "Measure blood pressure first, then follow the branch "
                                                       "that matches the reading"})
    card = ma.fields.String(allow_none=True, metadata={
        "description": "Text to show at emergency care (the dysreflexia wallet card)"})
    emergency_number = ma.fields.String(allow_none=True, metadata={
        "description": "The clinic's ambulance number (its settings); null when the clinic has not set it, "
                       "and the steps then say 'your local emergency number'"})
    source = ma.fields.String(metadata={"description": "Short citations of the sources"})
    references = ma.fields.List(ma.fields.Nested(ReferenceSchema))


class SessionSchema(ma.Schema):
    """Dumps view()'s dicts (every write, page and feed answers one)."""

    def get_attribute(self, obj, attr, default):
        # marshmallow's accessor (utils.get_value) inlined: a key, else the attribute; three calls
        # fewer a field. Dotted paths still go through it.
        if "." in attr:
            return super().get_attribute(obj, attr, default)
        try:
            return obj[attr]
        except (KeyError, IndexError, TypeError, AttributeError):
            return getattr(obj, attr, default)

    id = ma.fields.UUID()
    patient_id = ma.fields.UUID()
    item_key = ma.fields.UUID(allow_none=True)
    plan_id = ma.fields.UUID(allow_none=True)
    exercise_id = ma.fields.UUID()
    started_at = ma.fields.DateTime()
    local_date = ma.fields.Date()
    duration_minutes = ma.fields.Integer()
    measures = ma.fields.Dict()
    exertion = ma.fields.Integer(allow_none=True)
    pain = ma.fields.Integer(allow_none=True)
    symptoms = ma.fields.List(ma.fields.String())
    note = ma.fields.String(allow_none=True)
    needs_review = ma.fields.Boolean()
    revision = ma.fields.Integer()
    logged_by_id = ma.fields.UUID(allow_none=True)
    logged_by_role = ma.fields.String()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    deleted = ma.fields.Boolean()
    safety_alerts = ma.fields.List(ma.fields.Nested(AlertSchema),
                                   metadata={"description": "Urgent instructions, in the patient's language"})


class ConflictSchema(ProblemSchema):
    current = ma.fields.Nested(SessionSchema, metadata={
        "optional": True, "description": "The version stored now (absent when the id is taken by another "
                                           "patient's session)"})


class BatchResultSchema(ma.Schema):
    id = ma.fields.String(allow_none=True)
    index = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": "created, unchanged, updated or error"})
    session = ma.fields.Nested(SessionSchema, allow_none=True, metadata={"description": "null for an error"})
    problem = AsIs(ConflictSchema, allow_none=True, metadata={
        "description": "For an error: the problem the same session alone would get (a 409/428 with `current`); "
                       "null otherwise"})


class BatchOutSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(BatchResultSchema))
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class SessionListArgs(PageArgs):
    date_from = ma.fields.Date(data_key="from", validate=calendar_date, metadata={"description": "Patient-local date, inclusive"})
    date_to = ma.fields.Date(data_key="to", validate=calendar_date, metadata={"description": "Patient-local date, inclusive"})
    needs_review = ma.fields.Boolean()


class ChangesArgs(ma.Schema):
    checked_on_their_own = ("since",)  # any text that is no cursor, a NUL too, is a cursor-invalid 422
    since = ma.fields.String(validate=Length(max=200),
                             metadata={"description": "`next_cursor` from the last call; omit to start from "
                                                      "the beginning. Opaque, bound to this patient."})
    limit = ma.fields.Integer(load_default=200, validate=Range(min=1, max=500))


class ChangesSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SessionSchema),
                           metadata={"description": "In commit order; each session once, at its latest write "
                                                    "(deleted ones with deleted: true)"})
    next_cursor = ma.fields.String(metadata={"description": "Store it once the items are applied; send it as since"})
    has_more = ma.fields.Boolean(metadata={"description": "Call again at once with next_cursor"})


class SymptomArgs(PageArgs):
    lang = LANG_FIELD


class SymptomSchema(ma.Schema):
    code = ma.fields.String()
    label = ma.fields.String()
    triggers_alert = ma.fields.String(allow_none=True)
