"""Extensions are created once here and bound to the app in create_app."""
from collections.abc import Mapping
from functools import wraps
from inspect import iscoroutinefunction

import marshmallow as ma
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from flask_smorest.utils import resolve_schema_instance, set_status_and_headers_in_response, unpack_tuple_response
from flask import current_app, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from webargs.flaskparser import FlaskParser
from werkzeug.wrappers import Response as _WerkzeugResponse

from app.errors import ProblemSchema, problem_response


class Base(DeclarativeBase):
    # Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Api(_Api):
    """flask-smorest Api whose every error is RFC 9457 problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):
        return problem_response(error)


_IMMUTABLE = (str, int, float, bool, type(None))

NUL_MESSAGE = "Text cannot contain the NUL character (\\u0000)."


def fields_with_nul(raw, skip=()) -> dict:
    """The field errors of a body's (or query string's) top-level fields holding a NUL anywhere
    (in a text, a key, a nested value), but those in skip: PostgreSQL text cannot store one,
    SQLite can, so refusing it here gives both databases one answer, and a batch item with one
    is refused on its own (not the batch by the database's error). A top-level name with a NUL
    is no field's: the schema refuses it as unknown."""
    if not isinstance(raw, Mapping):
        return {}
    return {field: [NUL_MESSAGE] for field, value in raw.items()
            if isinstance(field, str) and "\0" not in field and field not in skip and _holds_nul(value)}


def _holds_nul(value) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\0" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class Parser(FlaskParser):
    """webargs' parser, which remembers the query arguments of a schema that declares them a
    function of the query string alone (`parse_once_per_query = True`: no callable defaults,
    no hooks or validators that read the clock or the request), so the same query string
    (every client's catalogue page) is not parsed and validated again. Only answers made of
    plain values are kept, and each caller gets its own dict."""

    KEEP = 256

    def parse(self, argmap, req=None, *, location=None, **kwargs):
        if (location not in ("query", "querystring") or not getattr(argmap, "parse_once_per_query", False)
                or kwargs.get("validate") is not None or kwargs.get("error_headers") is not None):
            return super().parse(argmap, req, location=location, **kwargs)
        kept = argmap.__dict__.setdefault("_parsed_queries", {})
        key = (request.environ.get("QUERY_STRING", ""), kwargs.get("unknown"), kwargs.get("error_status_code"))
        found = kept.get(key)
        if found is None:
            found = super().parse(argmap, req, location=location, **kwargs)
            if not isinstance(found, dict) or not all(type(v) in _IMMUTABLE for v in found.values()):
                return found
            if len(kept) >= self.KEEP:
                kept.clear()
            kept[key] = found
        return dict(found)

    def pre_load(self, location_data, *, schema, req, location):
        """A text with a NUL anywhere in a body or a query string is refused by field, before the
        schema (fields_with_nul): PostgreSQL cannot store one and SQLite can, so both databases
        give one answer. Fields a schema names in `checked_on_their_own` (a batch's items, each
        answered alone) are left to their own schema."""
        errors = fields_with_nul(location_data, skip=getattr(schema, "checked_on_their_own", ()))
        if errors:
            raise ma.ValidationError(errors)
        return location_data

    def _raw_load_json(self, req):
        """The body as the request hook parsed it (app/__init__._json_only: by app.json, once, the
        answer cached by werkzeug), not parsed a second time; a body the hook did not parse (none,
        not a write) is read as webargs does."""
        parsed = req._cached_json[False]  # werkzeug's cache of get_json(); Ellipsis until then
        return parsed if parsed is not Ellipsis else super()._raw_load_json(req)


class Blueprint(_Blueprint):
    """The project's Blueprint: customisation of flask-smorest has its home here."""

    ARGUMENTS_PARSER = Parser()

    @staticmethod
    def doc(**kwargs):
        """As flask-smorest's, which wraps the view in a function that only calls it (on every
        request): the documentation is put on the view itself."""

        def decorator(func):
            func._apidoc = _Blueprint.doc(**kwargs)(func)._apidoc  # its copy, with kwargs merged in
            return func

        return decorator

    @staticmethod
    def bearer_auth(func):
        """Document that the operation needs a Bearer token (authenticate applies it)."""
        return Blueprint.doc(security=[{"bearerAuth": []}])(func)

    @staticmethod
    def refresh_auth(func):
        """Document that the operation takes the refresh token (its own scheme)."""
        return Blueprint.doc(security=[{"refreshToken": []}])(func)

    def response(self, status_code, schema=None, **kwargs):
        """As flask-smorest's: the same documentation and the same answers (a Response returned
        as it is, with the status and headers returned beside it; anything else dumped by the
        schema into JSON, status_code unless one is returned), for less per request: no
        ensure_sync (asked once here), no copy of the dump kept for flask-smorest's @etag (not
        used: app/common/conditional.py), no hook for its pagination (app/common/pagination.py)."""
        documenting = super().response(status_code, schema, **kwargs)
        dumper = resolve_schema_instance(schema)
        if dumper is not None and not isinstance(dumper, ma.Schema):  # a reference: docs only
            return documenting

        def decorator(func):
            documented = documenting(func)
            if iscoroutinefunction(func):
                return documented

            @wraps(func)
            def wrapper(*args, **kwargs):
                result = func(*args, **kwargs)
                status = headers = None
                if type(result) is tuple:
                    result, status, headers = unpack_tuple_response(result)
                if isinstance(result, _WerkzeugResponse):
                    set_status_and_headers_in_response(result, status, headers)
                    return result
                response = current_app.json.response(result if dumper is None else dumper.dump(result))
                set_status_and_headers_in_response(response, status, headers)
                if status is None:
                    response.status_code = status_code
                return response

            wrapper._apidoc = documented._apidoc
            return wrapper

        return decorator

    def arguments(self, schema, *args, **kwargs):
        """As flask-smorest's, with a schema class made into one instance here: webargs would
        build a new one on every request (our schemas keep no per-request state)."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)


class _SQLAlchemy(SQLAlchemy):
    def opened_session(self):
        """The session of this app context if one was opened, else None (never opens one): one
        look-up in Flask-SQLAlchemy's registry, a dict by app context (a thread-local registry,
        as tests may swap in, is asked with has())."""
        registry = self.session.registry
        try:
            return registry.registry.get(registry.scopefunc())
        except AttributeError:
            return registry() if registry.has() else None

    def _teardown_session(self, exc) -> None:
        """Flask-SQLAlchemy's, which removes the request's session, without looking for one twice
        when the request opened none (/healthz, a 304 from a cached copy)."""
        if self.opened_session() is not None:
            self.session.remove()


db = _SQLAlchemy(model_class=Base)
migrate = Migrate()
api = Api()
jwt = JWTManager()
limiter = Limiter(key_func=get_remote_address)
