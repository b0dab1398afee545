"""Errors on console pages are pages, not problem+json: the status, a title and what to do."""
from flask import render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.errors import log, route_of


def _titles() -> dict:
    return {400: _("The request could not be read"), 403: _("Not allowed"), 404: _("Not found"),
            405: _("Not allowed"), 409: _("Changed meanwhile"), 412: _("Changed meanwhile"),
            422: _("Please check the form"), 423: _("Locked for a while"), 429: _("Too many attempts"),
            503: _("Try again shortly")}


def error_page(status: int, detail: str | None = None):
    title = _titles().get(status, _("Something went wrong"))
    return render_template("console/error.html", status=status, title=title, detail=detail), status


def init_app(bp) -> None:
    @bp.errorhandler(CSRFError)
    def _csrf(_error):
        return error_page(400, _("The form had expired or did not come from this console. "
                                 "Go back, reload the page and send it again."))

    @bp.errorhandler(HTTPException)
    def _http(error):
        if error.code == 404:
            return error_page(404, _("No such patient on your caseload."))
        return error_page(error.code or 500, getattr(error, "description", None))

    @bp.errorhandler(Exception)
    def _unexpected(error):
        from flask import request

        log.exception("unhandled error on %s %s", request.method, route_of(request))
        return error_page(InternalServerError.code)
