"""Every text of the console is translated into Chinese, and the compiled catalogue is current."""
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "app/console/translations/zh_Hans_CN/LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "lazy_gettext": None,
            "_l": None}


def _source_ids() -> set:
    with open(ROOT / "app/console/babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _po():
    with open(CATALOGUE / "messages.po", "rb") as f:
        return read_po(f, locale="zh_Hans_CN")


def test_every_console_text_has_a_chinese_translation():
    catalogue = _po()
    translated = {m.id if not isinstance(m.id, tuple) else m.id[0]: m for m in catalogue if m.id}
    ids = _source_ids()
    assert len(ids) > 20
    missing = sorted(i for i in ids if i not in translated or not translated[i].string)
    fuzzy = sorted(i for i in ids if i in translated and translated[i].fuzzy)
    assert not missing, f"untranslated (run `make translations`, then translate): {missing}"
    assert not fuzzy, f"fuzzy translations to check: {fuzzy}"


def _key(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value  # plurals: (singular, plural)


def test_the_compiled_catalogue_matches_the_po_file():
    with open(CATALOGUE / "messages.mo", "rb") as f:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(f) if m.id}
    written = {_key(m.id): _key(m.string) for m in _po() if m.id and m.string and not m.fuzzy}
    assert compiled == written, "run `make translations` (pybabel compile) and commit messages.mo"
