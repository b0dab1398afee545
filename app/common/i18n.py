"""Choosing the language to answer in: ?lang=, then Accept-Language, then the patient's own.

Routes find what the request asks for (`wanted_language`) and pass it to services, which
fall back to the patient's language when nothing was asked (`choose_language`)."""
import marshmallow as ma

LANGUAGES = ("zh-CN", "en")

DEFAULT_LANGUAGE = "en"
_PRIMARY = {"zh": "zh-CN", "en": "en"}


def wanted_language(explicit: str | None, accepted=()) -> str | None:
    """?lang= if given, else the first Accept-Language value we serve (accepted: values in
    order of quality, e.g. request.accept_languages.values()), else None."""
    if explicit:
        return explicit
    for value in accepted:
        if value in LANGUAGES:
            return value
        primary = value.split("-")[0].lower()
        if primary in _PRIMARY:
            return _PRIMARY[primary]
    return None


def choose_language(wanted: str | None, patient_language: str | None = None) -> str:
    return wanted or patient_language or DEFAULT_LANGUAGE


def named_in(names: dict | None, language: str, otherwise: str) -> str:
    """A name from {language: name} in language, else in the default language, else `otherwise`
    (the code it names, for a code no seed file names)."""
    names = names or {}
    return names.get(language) or names.get(DEFAULT_LANGUAGE) or otherwise


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
