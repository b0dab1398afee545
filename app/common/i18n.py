"""Choosing the language to answer in: ?lang=, then Accept-Language, then the patient's own.

Routes find what the request asks for (`wanted_language`) and pass it to services, which
fall back to the patient's language when nothing was asked (`choose_language`).
Values inside a text (dates, times, lists) are written for its reader with `long_date`,
`clock_time` and `listed`, which take the language: a service or a page passes its own."""
from datetime import date, time

import marshmallow as ma
from babel.dates import format_date, format_time
from babel.lists import format_list

LANGUAGES = ("zh-CN", "en")
LOCALES = {"en": "en", "zh-CN": "zh_Hans_CN"}  # Babel's names (the console's translations/zh_Hans_CN)

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


def locale_of(language: str) -> str:
    return LOCALES.get(language, LOCALES[DEFAULT_LANGUAGE])


def long_date(value, language: str) -> str:
    """An ISO date (or a date) as a reader of language reads it ("Oct 28, 2026", "2026年10月28日");
    anything else as it is. Data (evidence, payloads) keeps ISO: only texts take this."""
    value = _parsed(value, date.fromisoformat)
    return format_date(value, "medium", locale=locale_of(language)) if isinstance(value, date) else str(value)


def clock_time(value, language: str) -> str:
    """A wall-clock time ("HH:MM", or a time) as a reader of language reads it ("9:30 AM",
    "09:30"); anything else as it is. The time is the one given: no time zone is applied."""
    value = _parsed(value, time.fromisoformat)
    return format_time(value, "short", locale=locale_of(language)) if isinstance(value, time) else str(value)


def _parsed(value, parse):
    try:
        return parse(value) if isinstance(value, str) else value
    except ValueError:
        return value


def listed(names, language: str) -> str:
    """Names as one phrase in language ("a, b, and c", "a、b和c"); "—" for none."""
    names = [str(n) for n in names]
    return format_list(names, locale=locale_of(language)) if names else "—"


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
