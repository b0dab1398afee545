"""The YAML files under seed/, read safely with libyaml's parser when PyYAML has it (the same
documents as yaml.safe_load, about ten times faster: the seed loaders run at every `flask seed`
and the tests load the seed for each test's World)."""
from pathlib import Path

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path | str):
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=SAFE_LOADER)
