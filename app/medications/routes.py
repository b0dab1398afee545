from app.auth.authenticate import authenticate, current_actor
from app.common.i18n import LanguageArgs
from app.common.pagination import page_of
from app.common.types import utcnow
from app.extensions import Blueprint
from app.medications import service
from app.medications.schemas import (
    TreatmentDoseInSchema,
    TreatmentDoseListArgs,
    TreatmentDoseRecordedSchema,
    TreatmentDoseSchema,
    TreatmentInSchema,
    TreatmentListArgs,
    TreatmentSchema,
    TreatmentUpdateSchema,
)
from app.common.web import requested_language
from app.patients.service import language_for

blp = Blueprint("medications", __name__, url_prefix="/api/v1/patients/<patient_id>/medications",
                description="Infrequent bone treatments (denosumab, zoledronic acid, a teriparatide course) "
                            "recorded by the care team, with the next due date. Education only: no dosing advice.")


def _language(args) -> str:
    return language_for(current_actor(), requested_language(args.get("lang")))


@blp.route("", methods=["POST"])
@authenticate
@blp.arguments(TreatmentInSchema, example={"medicine": "zoledronic_acid", "started_on": "2026-01-01"})
@blp.arguments(LanguageArgs, location="query")
@blp.response(201, TreatmentSchema)
@blp.alt_response(409, description="The medicine is already being recorded")
def create_treatment(data, args, patient_id):
    now = utcnow()
    treatment, patient = service.create_treatment(current_actor(), patient_id, data, now)
    return service.treatment_view(treatment, patient, now, _language(args))


@blp.route("", methods=["GET"])
@authenticate
@blp.arguments(TreatmentListArgs, location="query")
@blp.response(200, page_of(TreatmentSchema))
def list_treatments(args, patient_id):
    return service.list_treatments(current_actor(), patient_id, args, utcnow(), _language(args))


@blp.route("/<uuid:treatment_id>", methods=["GET"])
@authenticate
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, TreatmentSchema)
def get_treatment(args, patient_id, treatment_id):
    treatment, patient = service.get_treatment(current_actor(), patient_id, treatment_id)
    return service.treatment_view(treatment, patient, utcnow(), _language(args))


@blp.route("/<uuid:treatment_id>", methods=["PATCH"])
@authenticate
@blp.arguments(TreatmentUpdateSchema, example={"end_date": "2027-01-01"})
@blp.arguments(LanguageArgs, location="query")
@blp.response(200, TreatmentSchema)
@blp.alt_response(409, description="Reopened, the treatment would run beside another of the same medicine")
def update_treatment(data, args, patient_id, treatment_id):
    now = utcnow()
    treatment, patient = service.update_treatment(current_actor(), patient_id, treatment_id, data, now)
    return service.treatment_view(treatment, patient, now, _language(args))


@blp.route("/<uuid:treatment_id>/doses", methods=["POST"])
@authenticate
@blp.arguments(TreatmentDoseInSchema, example={"given_on": "2026-06-01"})
@blp.arguments(LanguageArgs, location="query")
@blp.response(201, TreatmentDoseRecordedSchema)
@blp.alt_response(409, description="A dose on this date is already recorded")
def record_dose(data, args, patient_id, treatment_id):
    """Record a dose given; the treatment's next due date follows."""
    now = utcnow()
    dose, treatment, patient = service.record_dose(current_actor(), patient_id, treatment_id, data, now)
    return {"dose": dose, "treatment": service.treatment_view(treatment, patient, now, _language(args))}


@blp.route("/<uuid:treatment_id>/doses", methods=["GET"])
@authenticate
@blp.arguments(TreatmentDoseListArgs, location="query")
@blp.response(200, page_of(TreatmentDoseSchema))
def list_doses(args, patient_id, treatment_id):
    return service.list_doses(current_actor(), patient_id, treatment_id, args)


@blp.route("/<uuid:treatment_id>/doses/<uuid:dose_id>", methods=["DELETE"])
@authenticate
@blp.response(204)
def delete_dose(patient_id, treatment_id, dose_id):
    """Remove a dose recorded in error."""
    service.delete_dose(current_actor(), patient_id, treatment_id, dose_id, utcnow())
