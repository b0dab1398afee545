"""The services' and the API schemas' own messages, in the console's catalogue: a refused action
shows the service's words, translated when the catalogue knows them (else as the service wrote
them). The list only marks the texts for `make translations`; nothing here decides anything."""
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
    _l("Longer than maximum length 2000."),
    _l("Longer than maximum length 500."),
    _l("Length must be between 5 and 500."),
    _l("Length must be between 1 and 200."),
)


def service_text(text: str) -> str:
    """text in the page's language when the catalogue has it."""
    return get_translations().gettext(text)
