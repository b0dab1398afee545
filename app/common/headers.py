"""Headers every answer carries, whatever produced it (a view, an error handler, the limiter)."""
from flask import g

HSTS = "max-age=63072000; includeSubDomains"
RETRY_STATUSES = {423, 429, 503}


def register_response_headers(app) -> None:
    """Call before the extensions are bound: after_request hooks run in reverse order of
    registration, so this one runs last and sees the limiter's headers."""
    production = app.config.get("ENV_NAME") == "production"

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        if response.mimetype in ("application/json", "application/problem+json"):
            headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
        if "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"  # patient data stays out of every cache
        if production:
            headers["Strict-Transport-Security"] = HSTS
        # Flask-Limiter puts its window's Retry-After on every rate-limited route (also on a 200
        # or a 423); only a 429 means that one, and a 423 or 503 keeps the value its body states.
        ours = g.get("retry_after")
        if ours is not None and response.status_code in RETRY_STATUSES:
            headers["Retry-After"] = str(ours)
        elif response.status_code not in RETRY_STATUSES:
            headers.pop("Retry-After", None)
        return response
