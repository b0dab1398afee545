import marshmallow as ma

from app.common.i18n import LANG_FIELD


class FeedArgs(ma.Schema):
    token = ma.fields.String(validate=ma.validate.Length(min=1, max=200),
                             metadata={"description": "The feed token (instead of a Bearer token)"})
    lang = LANG_FIELD


class FeedTokenSchema(ma.Schema):
    token = ma.fields.String(metadata={"description": "Shown once; only its hash is kept"})
    path = ma.fields.String(metadata={"description": "The feed's path with the token, for a calendar app to subscribe"})
    created_at = ma.fields.DateTime()


class FeedStatusSchema(ma.Schema):
    active = ma.fields.Boolean()
    created_at = ma.fields.DateTime(allow_none=True)
