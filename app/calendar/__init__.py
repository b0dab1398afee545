"""The patient's iCalendar feed (booked DXA appointments, due bone treatments) and its token."""
from app.extensions import api


def register(app) -> None:
    from app.auth.signals import logins_ending
    from app.calendar import models  # noqa: F401  (for Alembic)
    from app.calendar.routes import blp
    from app.calendar.service import on_caregiver_revoking, on_logins_ending
    from app.patients.signals import caregiver_revoking

    api.spec.components.security_scheme(  # for phone calendars, which subscribe without a login
        "feedToken", {"type": "apiKey", "in": "query", "name": "token"})
    api.register_blueprint(blp)
    # a token made by a caregiver for the patient, by an account whose password was reset or that
    # was switched off, in a login found stolen, or (by a password change) in another login, is
    # revoked in that transaction (and is not served once its maker's access has ended); a plain
    # logout leaves it
    caregiver_revoking.connect(on_caregiver_revoking)
    logins_ending.connect(on_logins_ending)
