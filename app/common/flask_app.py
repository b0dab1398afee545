"""Flask, less two costs every request paid for nothing (220 of the 1,639 Python calls of /healthz, in-process)."""
from inspect import iscoroutinefunction

from flask import Flask
from flask.sessions import SecureCookieSessionInterface


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the signer and parsing cookies for a
    request that sends no cookie at all (every API call)."""

    def open_session(self, app, request):
        if "HTTP_COOKIE" not in request.environ and app.secret_key:
            return self.session_class()
        return super().open_session(app, request)


class StandStrongFlask(Flask):
    session_interface = CookieSessions()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._coroutine_code: dict = {}

    def ensure_sync(self, func):
        """Flask asks inspect whether each hook is a coroutine function on every request (16
        times for /healthz). The answer is in the function's code object, which every function
        made by the same `def` shares (after_this_request's closures too), so it is asked once
        per code object, a number the program bounds."""
        code = getattr(func, "__code__", None)  # a bound method lends its function's
        if code is None:
            return super().ensure_sync(func)
        coroutine = self._coroutine_code.get(code)
        if coroutine is None:
            coroutine = self._coroutine_code[code] = iscoroutinefunction(func)
        return super().ensure_sync(func) if coroutine else func
