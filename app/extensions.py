"""Extensions are created once here and bound to the app in create_app."""
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from flask import request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from webargs.flaskparser import FlaskParser

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


class Blueprint(_Blueprint):
    """The project's Blueprint: customisation of flask-smorest has its home here."""

    ARGUMENTS_PARSER = Parser()

    @staticmethod
    def bearer_auth(func):
        """Document that the operation needs a Bearer token (authenticate applies it)."""
        return _Blueprint.doc(security=[{"bearerAuth": []}])(func)

    @staticmethod
    def refresh_auth(func):
        """Document that the operation takes the refresh token (its own scheme)."""
        return _Blueprint.doc(security=[{"refreshToken": []}])(func)

    def arguments(self, schema, *args, **kwargs):
        """As flask-smorest's, with a schema class made into one instance here: webargs would
        build a new one on every request (our schemas keep no per-request state)."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = Api()
jwt = JWTManager()
limiter = Limiter(key_func=get_remote_address)
