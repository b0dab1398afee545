import marshmallow as ma

from app.auth.models import ROLES
from app.common.pagination import PageArgs


class LoginSchema(ma.Schema):
    email = ma.fields.Email(required=True)
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(max=256))


class ActivateSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=8, max=64))
    email = ma.fields.Email(required=True)
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(max=256))
    display_name = ma.fields.String(validate=ma.validate.Length(min=1, max=120),
                                    metadata={"description": "Caregivers: your name as the patient will see it."})


class UserSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    email = ma.fields.Email(dump_only=True)
    role = ma.fields.String(dump_only=True)
    display_name = ma.fields.String(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)


class TokenSchema(ma.Schema):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.String()
    expires_in = ma.fields.Integer(metadata={"description": "Access token lifetime in seconds"})
    user = ma.fields.Nested(UserSchema)


class UserCreateSchema(ma.Schema):
    email = ma.fields.Email(required=True)
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(max=256))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(["coordinator", "admin"]))
    display_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))


class UserListArgs(PageArgs):
    role = ma.fields.String(validate=ma.validate.OneOf(ROLES))
    q = ma.fields.String(validate=ma.validate.Length(max=100))
