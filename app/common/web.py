"""Helpers for routes, which read the request so that services never have to."""
from flask import g, request

from app.common.i18n import wanted_language


def requested_language(explicit: str | None = None) -> str | None:
    """What this request asks for: ?lang=, then a staff caller's own language (users.language, as
    the console and their e-mails), then Accept-Language, then English for staff; None when a
    patient or caregiver asks nothing (the service answers in the patient's)."""
    actor = g.get("actor")
    own = getattr(actor, "language", None)  # set for staff accounts only
    return (explicit or own or wanted_language(None, request.accept_languages.values())
            or getattr(actor, "staff_language", None))
