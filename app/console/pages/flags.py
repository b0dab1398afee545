"""Flags: the caseload's list, and acknowledge / resolve from any page that shows one
(templates/console/partials/flag.html). The same services and policy as the API's flag routes."""
import uuid

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE
from sqlalchemy import select
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.audit import service as audit
from app.auth.models import User
from app.common.clock import local_date
from app.common.pagination import paginate
from app.common.types import utcnow
from app.console import evidence, identity
from app.console.blueprint import bp
from app.console.forms import ConsoleForm
from app.console.i18n import page_language
from app.console.labels import outcome_label
from app.console.pages.query import load_args, pager
from app.errors import ApiError
from app.extensions import db
from app.patients.models import Patient
from app.rules import engine
from app.rules import service as rules
from app.rules.definitions import SEVERITIES
from app.rules.schemas import FlagListArgs
from app.rules.service import COORDINATOR_OUTCOMES


def staff_name(user_id) -> str:
    """A staff member's name for "acknowledged by"; a page with many flags primes them at once."""
    if user_id is None:
        return _("someone")
    if str(user_id) == engine.SYSTEM:
        return _("the rules, automatically")
    names = g.setdefault("console_staff_names", {})
    key = uuid.UUID(str(user_id))
    if key not in names:
        prime_staff_names([key])
    return names.get(key) or _("a former staff member")


def prime_staff_names(ids) -> None:
    names = g.setdefault("console_staff_names", {})
    wanted = {uuid.UUID(str(i)) for i in ids if i and str(i) != engine.SYSTEM} - set(names)
    if wanted:
        names.update(dict.fromkeys(wanted))
        names.update(db.session.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).all())


class FlagResolveForm(ConsoleForm):
    outcome = SelectField(_l("Outcome"), validators=[DataRequired()],
                          choices=[SelectChoice(value=o, label=o) for o in COORDINATOR_OUTCOMES])
    note = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=2000)])


@bp.app_context_processor
def _flag_helpers():
    if request.blueprint != "console":
        return {}
    return {"flag_evidence": lambda flag: evidence.rows(flag["evidence"], flag.get("language") or page_language()),
            "flag_outcomes": lambda: [(o, outcome_label(o)) for o in COORDINATOR_OUTCOMES],
            "staff_name": staff_name, "flag_draft": flag_draft, "patient_zone": patient_zone,
            "local_day": lambda moment, zone: local_date(moment, zone) if moment else None}


def patient_zone(patient_id) -> str:
    """The patient's time zone, in which a flag's dates are shown; a page primes it."""
    zones = g.setdefault("console_patient_zones", {})
    key = uuid.UUID(str(patient_id))
    if key not in zones:
        zones[key] = db.session.scalar(select(Patient.time_zone).where(Patient.id == key))
    return zones[key]


def prime_patient_zones(zones: dict) -> None:
    g.setdefault("console_patient_zones", {}).update(zones)


def flag_draft(flag_id) -> dict:
    """What was typed in this flag's resolve form when the page is shown again for its refusal."""
    draft = g.get("console_flag_draft") or {}
    return draft if draft.get("flag_id") == str(flag_id) else {}


# --- the list ------------------------------------------------------------------------------

STATUS_CHOICES = ("active", "open", "acknowledged", "resolved", "all")


@bp.route("/flags", methods=["GET"])
@identity.staff_page
def flags():
    actor = identity.current_actor()
    if actor.role != "coordinator":
        return render_template("console/flags.html", coordinator=False)
    args = load_args(FlagListArgs(unknown=EXCLUDE), ("severity", "rule"), defaults={"status": "active"},
                     means_any={"status": "all"})
    language = page_language()
    page = paginate(rules.caseload_flags(actor, args), args).map(lambda f: rules.flag_view(f, language))
    prime_staff_names([f["acknowledged_by_id"] for f in page.items] + [f["resolved_by"] for f in page.items])
    ids = {f["patient_id"] for f in page.items}
    found = db.session.execute(select(Patient.id, Patient.display_name, Patient.time_zone)
                               .where(Patient.id.in_(ids))).all() if ids else []
    names = {id_: name for id_, name, _zone in found}
    prime_patient_zones({id_: zone for id_, _name, zone in found})  # each flag's dates in its patient's zone
    return render_template("console/flags.html", coordinator=True, page=page, args=args, names=names,
                           **pager(page),
                           severities=SEVERITIES[::-1], statuses=STATUS_CHOICES,
                           rule_choices=[(r["id"], r["title"]) for r in rules.rules_view(actor, language).items])


# --- acting on one flag ----------------------------------------------------------------------

def _back(patient_id) -> str:
    wanted = request.form.get("next")
    target = identity.safe_next(wanted)
    if wanted and target == wanted:
        return target
    return url_for("console.patient", patient_id=patient_id, _anchor="flags")


def _page_again(patient_id, flag_id, form: FlagResolveForm):
    """The patient's page again (422), the flag's resolve form as it was typed: a refused post
    loses no note, and keeps none in a cookie."""
    from app.console.pages.patient import patient as patient_page

    audit.nothing_written()
    g.console_flag_draft = {"flag_id": str(flag_id), "outcome": form.outcome.data or "", "note": form.note.data or "",
                            "errors": {f.name: list(f.errors) for f in (form.outcome, form.note) if f.errors}}
    return patient_page(patient_id), 422


def _already_resolved() -> None:
    flash(_("This flag had been resolved already (by a colleague or by the rules): nothing was changed."), "error")


@bp.route("/patients/<uuid:patient_id>/flags/<uuid:flag_id>/acknowledge", methods=["POST"])
@identity.staff_page
def acknowledge_flag(patient_id, flag_id):
    try:
        rules.acknowledge(identity.current_actor(), patient_id, flag_id, utcnow())
    except ApiError as error:
        if error.code != 409:
            raise
        _already_resolved()
    else:
        flash(_("Flag acknowledged. It stays on the caseload until it is resolved."), "info")
    return redirect(_back(patient_id))


@bp.route("/patients/<uuid:patient_id>/flags/<uuid:flag_id>/resolve", methods=["POST"])
@identity.staff_page
def resolve_flag(patient_id, flag_id):
    form = FlagResolveForm()
    if not form.validate():
        for field in (form.outcome, form.note):
            for error in field.errors:
                flash(_("%(field)s: %(error)s", field=field.label.text, error=error), "error")
        return _page_again(patient_id, flag_id, form)
    try:
        rules.resolve(identity.current_actor(), patient_id, flag_id,
                      {"outcome": form.outcome.data, "note": form.note.data.strip()}, utcnow())
    except ApiError as error:
        if error.code != 409:
            raise
        _already_resolved()
    else:
        flash(_("Flag resolved: %(outcome)s.", outcome=outcome_label(form.outcome.data)), "info")
    return redirect(_back(patient_id))
