"""The console's language: the account's own (users.language), then Accept-Language, then en.
Services take the API's codes (en, zh-CN); Babel takes locales (en, zh_Hans_CN)."""
from pathlib import Path

from flask import g, request
from flask_babel import Babel, get_locale

from app.common.i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALES, long_date, wanted_language

TRANSLATIONS = Path(__file__).parent / "translations"
babel = Babel()


def page_language() -> str:
    """The language of this page, as services take it (en or zh-CN)."""
    actor = g.get("actor")
    chosen = getattr(actor, "language", None)
    if chosen in LANGUAGES:
        return chosen
    return wanted_language(None, request.accept_languages.values()) or DEFAULT_LANGUAGE


def _locale() -> str:
    return LOCALES[page_language()]


def html_lang() -> str:
    return "zh-CN" if str(get_locale()) == LOCALES["zh-CN"] else "en"


def page_date(value) -> str:
    """A date (or an ISO date) in the language Babel renders this page in: templates' long_date."""
    return long_date(value, html_lang())


def init_app(app) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    babel.init_app(app, locale_selector=_locale)
