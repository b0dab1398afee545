"""The symptom checklist and the safety answers, read from seed/sessions/ (data, not code).

Texts carry placeholders for clinical thresholds and the clinic's emergency number
(app/common/clinical.py fills them). Signs that can mean high or low blood pressure get the
blood-pressure-first answer, which holds the dysreflexia and low-pressure steps as branches.
"""
import re
from functools import lru_cache

from app.common.clinical import emergency_number, fill, threshold
from app.common.i18n import served_language
from app.common.yaml_files import read_yaml
from app.config import BASE_DIR
from app.education.seed import load_references
from app.patients.models import level_at_or_above

SEED = BASE_DIR / "seed" / "sessions"
PERSON = re.compile(r"^(?P<surname>[A-Z][\w'-]+(?: [A-Z][\w'-]+)*) [A-Z]{1,3}$")


@lru_cache(maxsize=1)
def symptoms() -> list[dict]:
    """The checklist, labels filled in (their placeholders hold thresholds only)."""
    entries = read_yaml(SEED / "symptoms.yaml")
    return [{**s, "label": {lang: fill(text, lang) for lang, text in s["label"].items()}} for s in entries]


def symptom_names(language: str) -> dict:
    """{code: the symptom's label in language, else in English}."""
    return {s["code"]: s["label"].get(language, s["label"]["en"]) for s in symptoms()}


def symptom_codes() -> list[str]:
    return [s["code"] for s in symptoms()]


@lru_cache(maxsize=1)
def safety_answers() -> dict:
    return read_yaml(SEED / "safety_answers.yaml")


@lru_cache(maxsize=1)
def weekly_messages() -> dict:
    return read_yaml(SEED / "weekly_messages.yaml")


def alerts_for(reported: list[str], neurological_level: str) -> list[str]:
    """Which safety answers the reported symptoms call for, for this patient: urgent ones first,
    then in the order the symptoms were reported."""
    by_code = {s["code"]: s["alert"] for s in symptoms()}
    answers = safety_answers()
    codes = []
    for symptom in reported:
        alert = by_code.get(symptom)
        level_key = answers[alert].get("min_level_threshold") if alert else None
        if level_key and not level_at_or_above(neurological_level, threshold(level_key)):
            alert = answers[alert].get("below_level")
        if alert and alert not in codes:
            codes.append(alert)
    # An answer that branches to others (measure first, then high or low) already holds them.
    held = {b["answer"] for code in codes for b in answers[code].get("branches", [])}
    codes = [code for code in codes if code not in held]
    return sorted(codes, key=lambda code: answers[code].get("severity", "urgent") != "urgent")


def alert_view(code: str, language: str) -> dict:
    answer = safety_answers()[code]
    lang = served_language(language, [k for k in answer if k in ("en", "zh-CN")])
    text = answer[lang]
    branches = []
    for branch in answer.get("branches", []):
        target = safety_answers()[branch["answer"]][lang]
        branches.append({"when": branch["when"], "answer": branch["answer"],
                         "condition": fill(text["conditions"][branch["when"]], lang),
                         "title": fill(target["title"], lang),
                         "steps": [fill(step, lang) for step in target["steps"]],
                         "card": fill(target["card"], lang) if target.get("card") else None})
    references = _references(answer["references"])
    return {"code": code, "severity": answer.get("severity", "urgent"), "language": lang,
            "title": fill(text["title"], lang), "steps": [fill(step, lang) for step in text["steps"]],
            "branches": branches, "card": fill(text["card"], lang) if text.get("card") else None,
            "emergency_number": emergency_number(),
            "source": "; ".join(_short_citation(r) for r in references),
            "references": [{"key": r["key"], "citation": r["citation"], "url": r["url"]} for r in references]}


@lru_cache(maxsize=1)
def _all_references() -> dict:
    return load_references()


def _references(keys: list[str]) -> list[dict]:
    return [{"key": key, **_all_references()[key]} for key in keys]


def _short_citation(reference: dict) -> str:
    """'Astorino et al. 2013' for a paper, the organisation's name for a guideline."""
    names = [n.strip() for n in (reference.get("authors") or reference["title"]).split(",")]
    person = PERSON.match(names[0])
    who = names[0] if not person else person["surname"] + (" et al." if len(names) > 1 else "")
    return f"{who} {reference['year']}" if reference.get("year") else who
