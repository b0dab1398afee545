"""One error format for every failure: RFC 9457 application/problem+json."""
import logging
import re
import uuid

import marshmallow as ma
from flask import current_app, g, json, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("standstrong.errors")
PROBLEM_MIME = "application/problem+json"
TYPE_BASE = "https://standstrong.example/problems/"


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (documentation only)."""

    type = ma.fields.String(metadata={"description": "A URL naming the kind of problem (its last part is "
                                                     "a stable slug, e.g. `stale-revision`)"})
    title = ma.fields.String()
    status = ma.fields.Integer(metadata={"description": "The HTTP status"})
    detail = ma.fields.String(metadata={"description": "What is wrong, where, and what is expected"})
    instance = ma.fields.String(metadata={"optional": True, "description": "The request's path"})
    request_id = ma.fields.String(metadata={"optional": True})
    errors = ma.fields.Dict(metadata={"optional": True, "description": "Field errors, by field name"})
    retry_after = ma.fields.Integer(metadata={"optional": True, "description": "Seconds, as Retry-After"})


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-").replace("'", "")


def problem(status: int, title: str, detail: str | None = None, *, errors=None,
            headers=None, type_slug: str | None = None, **extra):
    body = {
        "type": TYPE_BASE + (type_slug or _slug(title)),
        "title": title,
        "status": status,
        "detail": detail or title,
    }
    if request:
        body["instance"] = request.path
    if g and getattr(g, "request_id", None):
        body["request_id"] = g.request_id
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = current_app.response_class(
        json.dumps(body), status=status, mimetype=PROBLEM_MIME
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


class ApiError(HTTPException):
    """Raise from a service to answer with a problem; carries its own title and fields."""

    def __init__(self, status: int, detail: str, *, title: str | None = None,
                 errors=None, headers=None, type_slug: str | None = None, **extra):
        self.code = status
        super().__init__(description=detail)
        self.title = title
        self.errors = errors
        self.extra_headers = headers or {}
        self.type_slug = type_slug
        self.extra = extra


def _flatten_webargs(messages):
    """webargs nests messages by location ({"json": {...}}); the app wants fields."""
    if isinstance(messages, dict) and len(messages) == 1:
        (location, inner), = messages.items()
        if location in ("json", "query", "form", "headers", "files") and isinstance(inner, dict):
            return inner
    return messages


_WHERE = {"json": "The JSON body", "query": "The query string", "headers": "A header", "form": "The form",
          "files": "The upload"}


def describe(errors, location: str | None = None) -> str:
    """One sentence that says what is wrong where: the fields and their first message."""
    where = _WHERE.get(location, "The request")
    if not isinstance(errors, dict) or not errors:
        return f"{where} is not valid."
    if set(errors) == {"_schema"} and location == "json":
        return "The JSON body must be an object with the operation's fields (see the API document)."
    parts = []
    for field, messages in list(errors.items())[:5]:
        message = messages
        while isinstance(message, (list, dict)) and message:
            message = message[0] if isinstance(message, list) else next(iter(message.items()))
            if isinstance(message, tuple):  # nested field: name.subfield
                field, message = f"{field}.{message[0]}", message[1]
        parts.append(f"{field}: {message}" if field != "_schema" else str(message))
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"{where} is not valid: " + "; ".join(parts) + more


def _path_parameter_problem():
    """A 404 because a path segment is not what its parameter takes (a UUID): which one."""
    from werkzeug.routing import UUIDConverter

    for rule in current_app.url_map.iter_rules():
        converters = getattr(rule, "_converters", {})
        uuids = [name for name, conv in converters.items() if isinstance(conv, UUIDConverter)]
        if not uuids or request.method not in rule.methods:
            continue
        pattern = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"(?P<\1>[^/]+)", re.escape(rule.rule))
        found = re.fullmatch(pattern, request.path)
        if not found:
            continue
        bad = []
        for name in uuids:
            try:
                uuid.UUID(found.group(name))
            except ValueError:
                bad.append(name)
        if bad:
            return ApiError(404, f"{' and '.join(bad)} in the path must be a UUID "
                                 f"(e.g. 3f2b6c1e-8d4a-4f0e-9b7a-2c5d1e0f9a8b).", title="Not Found",
                            errors={name: ["Not a UUID."] for name in bad}, type_slug="invalid-path-parameter")
    return None


def problem_response(error: HTTPException):
    # Nothing half-written. Through the app, not app.extensions, which imports this module.
    session = current_app.extensions["sqlalchemy"].session
    try:
        session.rollback()
    except Exception:  # a connection that died mid-request: the pool discards it
        session.remove()
    status = error.code or 500
    title = getattr(error, "title", None) or error.name
    detail = error.description
    errors = getattr(error, "errors", None)
    headers = dict(getattr(error, "extra_headers", {}) or {})
    extra = dict(getattr(error, "extra", {}) or {})
    data = getattr(error, "data", None) or {}
    if "messages" in data:
        messages = data["messages"]
        location = next(iter(messages)) if isinstance(messages, dict) and len(messages) == 1 else None
        errors = _flatten_webargs(messages)
        detail = describe(errors, location)
    if status == 404 and request and request.url_rule is None and type(error).__name__ == "NotFound":
        better = _path_parameter_problem()
        if better is not None:
            return problem_response(better)
    if "message" in data:
        detail = data["message"]
    headers.update(data.get("headers") or {})
    if status == 422 and title == error.name:
        title = "Validation failed"
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    if status == 429:
        detail = f"Too many requests: limit {error.description}. Retry later."
    return problem(status, title, detail, errors=errors, headers=headers,
                   type_slug=getattr(error, "type_slug", None), **extra)


DATABASE_RETRY_AFTER_SECONDS = 5


def retry_after(seconds: int) -> dict:
    """The Retry-After header of a problem; the last word on it, whatever else sets one
    (app/common/headers.py)."""
    g.retry_after = int(seconds)
    return {"Retry-After": str(int(seconds))}


def route_of(req) -> str:
    """For logs: the matched route, or the path with every segment that is no route's own word
    masked; never the path itself, which carries patient ids (and, from a careless client, an
    e-mail address or a name)."""
    if req.url_rule is not None:
        return req.url_rule.rule
    words = _route_words(current_app)
    return "/".join(part if not part or part in words else "<masked>" for part in req.path.split("/"))[:200]


def _route_words(app) -> frozenset:
    """The fixed segments of the app's routes ("api", "patients", "calendar.ics"), read once."""
    found = app.extensions.get("route_words")
    if found is None:
        found = app.extensions["route_words"] = frozenset(
            part for rule in app.url_map.iter_rules() for part in rule.rule.split("/") if part and "<" not in part)
    return found


def _db_error_summary(error) -> str:
    """What a database error is, without its message (it quotes the values of the row)."""
    orig = getattr(error, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    diag = getattr(orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) if diag is not None else None
    return " ".join(str(part) for part in (type(orig).__name__, code, constraint) if part)


def client_refusal(error) -> ApiError | None:
    """What a statement the database refused is to the client, when it is the client's: a race on
    a unique key, a conflict (409); a value the database cannot store, bad input (422); None for
    any other error (the database's own trouble). The handlers below and a batch's items answer
    with it alike."""
    from sqlalchemy.exc import DataError, IntegrityError

    if isinstance(error, IntegrityError):
        return ApiError(409, "This conflicts with data stored meanwhile; read it and retry.", title="Conflict")
    if isinstance(error, DataError):
        return ApiError(422, "A value is out of the range the database stores.", title="Validation failed")
    return None


def register_error_handlers(app):
    from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError

    @app.errorhandler(ApiError)
    def _api_error(error):
        return problem_response(error)

    # Safety nets: a race on a unique key, or a value the database refuses, is the client's
    # conflict or bad input, never a 500. Services prevent both where they can.
    @app.errorhandler(IntegrityError)
    def _integrity(error):
        log.warning("integrity error on %s %s: %s", request.method, route_of(request), _db_error_summary(error))
        return problem_response(client_refusal(error))

    @app.errorhandler(DataError)
    def _data(error):
        log.warning("data error on %s %s: %s", request.method, route_of(request), _db_error_summary(error))
        return problem_response(client_refusal(error))

    # The database is down, restarting or unreachable (or, on SQLite, stayed locked past the
    # busy timeout): the client may retry; the pool reconnects by itself (pool_pre_ping).
    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _unavailable(error):
        log.error("database unavailable on %s %s: %s", request.method, route_of(request),
                  _db_error_summary(error))
        retry = DATABASE_RETRY_AFTER_SECONDS
        return problem_response(ApiError(503, "The database is not reachable right now; retry shortly.",
                                         title="Service Unavailable", headers=retry_after(retry),
                                         type_slug="database-unavailable", retry_after=retry))

    @app.errorhandler(Exception)
    def _unexpected(error):
        if isinstance(error, HTTPException):
            return problem_response(error)
        log.exception("unhandled error on %s %s", request.method, route_of(request))
        return problem_response(InternalServerError("An unexpected error occurred."))
