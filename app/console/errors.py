"""Errors on console pages are pages, not problem+json: the status, a title and what to do."""
from flask import current_app, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.console import identity
from app.console.blueprint import bp
from app.errors import log, problem_response, route_of
from app.extensions import db


def _titles() -> dict:
    return {400: _("The request could not be read"), 403: _("Not allowed"), 404: _("Not found"),
            405: _("Not allowed"), 409: _("Changed meanwhile"), 412: _("Changed meanwhile"),
            422: _("Please check the form"), 423: _("Locked for a while"), 429: _("Too many attempts"),
            503: _("Try again shortly")}


def error_page(status: int, detail: str | None = None):
    title = _titles().get(status, _("Something went wrong"))
    return render_template("console/error.html", status=status, title=title, detail=detail), status


# Set once, at import (create_app may run many times in one process).
@bp.errorhandler(CSRFError)
def _csrf(_error):
    return error_page(400, _("The form had expired or did not come from this console. "
                             "Go back, reload the page and send it again."))


@bp.errorhandler(HTTPException)
def _http(error):
    if error.code == 404:
        return error_page(404, _("No such patient on your caseload."))
    return error_page(error.code or 500, getattr(error, "description", None))


def _apps_answer(error):
    """The app's own answer to an error it maps (a database refusal: 409, 422 or 503; logged
    without values, rolled back), or None: app/errors.py decides, the console only shows it."""
    handlers = current_app.error_handler_spec[None][None]
    for cls in type(error).__mro__:
        if cls in (Exception, BaseException):
            return None
        if cls in handlers:
            return handlers[cls](error)
    return None


@bp.errorhandler(Exception)
def _unexpected(error):
    answer = _apps_answer(error)
    if answer is not None:
        page, status = error_page(answer.status_code)
        response = make_response(page, status)
        if "Retry-After" in answer.headers:
            response.headers["Retry-After"] = answer.headers["Retry-After"]
        return response
    db.session.rollback()  # the page itself reads the account
    log.exception("unhandled error on %s %s", request.method, route_of(request))
    return error_page(InternalServerError.code)


def _unmatched(error):
    """A URL under /console that matches no page, or not with this method, is a console page too
    (routing fails before the blueprint is known, so the app's problem+json would answer)."""
    if request.blueprint == "console":
        return _http(error)
    if not identity.in_console():
        return problem_response(error)
    identity.unmatched_request()
    return identity.page_policy(make_response(_http(error)))


def init_app(app) -> None:
    """The app's own handlers (one set per app; the blueprint's are set once, above)."""
    app.register_error_handler(404, _unmatched)
    app.register_error_handler(405, _unmatched)
