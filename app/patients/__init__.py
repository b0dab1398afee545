"""Patient profiles, care teams, caregivers and the invitations that activate their logins."""
from app.extensions import api


def register(app) -> None:
    from app.access.policy import use_patient_model
    from app.auth.authenticate import load_with_actor
    from app.patients.models import Patient
    from app.patients.routes import activation_blp, blp, me_blp

    use_patient_model(Patient)
    load_with_actor(Patient, Patient.id)
    for blueprint in (activation_blp, me_blp, blp):
        api.register_blueprint(blueprint)
