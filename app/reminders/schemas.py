import marshmallow as ma

from app.common.i18n import LANG_FIELD
from app.common.pagination import PageArgs

Length = ma.validate.Length
HHMM = ma.validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Use HH:MM, 24-hour, local time.")


class QuietHoursSchema(ma.Schema):
    start = ma.fields.String(required=True, validate=HHMM, metadata={"example": "22:00"})
    end = ma.fields.String(required=True, validate=HHMM, metadata={"example": "07:00"})

    @ma.validates_schema
    def _not_empty(self, data, **kwargs):
        if data.get("start") and data.get("start") == data.get("end"):
            raise ma.ValidationError("Start and end must differ.", "end")


class ChannelsInSchema(ma.Schema):
    email = ma.fields.Boolean()
    push = ma.fields.Boolean()


class ReminderTimeInSchema(ma.Schema):
    item_key = ma.fields.UUID(required=True)
    time = ma.fields.String(required=True, allow_none=True, validate=HHMM,
                            metadata={"description": "Patient-local HH:MM; null goes back to the item's own time"})


class PreferencesInSchema(ma.Schema):
    channels = ma.fields.Nested(ChannelsInSchema, metadata={"description": "The in-app inbox is always on"})
    quiet_hours = ma.fields.Nested(QuietHoursSchema, allow_none=True,
                                   metadata={"description": "Patient-local; may span midnight; null: none"})
    reminder_times = ma.fields.List(ma.fields.Nested(ReminderTimeInSchema), validate=Length(max=50))
    opted_out = ma.fields.List(ma.fields.String(validate=Length(min=1, max=60)), validate=Length(max=50),
                               metadata={"description": "Kinds of reminder not wanted (see `kinds`)"})
    caregivers_receive = ma.fields.Boolean(metadata={"description": "Only the patient may change it"})


class ChannelsSchema(ma.Schema):
    inbox = ma.fields.Boolean()
    email = ma.fields.Boolean()
    push = ma.fields.Boolean()


class ReminderTimeSchema(ma.Schema):
    item_key = ma.fields.UUID()
    exercise_slug = ma.fields.String()
    exercise_name = ma.fields.String(allow_none=True)
    time_of_day = ma.fields.String(allow_none=True, metadata={"description": "The plan item's own time"})
    reminder_time = ma.fields.String(metadata={"description": "When the reminder goes (patient-local)"})
    custom = ma.fields.Boolean()


class PreferencesSchema(ma.Schema):
    patient_id = ma.fields.UUID()
    channels = ma.fields.Nested(ChannelsSchema)
    quiet_hours = ma.fields.Nested(QuietHoursSchema, allow_none=True)
    reminder_times = ma.fields.List(ma.fields.Nested(ReminderTimeSchema))
    opted_out = ma.fields.List(ma.fields.String())
    kinds = ma.fields.List(ma.fields.String(), metadata={"description": "Every kind of reminder there is"})
    caregivers_receive = ma.fields.Boolean()
    updated_at = ma.fields.DateTime(allow_none=True)


class InboxArgs(PageArgs):
    unread = ma.fields.Boolean()
    kind = ma.fields.String(validate=Length(min=1, max=60))
    lang = LANG_FIELD


class NotificationSchema(ma.Schema):
    id = ma.fields.UUID()
    kind = ma.fields.String()
    subject = ma.fields.String()
    text = ma.fields.String()
    payload = ma.fields.Dict()
    status = ma.fields.String(metadata={"description": "pending, sending, sent, failed or cancelled"})
    due_at = ma.fields.DateTime()
    sent_at = ma.fields.DateTime(allow_none=True)
    read_at = ma.fields.DateTime(allow_none=True)


class UnreadSchema(ma.Schema):
    unread = ma.fields.Integer()


class MarkedSchema(ma.Schema):
    marked = ma.fields.Integer()


class SnoozeSchema(ma.Schema):
    until = ma.fields.String(required=True, validate=ma.validate.OneOf(["30m", "60m", "later_today"]))


class DeviceInSchema(ma.Schema):
    token = ma.fields.String(required=True, validate=Length(min=8, max=512))
    platform = ma.fields.String(required=True, validate=ma.validate.OneOf(["android", "ios", "web"]))


class DeviceSchema(ma.Schema):
    id = ma.fields.UUID()
    platform = ma.fields.String()
    created_at = ma.fields.DateTime()
