"""The services' and the API schemas' own messages, in the console's catalogue: a refused action
shows the service's words, translated when the catalogue knows them (else as the service wrote
them). The lists only mark the texts for `make translations`; nothing here decides anything.
A message that carries a value ("No plan template 'x'.") is found by its pattern in WITH_VALUES
and translated with the value kept."""
import re
from functools import lru_cache

from flask_babel import get_translations
from flask_babel import lazy_gettext as _l

KNOWN = (
    # access policy
    _l("No such patient."),
    _l("This needs the role coordinator."),
    # contacts (coordinator service)
    _l("A contact cannot be in the future."),
    _l("A follow-up date is today or later (the patient's local date)."),
    _l("No such flag for this patient."),
    # plans
    _l("This plan needs safety warnings acknowledged (and contraindications overridden with "
       "override_reason) before it is saved."),
    _l("History is kept as it was: changes take effect today or later."),
    _l("A new version starts on or after the latest one."),
    _l("This plan has ended; assign a new plan instead."),
    _l("This plan ends before the change would start."),
    _l("No such plan for this patient."),
    # DXA follow-ups
    _l("This patient already has an open DXA follow-up; change that one."),
    _l("An appointment is booked for today or later."),
    _l("This follow-up is done; plan a new one instead."),
    _l("This follow-up is missed; plan a new one instead."),
    _l("This follow-up is cancelled; plan a new one instead."),
    _l("No such DXA follow-up for this patient."),
    # doses
    _l("A dose is given within the treatment and not in the future."),
    _l("A daily course is recorded as a course with its end date, not dose by dose."),
    _l("A dose on this date is already recorded."),
    _l("No such treatment for this patient."),
    # the API schemas (marshmallow)
    _l("Missing data for required field."),
    _l("Not a valid date."),
    # the API's request parser (app.extensions.NUL_MESSAGE), which the console's forms share
    _l("Text cannot contain the NUL character (\\u0000)."),
)


# Messages with a value in them, as the services and marshmallow write them (%(name)s: the value).
WITH_VALUES = (
    _l("No plan template '%(slug)s'."),
    _l("Longer than maximum length %(max)s."),
    _l("Shorter than minimum length %(min)s."),
    _l("Length must be between %(min)s and %(max)s."),
    _l("Must be one of: %(choices)s."),
)


@lru_cache(maxsize=1)
def _patterns() -> tuple:
    """(regex, msgid) for each of WITH_VALUES: the msgid with each %(name)s as a named group."""
    found = []
    for lazy in WITH_VALUES:
        msgid = lazy._args[0]  # the text lazy_gettext was given (flask_babel's LazyString)
        body = re.sub(r"%\\\((\w+)\\\)s", r"(?P<\1>.+?)", re.escape(msgid))
        found.append((re.compile(f"^{body}$", re.DOTALL), msgid))
    return tuple(found)


def service_text(text: str) -> str:
    """text in the page's language when the catalogue has it (itself, or its pattern)."""
    translations = get_translations()
    translated = translations.gettext(text)
    if translated != text:
        return translated
    for pattern, msgid in _patterns():
        found = pattern.match(text)
        if found:
            return translations.gettext(msgid) % found.groupdict()
    return text
