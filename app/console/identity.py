"""Who is signed in to the console: a login (auth_sessions row) kept in the console's session
cookie, checked on every request exactly as a Bearer token's login is (revoked, expired or
deactivated: signed out). Only staff sign in; the cookie is for /console only."""
import uuid
from datetime import timedelta
from functools import wraps
from urllib.parse import unquote, urlsplit

from flask import current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from app.auth import service as auth
from app.auth.authenticate import load_login
from app.auth.models import AuthSession, User
from app.console.blueprint import bp
from app.errors import ApiError
from app.extensions import db

csrf = CSRFProtect()
STAFF_ROLES = auth.STAFF_ROLES


def sign_in(email: str, password: str, now) -> AuthSession:
    """A console login for a staff account (the API's lockout and failure counting apply)."""
    user = auth.check_credentials(email, password, now)
    if user.role not in STAFF_ROLES:
        db.session.rollback()
        raise ApiError(403, "The console is for care coordinators and administrators; patients and "
                            "caregivers use the app.", title="Forbidden")
    hours = current_app.config["CONSOLE_SESSION_HOURS"]
    _end_previous_login()
    login = auth.open_login(user, now, timedelta(hours=hours), detail="console")
    db.session.commit()
    return login


def _end_previous_login() -> None:
    """Signing in again ends the login this browser's cookie held (in the new login's
    transaction): a copy of the old cookie is signed out, not left live until it expires."""
    previous = _login_id()
    row = db.session.get(AuthSession, previous) if previous is not None else None
    if row is not None:
        auth.revoke_session(row, "console_signed_in_again")


def remember(login: AuthSession) -> None:
    session.clear()  # a new session on sign-in: no fixation
    session["login"] = str(login.id)
    session["account"] = str(login.user_id)


def sign_out() -> None:
    login = _login_id()
    if login is not None:
        row = db.session.get(AuthSession, login)
        if row is not None:
            auth.logout(row)
    session.clear()


def _login_id() -> uuid.UUID | None:
    try:
        return uuid.UUID(session.get("login", ""))
    except (ValueError, TypeError):
        return None


def _load_actor() -> None:
    g.actor = None
    login = _login_id()
    if login is None:
        return
    try:
        account = uuid.UUID(session.get("account", ""))
    except (ValueError, TypeError):
        session.clear()
        return
    if load_login(login, account) is None:
        session.clear()


def current_actor() -> User | None:
    return g.get("actor")


def safe_next(target: str | None) -> str:
    """Only a path inside the console: never another site, nor out of /console by a dot
    segment (browsers resolve "..", "%2e%2e" and drop tabs), nor a header-breaking newline."""
    if target and _inside_console(target):
        return target
    return url_for("console.caseload")


def _inside_console(target: str) -> bool:
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in target):
        return False
    segments = unquote(parts.path).replace("\\", "/").split("/")
    return "." not in segments and ".." not in segments


def staff_page(view):
    """The page needs a signed-in staff member; otherwise to the sign-in page, and back after."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_actor() is None:
            return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def init_app(app) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # the JSON API takes no cookies: only console posts
    csrf.init_app(app)


# The blueprint's hooks are set once, at import: create_app may run many times in one process.
@bp.before_request
def _console_request():
    _load_actor()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def in_console() -> bool:
    """A console page, or a URL under /console that matched none (its error is a console page)."""
    return request.blueprint == "console" or (request.url_rule is None and request.path.startswith("/console/"))


def unmatched_request() -> None:
    """What the blueprint's before_request does, for a URL under /console that matched no page."""
    _load_actor()


@bp.after_request
def page_policy(response):
    # Every asset is the console's own: no script at all, no inline style, forms post here only.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
    response.vary.add("Cookie")
    return response


@bp.app_context_processor
def _page_globals():
    from app.console.forms import LanguageForm, SignOutForm
    from app.console.i18n import html_lang, page_language

    if not in_console():
        return {}
    actor = current_actor()
    header_forms = {}
    if actor is not None:
        header_forms = {"language_form": LanguageForm(language=page_language(), formdata=None),
                        "sign_out_form": SignOutForm(formdata=None)}
    return {"actor": actor, "html_lang": html_lang(), "page_language": page_language(), **header_forms}
