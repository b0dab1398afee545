"""What a coordinator does from the patient page: log a contact, assign or change a plan from a
template, book a DXA scan, record a dose.

Each action is a form post that goes through the API's schema and service (the access policy,
the rules, the audit row), then back to the patient page with a message (post, redirect, get).
A refusal is a message naming the field, never a 500 and never half-written: the patient page is
shown again at once (422, or 409 for a conflict) with the form as it was typed and the error by
the field, so nothing typed is lost and no note is kept in a cookie. An unrelated coordinator
gets the 404 page and a role that may not act the 403 page. Each partial in
templates/console/partials/ builds its own form through the template global of the same name
(the refused form, when the page is shown again for one)."""
import uuid
from dataclasses import dataclass, field

from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from werkzeug.datastructures import ETags
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import Label

from app.access.policy import not_found
from app.audit import service as audit
from app.common.types import utcnow
from app.console import identity
from app.console.action_forms import (
    KIND_LABELS,
    ContactForm,
    DoseForm,
    DxaBookingForm,
    PlanForm,
    PlanTemplatePicker,
)
from app.console.blueprint import bp
from app.console.errors import error_page
from app.console.i18n import page_date, page_language
from app.console.plan_templates import forget_plans, plans_of, served_templates
from app.console.service_texts import service_text
from app.coordinator import service as coordinator
from app.coordinator.schemas import ContactInSchema
from app.dxa import service as dxa
from app.dxa.models import OPEN_STATUSES
from app.dxa.schemas import DxaFollowUpCreateSchema, DxaFollowUpUpdateSchema
from app.errors import ApiError
from app.extensions import db
from app.medications import service as medications
from app.medications.schemas import TreatmentDoseInSchema
from app.plans import service as plans
from app.plans.schemas import PlanCreateSchema, VersionCreateSchema

# Where each action's partial sits on the patient page (the contact log is the page's own section).
CONTACTS, PLAN, DXA, DOSES = "contacts", "plan-action", "dxa-action", "dose-action"
# A service's error keys that are not the form's field names.
FIELD_OF = {"appointment.date": "appointment_date", "appointment.time": "appointment_time",
            "appointment.place": "appointment_place", "appointment": "appointment_date"}


# --- coming back to the patient page ------------------------------------------------------

def _back(patient_id, anchor: str, **args):
    return redirect(url_for("console.patient", patient_id=patient_id, _anchor=anchor, **args))


def refused_form(kind: type):
    """The form of this kind the page is shown again for (a refused post), else None."""
    form = g.get("console_refused_form")
    return form if isinstance(form, kind) else None


def _page_again(form, patient_id, status: int):
    """The patient page again for a refused post: the form as typed, its errors by the fields,
    the message above (flashed, so shown on this page); status 422, or 409 for a conflict."""
    from app.console.pages.patient import patient as patient_page

    g.console_refused_form = form
    return patient_page(patient_id), status


def _label(form, key: str) -> str | None:
    name = FIELD_OF.get(key, key)
    return str(form[name].label.text) if name in form else None


def _keys(errors, prefix="") -> list[str]:
    keys = []
    for key, value in (errors or {}).items():
        if isinstance(value, dict):  # a nested schema: its fields name the problem, not the parent
            keys.extend(_keys(value, f"{prefix}{key}."))
        else:
            keys.append(f"{prefix}{key}")
    return keys


def _first_message(errors) -> str:
    """The first message of a marshmallow or service errors dict, however nested."""
    while isinstance(errors, (dict, list, tuple)) and errors:
        errors = next(iter(errors.values())) if isinstance(errors, dict) else errors[0]
    return str(errors)


def _naming(form, keys: list[str], problem: str) -> str:
    labels = list(dict.fromkeys(label for label in (_label(form, k) for k in keys) if label))
    for key in keys:  # the problem also by the field itself, for the form shown again
        name = FIELD_OF.get(key, key)
        if name in form and problem not in form[name].errors:
            form[name].errors = [*form[name].errors, problem]
    if not labels:
        return problem
    return _("%(field)s: %(problem)s", field=", ".join(labels), problem=problem)


def _form_refused(form, patient_id):
    """The form could not be read: a message per field, the page again; nothing was written."""
    audit.nothing_written()
    for f in form:
        if f.errors:
            flash(_naming(form, [f.name], str(f.errors[0])), "error")
    return _page_again(form, patient_id, 422)


def _schema_refused(error: ValidationError, form, patient_id):
    audit.nothing_written()
    flash(_naming(form, _keys(error.messages), service_text(_first_message(error.messages))), "error")
    return _page_again(form, patient_id, 422)


def _service_refused(error: ApiError, form, patient_id):
    """The service said no: nothing it began stays; the policy's answers are pages."""
    db.session.rollback()
    forget_plans()
    audit.nothing_written()
    if error.code == 404 and error.description == not_found().description:
        return error_page(404, _("No such patient on your caseload."))
    if error.code == 403:
        return error_page(403, service_text(error.description))
    if error.code in (412, 428):
        message = _("Someone changed this plan since the page was shown: check the plan as it is now, "
                    "then make your change again.")
        form.changed_meanwhile = True
    else:
        message = _naming(form, _keys(error.errors), service_text(error.description))
    flash(message, "error")
    return _page_again(form, patient_id, 409 if error.code in (409, 412, 428) else 422)


def _act(form, patient_id, anchor: str, load, do, done: str):
    """Load the post through the API's schema (load: a callable), run the service (do: data ->
    result), then done (a message, or a callable of the result) and back to the page."""
    try:
        data = load()
    except ValidationError as error:
        return _schema_refused(error, form, patient_id)
    try:
        result = do(data)
    except ApiError as error:
        return _service_refused(error, form, patient_id)
    flash(done(result) if callable(done) else done, "success")
    return _back(patient_id, anchor)


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return None


def _filled(**values) -> dict:
    """The fields given (the API's schemas take a missing field, not an empty one)."""
    return {k: v for k, v in values.items() if v not in (None, "", [])}


def _iso(day) -> str | None:
    return day.isoformat() if day else None


# --- a contact ----------------------------------------------------------------------------

@bp.app_template_global()
def contact_form(patient) -> ContactForm:
    return refused_form(ContactForm) or ContactForm(formdata=None)


@bp.route("/patients/<uuid:patient_id>/contacts", methods=["POST"])
@identity.staff_page
def log_contact(patient_id):
    form = ContactForm()
    if not form.validate():
        return _form_refused(form, patient_id)
    raw = _filled(channel=form.channel.data, outcome=form.outcome.data, note=(form.note.data or "").strip(),
                  follow_up_on=_iso(form.follow_up_on.data))
    return _act(form, patient_id, CONTACTS, lambda: ContactInSchema().load(raw),
                lambda data: coordinator.log_contact(identity.current_actor(), patient_id, data, utcnow()),
                _("The contact is logged."))


# --- a plan from a template ---------------------------------------------------------------

@dataclass
class PlanAction:
    """The plan partial: the template picker (a GET), then, once a template is picked, the form
    with that template's safety warnings for this patient."""

    picker: PlanTemplatePicker
    plan: object = None  # plans.PlanOn: the plan the form changes (None: it assigns one)
    chosen: object = None  # plans.templates.ServedTemplate
    form: PlanForm | None = None
    warnings: list = field(default_factory=list)

    @property
    def needs_override(self) -> bool:
        return any(w["requires"] == "override" for w in self.warnings)


def _plan_in_force(actor, patient_id):
    """The plan a change applies to: the newest active or paused one, else the newest scheduled."""
    listed = plans_of(actor, patient_id)
    for statuses in (("active", "paused"), ("scheduled",)):
        found = next((p for p in listed if p.status in statuses), None)
        if found is not None:
            return found
    return None


@bp.app_template_global()
def plan_form(patient) -> PlanAction:
    actor, language = identity.current_actor(), page_language()
    served = served_templates()
    plan = _plan_in_force(actor, patient.id)
    refused = refused_form(PlanForm)
    picker = PlanTemplatePicker(formdata=None)
    picker.plan_template.choices = [SelectChoice(value=t.slug, label=t.name) for t in served]
    wanted = refused.template.data if refused else request.args.get("plan_template")
    chosen = next((t for t in served if t.slug == wanted), None)
    picker.plan_template.data = chosen.slug if chosen else getattr(plan, "template_slug", None)
    action = PlanAction(picker, plan)
    if chosen is None:
        return action
    action.chosen = chosen
    action.warnings = plans.template_warnings(actor, patient.id, chosen.slug, language)
    form = refused or PlanForm(formdata=None, template=chosen.slug)
    if refused is None or getattr(refused, "changed_meanwhile", False):
        # the plan as the page shows it now (after a conflict: the one the coordinator now sees)
        form.plan_id.data, form.revision.data = (str(plan.id), plan.etag) if plan else ("", "")
    form.acknowledge_warnings.choices = [SelectChoice(value=w["code"], label=w["message"]) for w in action.warnings]
    if plan is not None:
        form.submit.label = Label(form.submit.id, _("Change the plan to this template"))
    action.form = form
    return action


def _plan_done(result) -> str:
    version = result.versions[-1]
    if version.number == 1:
        return _("The plan is assigned from %(date)s.", date=page_date(version.effective_from))
    return _("The plan is changed: version %(number)s from %(date)s.", number=version.number,
             date=page_date(version.effective_from))


@bp.route("/patients/<uuid:patient_id>/plans", methods=["POST"])
@identity.staff_page
def change_plan(patient_id):
    form = PlanForm()
    if not form.validate():
        return _form_refused(form, patient_id)
    actor, language = identity.current_actor(), page_language()
    raw = _filled(acknowledge_warnings=form.acknowledge_warnings.data,
                  override_reason=(form.override_reason.data or "").strip(),
                  change_note=(form.change_note.data or "").strip())
    if not form.plan_id.data:
        def assign(data):
            if _plan_in_force(actor, patient_id) is not None:  # assigned by someone since the page was shown
                raise ApiError(412, "A plan was assigned meanwhile.")
            return plans.assign_plan(actor, patient_id, data, language)

        return _act(form, patient_id, PLAN, lambda: PlanCreateSchema().load({**raw, "template": form.template.data}),
                    assign, _plan_done)
    plan_id = _uuid(form.plan_id.data)
    if_match = ETags([form.revision.data]) if form.revision.data else None

    def change(data):
        if plan_id is None:
            raise ApiError(412, "Not a plan of this page.")
        return plans.add_version(actor, patient_id, plan_id, {**data, "template": form.template.data},
                                 if_match, language)

    return _act(form, patient_id, PLAN, lambda: VersionCreateSchema(partial=("items",)).load(raw),
                change, _plan_done)


# --- a DXA appointment --------------------------------------------------------------------

@dataclass
class DxaAction:
    form: DxaBookingForm
    followup: object = None  # dxa.FollowUpOn: the open follow-up the booking is for (None: a new one)
    zone: str = ""

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS[self.followup.kind]) if self.followup else ""


@bp.app_template_global()
def dxa_booking_form(patient) -> DxaAction:
    page = dxa.list_followups(identity.current_actor(), patient.id, {"status": list(OPEN_STATUSES)}, utcnow())
    followup = page.items[0] if page.items else None
    refused = refused_form(DxaBookingForm)
    if refused is not None:
        return DxaAction(refused, followup, patient.time_zone)
    form = DxaBookingForm(formdata=None, followup_id=str(followup.id) if followup else "")
    booked = followup.appointment if followup else None
    if booked:
        form.appointment_date.data = booked["date"]
        form.appointment_place.data = booked["place"]
        form.appointment_time.raw_data = [booked["time"]]
    return DxaAction(form, followup, patient.time_zone)


@bp.route("/patients/<uuid:patient_id>/dxa/bookings", methods=["POST"])
@identity.staff_page
def book_dxa(patient_id):
    form = DxaBookingForm()
    if not form.validate():
        return _form_refused(form, patient_id)
    actor, now = identity.current_actor(), utcnow()
    appointment = {"date": _iso(form.appointment_date.data), "time": form.appointment_time.data.strftime("%H:%M"),
                   "place": form.appointment_place.data.strip()}
    done = _("The DXA scan is booked.")
    if form.followup_id.data:
        followup_id = _uuid(form.followup_id.data) or uuid.uuid4()  # not a follow-up of this page: 404
        return _act(form, patient_id, DXA, lambda: DxaFollowUpUpdateSchema().load({"appointment": appointment}),
                    lambda data: dxa.update_followup(actor, patient_id, followup_id, data, now), done)
    raw = _filled(kind=form.kind.data, due_date=_iso(form.due_date.data))
    return _act(form, patient_id, DXA, lambda: DxaFollowUpCreateSchema().load({**raw, "appointment": appointment}),
                lambda data: dxa.create_followup(actor, patient_id, data, now), done)


# --- a dose -------------------------------------------------------------------------------

@dataclass
class DoseAction:
    form: DoseForm
    treatments: list  # medications.TreatmentOn: the treatments in force given dose by dose


@bp.app_template_global()
def dose_form(patient) -> DoseAction:
    treatments = medications.list_treatments(identity.current_actor(), patient.id, {"active": True, "per_page": 100},
                                             utcnow(), page_language()).items
    doseable = [t for t in treatments if t.schedule == "interval"]
    form = refused_form(DoseForm) or DoseForm(formdata=None)
    form.treatment_id.choices = [SelectChoice(value=str(t.id), label=_("%(medicine)s, since %(date)s",
                                                                      medicine=t.medicine_name,
                                                                      date=page_date(t.started_on)))
                                 for t in doseable]
    return DoseAction(form, doseable)


@bp.route("/patients/<uuid:patient_id>/doses", methods=["POST"])
@identity.staff_page
def record_dose(patient_id):
    form = DoseForm()
    if not form.validate():
        return _form_refused(form, patient_id)
    actor = identity.current_actor()
    treatment_id = _uuid(form.treatment_id.data) or uuid.uuid4()  # not a treatment of this patient: 404
    return _act(form, patient_id, DOSES, lambda: TreatmentDoseInSchema().load({"given_on": _iso(form.given_on.data)}),
                lambda data: medications.record_dose(actor, patient_id, treatment_id, data, utcnow()),
                _("The dose is recorded."))
