"""Clinical thresholds, read from seed/clinical/thresholds.yaml (data with its source)."""
import os
from functools import lru_cache
from pathlib import Path

import yaml

from app.config import BASE_DIR

DEFAULT_PATH = BASE_DIR / "seed" / "clinical" / "thresholds.yaml"


@lru_cache(maxsize=1)
def thresholds() -> dict:
    path = Path(os.environ.get("CLINICAL_THRESHOLDS_FILE", DEFAULT_PATH))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def threshold(name: str):
    return thresholds()[name]["value"]
