"""The forms of what a coordinator does from the patient page: log a contact, assign or change a
plan, book a DXA scan, record a dose. They read the post; the API's schemas and services then
judge it (app/console/pages/actions.py), so no rule is written twice. Labels are lazy."""
from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.console.forms import ConsoleForm
from app.coordinator.models import CHANNELS, OUTCOMES
from app.dxa.models import FOLLOWUP_KINDS

REQUIRED = _l("Required.")
NOT_A_DATE = _l("Not a valid date (use the date picker or YYYY-MM-DD).")
NOT_A_TIME = _l("Not a valid time (HH:MM, 24-hour).")

CHANNEL_LABELS = {"phone": _l("Phone call"), "message": _l("Text message"), "email": _l("E-mail"),
                  "video": _l("Video call"), "in_person": _l("In person")}
OUTCOME_LABELS = {"reached": _l("Reached the patient"), "no_answer": _l("No answer"),
                  "left_message": _l("Left a message"), "wrong_number": _l("Wrong number"),
                  "declined": _l("Patient declined"), "other": _l("Other")}
KIND_LABELS = {"baseline": _l("Baseline scan"), "repeat": _l("Repeat scan"), "interval": _l("Interval scan")}


def _choices(codes, labels) -> list:
    return [SelectChoice(value=code, label=labels[code]) for code in codes]


class PickedDate(DateField):
    """A date from a date picker; a value it cannot read gets the console's own (translated) message."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(str(NOT_A_DATE)) from None


class PickedTime(TimeField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(str(NOT_A_TIME)) from None


class ContactForm(ConsoleForm):
    channel = SelectField(_l("Channel"), id="contact-channel", choices=_choices(CHANNELS, CHANNEL_LABELS),
                          validators=[InputRequired(REQUIRED)])
    outcome = SelectField(_l("Outcome"), id="contact-outcome", choices=_choices(OUTCOMES, OUTCOME_LABELS),
                          validators=[InputRequired(REQUIRED)])
    note = TextAreaField(_l("Note"), id="contact-note", validators=[Optional()], render_kw={"rows": 3})
    follow_up_on = PickedDate(_l("Follow up on (optional)"), id="contact-follow-up-on", validators=[Optional()],
                              render_kw={"type": "date"})
    submit = SubmitField(_l("Log the contact"), id="contact-submit")


class PlanTemplatePicker(ConsoleForm):
    """A GET form (no token): which template to look at before assigning it."""

    class Meta:
        csrf = False

    plan_template = SelectField(_l("Plan template"), validators=[InputRequired(REQUIRED)], id="plan-template")


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PlanForm(ConsoleForm):
    template = HiddenField(validators=[InputRequired(REQUIRED)], id="plan-template-slug")
    # The plan being changed and the ETag of the version the page showed (empty: assign a new plan).
    plan_id = HiddenField(id="plan-plan-id")
    revision = HiddenField(id="plan-revision")
    acknowledge_warnings = MultiCheckboxField(_l("I have read these warnings for this patient"),
                                              id="plan-acknowledge-warnings", choices=[], validate_choice=False)
    override_reason = TextAreaField(_l("Reason for the override (the treating team's clearance)"),
                                    id="plan-override-reason", validators=[Optional()], render_kw={"rows": 2})
    change_note = StringField(_l("Note on the change (optional)"), id="plan-change-note", validators=[Optional()])
    submit = SubmitField(_l("Assign this plan"), id="plan-submit")


class DxaBookingForm(ConsoleForm):
    followup_id = HiddenField(id="dxa-followup-id")  # the open follow-up the page showed (empty: none was open)
    kind = SelectField(_l("Kind of scan"), id="dxa-kind", choices=_choices(FOLLOWUP_KINDS, KIND_LABELS),
                       validators=[Optional()])
    due_date = PickedDate(_l("Due date"), id="dxa-due-date", validators=[Optional()], render_kw={"type": "date"})
    appointment_date = PickedDate(_l("Appointment date"), id="dxa-appointment-date",
                                  validators=[InputRequired(REQUIRED)], render_kw={"type": "date"})
    appointment_time = PickedTime(_l("Appointment time"), id="dxa-appointment-time",
                                  validators=[InputRequired(REQUIRED)], render_kw={"type": "time"})
    appointment_place = StringField(_l("Centre and room"), id="dxa-appointment-place",
                                    validators=[InputRequired(REQUIRED)])
    submit = SubmitField(_l("Book the scan"), id="dxa-submit")


class DoseForm(ConsoleForm):
    treatment_id = SelectField(_l("Treatment"), id="dose-treatment-id", choices=[], validate_choice=False,
                               validators=[InputRequired(REQUIRED)])
    given_on = PickedDate(_l("Date given"), id="dose-given-on", validators=[InputRequired(REQUIRED)],
                          render_kw={"type": "date"})
    submit = SubmitField(_l("Record the dose"), id="dose-submit")
