"""Helpers for routes, which read the request so that services never have to."""
from flask import request

from app.common.i18n import wanted_language


def requested_language(explicit: str | None = None) -> str | None:
    """What this request asks for (?lang=, then Accept-Language); None when it asks nothing."""
    return wanted_language(explicit, request.accept_languages.values())
