"""The rules as data: seed/rules/rules.yaml, with a clinic's overrides (RULES_OVERRIDES_FILE)."""
import os
import string
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec

from app.common.i18n import LANGUAGES, listed, long_date, named_in
from app.common.yaml_files import read_yaml
from app.config import BASE_DIR

DEFAULT_PATH = BASE_DIR / "seed" / "rules" / "rules.yaml"
SEVERITIES = ("info", "warning", "urgent")
RUNS = ("sweep", "on_write")
OVERRIDABLE = {"parameters", "severity", "enabled", "auto_resolve", "suppressed_when_paused",
               "quiet_days_after_review"}


@dataclass(frozen=True)
class Rule:
    id: str
    evaluator: str
    runs: str
    severity: str
    parameters: dict
    source: str
    title: dict
    explanation: dict
    auto_resolve: bool
    suppressed_when_paused: bool
    quiet_days_after_review: int
    enabled: bool = True
    requires: tuple = ()  # domains whose data the rule reads (app/<name>); off while one is missing

    @property
    def available(self) -> bool:
        return all(map(_installed, self.requires))

    def text(self, field: str, language: str, values: dict) -> str:
        texts = getattr(self, field)
        template = texts.get(language) or texts["en"]
        return string.Formatter().vformat(template, (), _Lenient({**self.parameters, **values}))


def _installed(domain: str) -> bool:
    return find_spec(f"app.{domain}") is not None


# Evidence keys whose value is a date (ISO in the evidence): written for the reader in texts.
DATE_KEYS = ("last_session_date", "as_of", "plan_start", "local_date", "due_date", "last_dose_on", "next_due_on",
             "date_from", "date_to")


def text_values(evidence: dict | None, language: str) -> dict:
    """The values a rule's title and explanation take from a flag's evidence (or a rule's
    parameters), for a reader of language: dates in it, symptoms, medicines, DXA sites, kinds of
    scan and of exercise by their names in it, not by their codes; lists as it writes them. Numbers
    stay as the rule found them. The one writer of these values: the API's flags, the care team's
    messages, GET /rules and the console's pages all take them from here."""
    from app.exercises.kinds import kind_name
    from app.sessions import content

    evidence = evidence or {}
    values = {}
    for key, value in evidence.items():
        if key in DATE_KEYS:
            value = long_date(value, language)
        elif key == "dates":
            value = listed((long_date(d, language) for d in value), language)
        elif key == "symptoms":
            labels = content.symptom_names(language)
            value = listed((labels.get(code, code) for code in value), language)
        elif key == "medicine":  # only a medications rule's evidence (`requires: [medications]`)
            from app.medications.catalogue import medicines

            value = named_in((medicines().get(value) or {}).get("name"), language, value)
        elif key == "kind" and _installed("dxa"):  # only a DXA follow-up rule's evidence (`requires: [dxa]`)
            from app.dxa.content import kind_in_text

            value = kind_in_text(value, language)
        elif key == "exercise_kinds":
            value = listed((kind_name(kind, language) for kind in value), language)
        values[key] = ", ".join(map(str, value)) if isinstance(value, list) else value
    # A DXA rule's evidence (scans: site and side) or parameters (site codes); without app/dxa
    # (an optional domain: its rules are off, GET /rules still lists them) the codes stay.
    if "sites" in evidence and _installed("dxa"):
        from app.dxa.content import site_name, site_on_side

        names = [site_on_side(e["site"], e.get("side"), language) if isinstance(e, dict) else site_name(e, language)
                 for e in evidence["sites"]]
        values["site_names"] = listed(names, language)
    return values


class _Lenient(dict):
    def __missing__(self, key):
        return "…"


def _merge(base: dict, override: dict, rule_id: str) -> dict:
    unknown = set(override) - OVERRIDABLE
    if unknown:
        raise ValueError(f"rule {rule_id}: cannot override {', '.join(sorted(unknown))}")
    merged = {**base, **{k: v for k, v in override.items() if k != "parameters"}}
    params = dict(base.get("parameters", {}))
    for key, value in (override.get("parameters") or {}).items():
        if key not in params:
            raise ValueError(f"rule {rule_id}: no parameter {key!r} to override")
        params[key] = value
    merged["parameters"] = params
    return merged


def _build(rule_id: str, data: dict, defaults: dict) -> Rule:
    if data["severity"] not in SEVERITIES or data["runs"] not in RUNS:
        raise ValueError(f"rule {rule_id}: severity one of {SEVERITIES}, runs one of {RUNS}")
    for field in ("title", "explanation"):
        missing = set(LANGUAGES) - set(data[field])
        if missing:
            raise ValueError(f"rule {rule_id}: {field} lacks {', '.join(sorted(missing))}")
    return Rule(id=rule_id, evaluator=data["evaluator"], runs=data["runs"], severity=data["severity"],
                parameters=data.get("parameters", {}), source=" ".join(data["source"].split()),
                title=data["title"], explanation=data["explanation"],
                auto_resolve=bool(data.get("auto_resolve", True)),
                suppressed_when_paused=bool(data.get("suppressed_when_paused", True)),
                quiet_days_after_review=int(data.get("quiet_days_after_review",
                                                     defaults.get("quiet_days_after_review", 7))),
                enabled=bool(data.get("enabled", True)), requires=tuple(data.get("requires", ())))


@lru_cache(maxsize=1)
def _load() -> tuple[dict, dict]:
    seed = read_yaml(DEFAULT_PATH)
    override_path = os.environ.get("RULES_OVERRIDES_FILE")
    overrides = read_yaml(override_path) if override_path else {}
    overrides = overrides or {}
    unknown = set(overrides) - set(seed["rules"]) - {"defaults"}
    if unknown:
        raise ValueError(f"RULES_OVERRIDES_FILE names unknown rules: {', '.join(sorted(unknown))}")
    defaults = {**seed.get("defaults", {}), **overrides.get("defaults", {})}
    rules = {rule_id: _build(rule_id, _merge(data, overrides.get(rule_id) or {}, rule_id), defaults)
             for rule_id, data in seed["rules"].items()}
    return rules, defaults


def all_rules() -> dict[str, Rule]:
    return _load()[0]


def enabled_rules(runs: str | None = None) -> list[Rule]:
    return list(_enabled(runs))


@lru_cache(maxsize=None)
def _enabled(runs: str | None) -> tuple[Rule, ...]:
    # Once per loaded definitions (reload() clears it): every session write asks for the on_write
    # rules, and `available` looks up modules (a process's domains do not change while it runs).
    return tuple(r for r in all_rules().values() if (runs is None or r.runs == runs) and r.enabled and r.available)


def rule(rule_id: str) -> Rule:
    return all_rules()[rule_id]


def setting(name: str):
    return _load()[1][name]


def reload() -> None:
    _load.cache_clear()
    _enabled.cache_clear()
