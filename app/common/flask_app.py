"""Flask, less two costs every request paid for nothing (about a tenth of /healthz)."""
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

SYNC_CACHE_SIZE = 512


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
        self._sync = {}

    def ensure_sync(self, func):
        """Flask asks inspect whether each hook is a coroutine on every request (16 times for
        /healthz); the answer does not change. Bounded: after_this_request passes a new
        function each time."""
        try:
            return self._sync[func]
        except KeyError:
            done = super().ensure_sync(func)
            if len(self._sync) < SYNC_CACHE_SIZE:
                self._sync[func] = done
            return done
        except TypeError:  # unhashable
            return super().ensure_sync(func)
