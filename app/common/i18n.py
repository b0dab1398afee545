"""Choosing the language to answer in: ?lang=, then Accept-Language, then the patient's own."""
import marshmallow as ma
from flask import request

LANGUAGES = ("zh-CN", "en")

DEFAULT_LANGUAGE = "en"
_PRIMARY = {"zh": "zh-CN", "en": "en"}


def requested_language(explicit: str | None, patient_language: str | None = None) -> str:
    if explicit:
        return explicit
    header = request.accept_languages
    for value, _quality in header:  # already ordered by quality
        if value in LANGUAGES:
            return value
        primary = value.split("-")[0].lower()
        if primary in _PRIMARY:
            return _PRIMARY[primary]
    return patient_language or DEFAULT_LANGUAGE


def served_language(wanted: str, available) -> str:
    """The wanted language if there is content in it, else the other one."""
    available = list(available)
    if wanted in available:
        return wanted
    return next((lang for lang in LANGUAGES if lang in available), available[0])


LANG_FIELD = ma.fields.String(validate=ma.validate.OneOf(LANGUAGES),
                              metadata={"description": "Overrides Accept-Language"})


class LanguageArgs(ma.Schema):
    lang = LANG_FIELD
