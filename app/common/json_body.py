"""Request bodies are parsed once, by a JSON reader that refuses what would break the app later:
nesting deeper than any schema has (Python's parser raises RecursionError, a 500, at about a
thousand levels) and unpaired UTF-16 surrogates ("\\ud800"), which no database can store."""
import json

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32  # the deepest schema (a batch of sessions with measures) nests 5 levels


class BodyError(ValueError):
    """A ValueError, so werkzeug answers 400 and get_json(silent=True) returns None."""


def check_structure(value) -> None:
    """Iterative, so a deep document cannot exhaust the stack here either."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise BodyError(f"The JSON body nests deeper than {MAX_DEPTH} levels.")
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                stack.append((child, depth + 1))
        else:
            stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BodyError("The JSON body contains an unpaired UTF-16 surrogate (such as \\ud800); "
                        "send valid Unicode text.") from None


def loads(data):
    try:
        value = json.loads(data)
    except RecursionError:
        raise BodyError(f"The JSON body nests deeper than {MAX_DEPTH} levels.") from None
    if not _plainly_sound(data):
        check_structure(value)
    return value


def _plainly_sound(data) -> bool:
    """What check_structure would find nothing in, seen from the text at C speed (every write
    request's body; the walk costs a call a string): ASCII with no \\u escape holds no surrogate
    (non-ASCII text, or any escape, is walked), and a document of at most MAX_DEPTH opening
    brackets cannot nest deeper than that (brackets inside strings only count too many). Bytes
    with a NUL are walked: json.loads reads UTF-16 and UTF-32 too, whose ASCII text is ASCII
    bytes with NULs between (a \\u escape there is not the bytes b"\\u"); UTF-8 JSON has none."""
    if isinstance(data, str):
        return data.isascii() and "\\u" not in data and data.count("[") + data.count("{") <= MAX_DEPTH
    if isinstance(data, (bytes, bytearray)):
        return (data.isascii() and b"\\u" not in data and b"\0" not in data
                and data.count(b"[") + data.count(b"{") <= MAX_DEPTH)
    return False


class JSONProvider(DefaultJSONProvider):
    def loads(self, s, **kwargs):
        return loads(s)
