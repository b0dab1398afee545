import marshmallow as ma

from app.auth.models import ROLES
from app.common.i18n import LANG_FIELD, LANGUAGES
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
    is_active = ma.fields.Boolean(dump_only=True)
    language = ma.fields.String(dump_only=True, allow_none=True, attribute="staff_language", metadata={
        "description": "Staff: the language of their e-mails, inbox, flags and rules (English unless set); "
                       "null for patients and caregivers, who read in the patient's language"})
    created_at = ma.fields.DateTime(dump_only=True)


class UserUpdateSchema(ma.Schema):
    is_active = ma.fields.Boolean(metadata={
        "description": "false: the account can no longer log in and its tokens stop at once"})
    language = ma.fields.String(validate=ma.validate.OneOf(LANGUAGES), metadata={
        "description": "The language of the account's e-mails"})

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Send is_active, language or both.", "_schema")


def _password():
    return ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=256))


class PasswordChangeSchema(ma.Schema):
    current_password = _password()
    new_password = _password()


class PasswordResetRequestSchema(ma.Schema):
    email = ma.fields.Email(required=True)
    lang = LANG_FIELD


class PasswordResetConfirmSchema(ma.Schema):
    email = ma.fields.Email(required=True)
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=4, max=32),
                            metadata={"description": "From the e-mail; dashes and spaces are ignored"})
    new_password = _password()


class AcceptedSchema(ma.Schema):
    detail = ma.fields.String()


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
    language = ma.fields.String(validate=ma.validate.OneOf(LANGUAGES), metadata={
        "description": "The language of the account's e-mails (default English)"})


class UserListArgs(PageArgs):
    role = ma.fields.String(validate=ma.validate.OneOf(ROLES))
    q = ma.fields.String(validate=ma.validate.Length(max=100))
