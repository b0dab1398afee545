"""The coordinators' web console: server-rendered pages over the same services as the API.

Its own session cookie (path /console, HttpOnly, SameSite=Lax, Secure outside development),
CSRF on every form post, Flask-Babel for zh-CN and en. The JSON API never reads the cookie
and the console never reads a Bearer token. register(app) wires it."""


def register(app) -> None:
    from app.console import (  # noqa: F401  (pages: registered on bp)
        errors,
        i18n,
        identity,
        pages,
    )
    from app.console.blueprint import bp

    app.config["SESSION_COOKIE_NAME"] = "standstrong_console"
    app.config["SESSION_COOKIE_PATH"] = "/console"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = app.config["CONSOLE_COOKIE_SECURE"]
    i18n.init_app(app)
    identity.init_app(app)
    errors.init_app(app)
    app.register_blueprint(bp)
