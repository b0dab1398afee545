"""The names of the kinds of exercise (seed/exercises/kinds.yaml), in each language."""
from functools import lru_cache

from app.common.i18n import named_in
from app.common.yaml_files import read_yaml
from app.config import BASE_DIR

KINDS_FILE = BASE_DIR / "seed" / "exercises" / "kinds.yaml"


@lru_cache(maxsize=1)
def kind_names() -> dict[str, dict[str, str]]:
    return read_yaml(KINDS_FILE)


def kind_name(kind: str, language: str) -> str:
    """The kind's name in language (English if it has none there); an unknown kind as it is."""
    return named_in(kind_names().get(kind), language, kind)
