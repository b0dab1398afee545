"""The console's forms (WTForms via Flask-WTF: each carries its CSRF token). Labels are lazy
so they are translated in the page's language."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.common.i18n import LANGUAGES
from app.console.service_texts import service_text
from app.extensions import NUL_MESSAGE, fields_with_nul

LANGUAGE_NAMES = {"en": "English", "zh-CN": "中文（简体）"}


class ConsoleForm(FlaskForm):
    """A console form: a field holding a NUL is refused by its field, as the API's request parser
    refuses one before the schema (fields_with_nul): PostgreSQL cannot store one and SQLite can,
    so both databases give one answer, and the form comes back as typed."""

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        holding = fields_with_nul({f.name: f.raw_data for f in self})
        for name in holding:
            self[name].errors = [service_text(NUL_MESSAGE), *self[name].errors]
        return valid and not holding


# Not a ConsoleForm: a NUL in the e-mail or password is a failed sign-in (identity.sign_in), as any.
class SignInForm(FlaskForm):
    email = StringField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)],
                        render_kw={"autocomplete": "username", "type": "email"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Sign in"))


class LanguageForm(ConsoleForm):
    language = SelectField(_l("Language"), choices=[SelectChoice(value=code, label=LANGUAGE_NAMES[code])
                                                      for code in LANGUAGES])
    submit = SubmitField(_l("Change"))


class SignOutForm(ConsoleForm):
    submit = SubmitField(_l("Sign out"))
