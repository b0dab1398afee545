"""Flask, less the costs every request paid for nothing (in-process, at the WSGI call gunicorn
makes: bench/bench_wsgi_floor.py)."""
import sys
from inspect import iscoroutinefunction

from flask import Flask
from flask import Response as _Response
from flask.globals import _cv_request
from flask.sessions import SecureCookieSessionInterface
from flask.signals import appcontext_tearing_down, request_tearing_down
from werkzeug.datastructures import Headers
from werkzeug.http import remove_entity_headers

_sentinel = object()


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the signer and parsing cookies for a
    request that sends no cookie at all (every API call)."""

    def open_session(self, app, request):
        if "HTTP_COOKIE" not in request.environ and app.secret_key:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        # Nothing read, nothing written, nothing to remove: Flask's own would return there too,
        # after reading seven cookie settings.
        if not session and not session.accessed and not session.modified:
            return
        super().save_session(app, session, response)


_REWRITTEN = frozenset(("location", "content-location"))


class Response(_Response):
    """Flask's response, handed to the WSGI server for less: werkzeug copies the headers by
    adding each one again (validating what was validated when it was set) and wraps a body that
    is already a list of bytes in a generator and a closing iterator."""

    def get_wsgi_headers(self, environ):
        items = self.headers._list
        length = False
        for key, _ in items:
            key = key.lower()
            if key in _REWRITTEN:  # werkzeug makes them URIs
                return super().get_wsgi_headers(environ)
            if key == "content-length":
                length = True
        status = self.status_code
        if status < 200 or status == 204 or not (length or status == 304):
            return super().get_wsgi_headers(environ)  # werkzeug removes or works out the length
        headers = Headers()
        headers._list = items.copy()  # the same (name, value) pairs, already checked
        if status == 304:
            remove_entity_headers(headers)
        return headers

    def get_app_iter(self, environ):
        body = self.response
        if (type(body) is list and not self._on_close and not self.direct_passthrough
                and all(type(chunk) is bytes for chunk in body) and environ["REQUEST_METHOD"] != "HEAD"):
            status = self.status_code
            if status >= 200 and status not in (204, 304):
                return body  # what iter_encoded would yield; nothing to close
        return super().get_app_iter(environ)


class _Plan:
    """The request hooks one endpoint runs, in Flask's order, each already through ensure_sync."""

    __slots__ = ("url_values", "before", "after", "teardown")

    def __init__(self, app, endpoint, blueprints):
        def chosen(funcs):
            picked = []
            for func in funcs:
                applies = getattr(func, "applies_to", None)
                if applies is None:
                    picked.append(app.ensure_sync(func))
                elif applies(app, endpoint):  # a hook that only some endpoints need
                    picked.append(app.ensure_sync(func.__wrapped__))
            return tuple(picked)

        first = (None, *reversed(blueprints))
        last = (*blueprints, None)
        self.url_values = tuple(f for name in first for f in app.url_value_preprocessors.get(name, ()))
        self.before = chosen(f for name in first for f in app.before_request_funcs.get(name, ()))
        self.after = chosen(f for name in last for f in reversed(app.after_request_funcs.get(name, ())))
        self.teardown = chosen(f for name in last for f in reversed(app.teardown_request_funcs.get(name, ())))


class StandStrongFlask(Flask):
    session_interface = CookieSessions()
    response_class = Response

    def __init__(self, *args, **kwargs):
        self._plans: dict = {}  # endpoint -> _Plan (Flask's own __init__ calls setup methods)
        self._appcontext_teardown = None  # the teardown_appcontext functions, in Flask's order
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

    # Flask walks its hook tables for the app and each blueprint on every request, three times
    # (before, after, teardown), through the request proxy. The tables cannot change once a
    # request has been served (Flask refuses setup methods then), so each endpoint's hooks are
    # listed once; a setup method called before that forgets the lists.
    def _check_setup_finished(self, f_name: str) -> None:
        super()._check_setup_finished(f_name)
        self._plans.clear()
        self._appcontext_teardown = None

    def _plan(self, request) -> _Plan:
        endpoint = request.url_rule.endpoint if request.url_rule is not None else None
        plan = self._plans.get(endpoint)
        if plan is None:
            plan = self._plans[endpoint] = _Plan(self, endpoint, request.blueprints)
        return plan

    def preprocess_request(self):
        request = _cv_request.get().request
        plan = self._plan(request)
        for url_func in plan.url_values:
            url_func(request.endpoint, request.view_args)
        for before_func in plan.before:
            rv = before_func()
            if rv is not None:
                return rv
        return None

    def process_response(self, response):
        ctx = _cv_request.get()
        for func in ctx._after_request_functions:
            response = self.ensure_sync(func)(response)
        for func in self._plan(ctx.request).after:
            response = func(response)
        if not self.session_interface.is_null_session(ctx._session):
            self.session_interface.save_session(self, ctx._session, response)
        return response

    def do_teardown_request(self, exc=_sentinel):
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        for func in self._plan(_cv_request.get().request).teardown:
            func(exc)
        if request_tearing_down.receivers:
            request_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)

    def do_teardown_appcontext(self, exc=_sentinel):
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        funcs = self._appcontext_teardown
        if funcs is None:
            funcs = self._appcontext_teardown = tuple(
                self.ensure_sync(func) for func in reversed(self.teardown_appcontext_funcs))
        for func in funcs:
            func(exc)
        if appcontext_tearing_down.receivers:
            appcontext_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)
