"""A patient's page: profile, plan, adherence, sessions, DXA, flags, contacts, timeline."""
from flask import render_template

from app.console import identity
from app.console.blueprint import bp
from app.patients import service as patients


@bp.route("/patients/<uuid:patient_id>", methods=["GET"])
@identity.staff_page
def patient(patient_id):
    record = patients.get_patient(identity.current_actor(), patient_id)
    return render_template("console/patient.html", patient=record)
