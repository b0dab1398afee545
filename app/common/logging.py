"""Structured JSON logs with the request ID; never bodies, tokens, codes or patient data.

A log line names the route (`/api/v1/patients/<patient_id>`), never the path with its ids;
an error names the exception's type and where it happened, never its message, which may
carry the values that caused it (a database error quotes the row). SQL parameters are kept
out of exceptions altogether (`hide_parameters`, app/config.py)."""
import json
import logging
import os
import re
import sys
import time
import traceback

from flask import g, has_request_context, request

from app.errors import route_of

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
def safe_traceback(error: BaseException) -> str:
    parts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        frames = "".join(traceback.format_tb(error.__traceback__))
        parts.append(f"{frames}{type(error).__module__}.{type(error).__qualname__} (message withheld)")
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return "\n-- raised while handling --\n".join(reversed(parts))


_FIELDS = ("method", "route", "status", "duration_ms", "actor_role")


class JsonFormatter(logging.Formatter):
    _second = _stamp = None  # the timestamp is the same for every line within one second

    def _ts(self, record) -> str:
        second = int(record.created)
        if second != self._second:
            self._stamp, self._second = self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), second
        return self._stamp

    def format(self, record):
        entry = {
            "ts": self._ts(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = record.__dict__
        request_id = fields.get("request_id")  # the access line brings its own
        if request_id is None and has_request_context():
            request_id = getattr(g, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for key in _FIELDS:
            if key in fields:
                entry[key] = fields[key]
        if record.exc_info and record.exc_info[1] is not None:
            entry["exc"] = safe_traceback(record.exc_info[1])
        return json.dumps(entry, ensure_ascii=False)


def _not_a_request_line(record) -> bool:
    """The development server's own request lines carry the path with its ids: ours replace them."""
    return record.msg != '"%s" %s %s'


class _StandStrongHandler(logging.StreamHandler):
    """Ours, so that configuring again replaces it and leaves other handlers alone."""


def configure_logging(app):
    level = logging.getLevelName(app.config["LOG_LEVEL"])
    handler = _StandStrongHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(level)
    root = logging.getLogger("standstrong")
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _StandStrongHandler)] + [handler]
    # Never raise a level that was set lower (the test suite reads every record).
    root.setLevel(min(level, root.level) if root.level else level)
    root.propagate = False
    werkzeug = logging.getLogger("werkzeug")
    if _not_a_request_line not in werkzeug.filters:
        werkzeug.addFilter(_not_a_request_line)
    access = logging.getLogger("standstrong.access")

    @app.before_request
    def _start():
        state = g._get_current_object()  # one look-up through the proxy, not one per use
        incoming = request._get_current_object().environ.get("HTTP_X_REQUEST_ID")
        state.request_id = incoming if incoming and _REQUEST_ID.match(incoming) else os.urandom(16).hex()
        state.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        # The X-Request-ID header goes with the other headers (app/common/headers.py).
        if not access.isEnabledFor(logging.INFO):
            return response
        state = g._get_current_object()
        started = getattr(state, "request_started", None)
        actor = getattr(state, "actor", None)
        # Read before a commit expired the account (no query to reload it for a log line).
        role = getattr(state, "actor_role", None) or (actor.role if actor is not None else None)
        # The route, not the path: paths carry patient ids, query strings codes and search terms.
        # The actor's role, not its id: the audit trail ties the request id to the account.
        req = request._get_current_object()
        # The record made here and handed to the handlers, as access.info would, less its search
        # of the stack for the caller's file and line (no line of ours shows them).
        access.handle(access.makeRecord(access.name, logging.INFO, "(unknown file)", 0, "request", (), None, extra={
            "method": req.method,
            "route": route_of(req),
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
            "actor_role": role,
            "request_id": getattr(state, "request_id", None),
        }))
        return response
