"""The console's forms (WTForms via Flask-WTF: each carries its CSRF token). Labels are lazy
so they are translated in the page's language."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length

from app.common.i18n import LANGUAGES

LANGUAGE_NAMES = {"en": "English", "zh-CN": "中文（简体）"}


class SignInForm(FlaskForm):
    email = StringField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)],
                        render_kw={"autocomplete": "username", "type": "email"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Sign in"))


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=[SelectChoice(value=code, label=LANGUAGE_NAMES[code])
                                                      for code in LANGUAGES])
    submit = SubmitField(_l("Change"))


class SignOutForm(FlaskForm):
    submit = SubmitField(_l("Sign out"))
