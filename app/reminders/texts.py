"""Message texts are data (seed/reminders/*.yaml): every kind's subject and text in en and zh-CN.
A payload keeps its dates and times ISO (data for the app); a text writes them for its reader."""
import html
from functools import cache
from pathlib import Path

from app.common.i18n import LANGUAGES, clock_time, long_date, served_language
from app.common.yaml_files import read_yaml

TEXTS_DIR = Path(__file__).resolve().parent.parent.parent / "seed" / "reminders"


@cache
def catalogue() -> dict:
    """{kind: {language: {"subject", "text"}}} from every file under seed/reminders/."""
    kinds: dict = {}
    for path in sorted(TEXTS_DIR.glob("*.yaml")):
        for kind, by_language in (read_yaml(path) or {}).items():
            if kind in kinds:
                raise ValueError(f"{path.name}: kind {kind!r} is defined twice")
            missing = [lang for lang in LANGUAGES if not {"subject", "text"} <= set(by_language.get(lang) or {})]
            if missing:
                raise ValueError(f"{path.name}: {kind!r} lacks subject/text in {', '.join(missing)}")
            kinds[kind] = by_language
    return kinds


# Payload keys whose value is a date ("YYYY-MM-DD") or a wall-clock time ("HH:MM"). Both are
# already the patient's local ones (an appointment's own date and time, a plan item's time in the
# patient's zone, a follow-up date): a text writes them in the reader's language, in no other zone.
DATE_KEYS = frozenset({"date", "due_date", "follow_up_on", "local_date"})
TIME_KEYS = frozenset({"time"})


class _Filled(dict):
    """Placeholders from the payload; a value given per language is taken in the reader's one,
    dates and times as the reader writes them."""

    def __init__(self, payload: dict, language: str):
        super().__init__()
        self.payload, self.language = payload, language

    def __missing__(self, key):
        value = self.payload.get(key, "")
        if isinstance(value, dict) and any(lang in value for lang in LANGUAGES):
            value = value[served_language(self.language, value)]
        if key in DATE_KEYS and value:
            return long_date(value, self.language)
        if key in TIME_KEYS and value:
            return clock_time(value, self.language)
        return value


def render(kind: str, payload: dict, language: str) -> dict:
    """{"subject", "text"} of one notification in language (the other one if a kind lacks it)."""
    texts = catalogue().get(kind)
    if texts is None:
        return {"subject": kind, "text": ""}
    text = texts[served_language(language, texts)]
    filled = _Filled(payload or {}, language)
    return {"subject": text["subject"].format_map(filled), "text": text["text"].format_map(filled)}


def render_bundle(items: list[tuple[str, dict]], language: str) -> dict:
    """One message for several notifications: subject, plain text and HTML."""
    if len(items) == 1:
        one = render(*items[0], language)
        return {**one, "html": _html(one["subject"], one["text"], [], language)}
    head = render("bundle", {"count": len(items)}, language)
    lines = [render(kind, payload, language)["text"] for kind, payload in items]
    text = head["text"] + "\n" + "\n".join(f"- {line}" for line in lines)
    return {"subject": head["subject"], "text": text, "html": _html(head["subject"], head["text"], lines, language)}


def _html(subject: str, text: str, lines: list[str], language: str) -> str:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return (f"<!doctype html><html lang=\"{html.escape(language)}\"><body><h1>{html.escape(subject)}</h1><p>{html.escape(text)}</p>"
            + (f"<ul>{items}</ul>" if items else "") + "</body></html>")
