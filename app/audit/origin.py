"""The request an audit event happens under, set by the request hook; None in jobs and CLI."""
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Origin:
    method: str | None = None
    route: str | None = None
    request_id: str | None = None
    client_address: str | None = None
    recorded: bool = False  # did this request record an event in its own transaction?


_origin: ContextVar[Origin | None] = ContextVar("audit_origin", default=None)


def set_origin(origin: Origin | None):
    return _origin.set(origin)


def reset_origin(token) -> None:
    _origin.reset(token)


def current_origin() -> Origin | None:
    return _origin.get()
