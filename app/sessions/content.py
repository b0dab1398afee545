"""The symptom checklist and the safety answers, read from seed/sessions/ (data, not code)."""
from functools import lru_cache

import yaml

from app.common.clinical import threshold
from app.config import BASE_DIR
from app.patients.models import level_at_or_above

SEED = BASE_DIR / "seed" / "sessions"


@lru_cache(maxsize=1)
def symptoms() -> list[dict]:
    return yaml.safe_load((SEED / "symptoms.yaml").read_text(encoding="utf-8"))


def symptom_codes() -> list[str]:
    return [s["code"] for s in symptoms()]


@lru_cache(maxsize=1)
def safety_answers() -> dict:
    return yaml.safe_load((SEED / "safety_answers.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def weekly_messages() -> dict:
    return yaml.safe_load((SEED / "weekly_messages.yaml").read_text(encoding="utf-8"))


def alerts_for(reported: list[str], neurological_level: str) -> list[str]:
    """Which safety answers the reported symptoms call for, for this patient."""
    by_code = {s["code"]: s["alert"] for s in symptoms()}
    codes = []
    for symptom in reported:
        alert = by_code.get(symptom)
        if not alert or alert in codes:
            continue
        level_key = safety_answers()[alert].get("min_level_threshold")
        if level_key and not level_at_or_above(neurological_level, threshold(level_key)):
            continue
        codes.append(alert)
    return codes


def alert_view(code: str, language: str) -> dict:
    answer = safety_answers()[code]
    text = answer.get(language) or answer["en"]
    return {"code": code, "severity": "urgent", "language": language if language in answer else "en",
            "title": text["title"], "steps": text["steps"], "source": answer["source"]}
