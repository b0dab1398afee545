"""Conditional requests with werkzeug's rules.

Reads: a route decorated with `conditional` answers 304 when the client's copy is current:
If-None-Match by weak comparison (RFC 9110 13.1.2, so `W/"x"` matches `"x"`), else
If-Modified-Since against Last-Modified. A read's own preconditions come first (RFC 9110
13.2.2): If-Match naming another version (strong comparison; `*` matches), else an
If-Unmodified-Since older than Last-Modified, answer 412 problem+json, never werkzeug's 412
with the body.

Changes (optimistic concurrency): the route passes `request.if_match` to the service, which
calls `require_match` once the policy has let the actor in (an unrelated actor still gets
404), and `advance_revision` in the same transaction, so two coordinators who read the same
version cannot both change it: 428 without If-Match, 412 when it names another version.

Offline sync (sessions) keeps its own answers, because an app coming back online must see the
stored version: its ETag is the integer revision, `if_match_revision` reads it from If-Match (or
the body's base_revision stands in), and a stale or missing one answers 409/428 with `current`.
Both read If-Match here, in one module.
"""
import re
from functools import wraps

from flask import current_app, request
from sqlalchemy import update
from werkzeug.http import http_date, is_resource_modified, parse_date, parse_etags, unquote_etag
from sqlalchemy.orm.attributes import set_committed_value

from app.common.seeding import digest
from app.errors import ApiError
from app.extensions import db

ETAG_HEADER = {"ETag": {"description": "The version of this resource: send it as If-Match to change it",
                        "schema": {"type": "string"}}}
IF_MATCH = {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"},
            "description": "The ETag of the version the change is based on (412 if it changed since)"}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                 "description": "ETags of the cached copy (weak comparison); 304 when one is current"}
IF_MODIFIED_SINCE = {"name": "If-Modified-Since", "in": "header", "required": False,
                     "schema": {"type": "string"}, "description": "304 when not modified since"}
READ_PRECONDITIONS = ("HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE")


def etag_of(*parts) -> str:
    """A strong entity tag (unquoted) for the parts that make the representation."""
    return digest([str(p) for p in parts])[:32]


def conditional(view):
    """304 instead of the body when the request's validators say the cached copy is current."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        response = view(*args, **kwargs)
        if response.status_code == 200:
            environ = request.environ
            if "HTTP_IF_MATCH" in environ or "HTTP_IF_UNMODIFIED_SINCE" in environ:
                environ = _checked_environ(response.headers)
            response.make_conditional(environ)
        return response

    return wrapper


def _checked_environ(headers) -> dict:
    """For a request with If-Match or If-Unmodified-Since: its environ once they passed (412
    problem+json when not), without them: werkzeug would answer its own 412 (with the body) to
    any If-Match, even `*`."""
    environ = request.environ
    etag = headers.get("ETag")
    if "HTTP_IF_MATCH" in environ:
        if_match = parse_etags(environ["HTTP_IF_MATCH"])
        failed = not (if_match.star_tag or (etag is not None and if_match.is_strong(unquote_etag(etag)[0])))
    else:
        since = parse_date(environ["HTTP_IF_UNMODIFIED_SINCE"])  # an invalid date is ignored
        modified = parse_date(headers.get("Last-Modified"))
        failed = since is not None and modified is not None and modified > since
    if failed:
        raise ApiError(412, "This is no longer the version If-Match (or If-Unmodified-Since) names: "
                            "read it again.", title="Precondition Failed")
    return {key: value for key, value in environ.items() if key not in READ_PRECONDITIONS}


def not_modified(headers: dict):
    """The 304 for a view that knows its validators (ETag, Last-Modified in headers) before it
    builds its body: returned instead of the body, it skips the serialising a 304 throws away.
    None when the client's copy is not current (the view answers as usual)."""
    environ = request.environ
    if "HTTP_IF_NONE_MATCH" not in environ and "HTTP_IF_MODIFIED_SINCE" not in environ:
        return None
    if "HTTP_IF_MATCH" in environ or "HTTP_IF_UNMODIFIED_SINCE" in environ:
        environ = _checked_environ(headers)
    if "HTTP_RANGE" in environ or environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
        response = current_app.response_class(status=200, headers=headers, mimetype="application/json")
        response.make_conditional(environ)
        return response if response.status_code == 304 else None
    # What make_conditional decides and answers here (no precondition left, no Range), without building
    # the 200 first: werkzeug's own comparison, the Date it adds.
    if is_resource_modified(environ, headers.get("ETag"), None, headers.get("Last-Modified")):
        return None
    response = current_app.response_class(status=304, headers=headers, mimetype="application/json")
    response.headers["Date"] = http_date()
    return response


_REVISION = re.compile(r'\s*(?:W/)?"?(\d{1,9})"?\s*')


def if_match_revision(message: str) -> int | None:
    """The integer revision an If-Match header names (`"3"`, `W/"3"` or `3`); None without one;
    422 (message) when it is not a revision."""
    value = request.headers.get("If-Match")
    if value is None:
        return None
    found = _REVISION.fullmatch(value)
    if not found:
        raise ApiError(422, message, title="Validation failed", errors={"If-Match": ["Not a revision."]})
    return int(found.group(1))


def require_match(if_match, current_etag: str) -> None:
    """if_match: werkzeug ETags from the request (strong comparison, as RFC 9110 says for If-Match)."""
    if not if_match:
        raise ApiError(428, "Send If-Match with the ETag of the version you are changing (read it first).",
                       title="Precondition Required")
    if not if_match.contains(current_etag):
        raise ApiError(412, "Someone changed this since you read it: read it again, then change it.",
                       title="Precondition Failed")


def advance_revision(row) -> None:
    """Compare-and-set row.revision: moves on only from the revision this change was based on."""
    model = type(row)
    moved = db.session.execute(update(model).where(model.id == row.id, model.revision == row.revision)
                               .values(revision=model.revision + 1)).rowcount
    if not moved:
        raise ApiError(412, "Someone changed this at the same time: read it again, then change it.",
                       title="Precondition Failed")
    set_committed_value(row, "revision", row.revision + 1)
