"""The patient's iCalendar feed (booked DXA appointments, due bone treatments) and its token."""
from app.extensions import api


def register(app) -> None:
    from app.calendar import models  # noqa: F401  (for Alembic)
    from app.calendar.routes import blp

    api.spec.components.security_scheme(  # for phone calendars, which subscribe without a login
        "feedToken", {"type": "apiKey", "in": "query", "name": "token"})
    api.register_blueprint(blp)
