from app.auth.authenticate import authenticate, current_actor
from app.common.web import requested_language
from app.common.pagination import page_of, paginate
from app.common.types import utcnow
from app.extensions import Blueprint
from app.patients.service import language_for
from app.rules import service
from app.rules.schemas import FlagAcknowledgeSchema, FlagListArgs, FlagResolveSchema, FlagSchema, RuleArgs, RuleSchema

rules_blp = Blueprint("rules", __name__, url_prefix="/api/v1/rules",
                      description="The rules that raise flags: thresholds and their sources (seed/rules/).")
flags_blp = Blueprint("flags", __name__, url_prefix="/api/v1/flags",
                      description="Flags on your caseload, newest first.")
patient_flags_blp = Blueprint("patient-flags", __name__, url_prefix="/api/v1/patients/<patient_id>/flags",
                              description="A patient's flags: acknowledge, resolve with an outcome and a note.")


@rules_blp.route("", methods=["GET"])
@authenticate
@rules_blp.arguments(RuleArgs, location="query")
@rules_blp.response(200, page_of(RuleSchema))
def list_rules(args):
    return service.rules_view(current_actor(), language_for(current_actor(), requested_language(args.get("lang"))),
                              args)


def _page(stmt, args):
    language = language_for(current_actor(), requested_language(args.get("lang")))
    return paginate(stmt, args).map(lambda f: service.flag_view(f, language))


@flags_blp.route("", methods=["GET"])
@authenticate
@flags_blp.arguments(FlagListArgs, location="query")
@flags_blp.response(200, page_of(FlagSchema))
def caseload_flags(args):
    """?status=active|open|acknowledged|resolved, ?severity= and ?rule= (repeatable)."""
    return _page(service.caseload_flags(current_actor(), args), args)


@patient_flags_blp.route("", methods=["GET"])
@authenticate
@patient_flags_blp.arguments(FlagListArgs, location="query")
@patient_flags_blp.response(200, page_of(FlagSchema))
def patient_flags(args, patient_id):
    return _page(service.patient_flags(current_actor(), patient_id, args), args)


@patient_flags_blp.route("/<uuid:flag_id>/acknowledge", methods=["POST"])
@authenticate
@patient_flags_blp.arguments(FlagAcknowledgeSchema, example={})
@patient_flags_blp.response(200, FlagSchema)
@patient_flags_blp.alt_response(409, description="The flag is resolved")
def acknowledge(_data, patient_id, flag_id):
    """Seen and being handled; it stays active until resolved."""
    flag = service.acknowledge(current_actor(), patient_id, flag_id, utcnow())
    return service.flag_view(flag, language_for(current_actor(), requested_language(None)))


@patient_flags_blp.route("/<uuid:flag_id>/resolve", methods=["POST"])
@authenticate
@patient_flags_blp.arguments(FlagResolveSchema, example={"outcome": "contacted_patient",
                                                         "note": "Called; back to sessions from Monday."})
@patient_flags_blp.response(200, FlagSchema)
@patient_flags_blp.alt_response(409, description="The flag is resolved already")
def resolve(data, patient_id, flag_id):
    """Close the flag with what was done. The same condition is not raised again for the
    rule's quiet period unless it gets worse; a new safety event always raises it again."""
    flag = service.resolve(current_actor(), patient_id, flag_id, data, utcnow())
    return service.flag_view(flag, language_for(current_actor(), requested_language(None)))
