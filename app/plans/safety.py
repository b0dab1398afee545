"""The plan safety check: which warnings a plan raises for a patient, and what saving needs.

Which exercises and patients a warning applies to is decided here (the exercises' safety
flags, the clinical thresholds); its words are data in zh-CN and en
(seed/plans/safety_warnings.yaml)."""
from datetime import date
from functools import lru_cache

from app.audit import service as audit
from app.common.clinical import months_before, threshold
from app.common.i18n import LANGUAGES, choose_language
from app.common.yaml_files import read_yaml
from app.config import BASE_DIR
from app.education import service as education
from app.errors import ApiError
from app.exercises.models import Exercise
from app.patients.models import level_at_or_above
from app.plans.models import PlanItem

WARNINGS_FILE = BASE_DIR / "seed" / "plans" / "safety_warnings.yaml"
SAFETY_MODULE = "safety-standing-and-fes"


@lru_cache(maxsize=1)
def warning_texts() -> dict:
    texts = read_yaml(WARNINGS_FILE)
    for code, by_language in [*texts["warnings"].items(), ("safety_module_note", texts["safety_module_note"])]:
        missing = set(LANGUAGES) - set(by_language)
        if missing:
            raise ValueError(f"plan safety warning {code}: no text in {', '.join(sorted(missing))}")
    return texts


def _message(code: str, language: str, **values) -> str:
    return warning_texts()["warnings"][code][language].format(**values)


def safety_warnings(patient, exercises: list[Exercise], today: date, language: str | None = None) -> list[dict]:
    """language: the reader's (None: en)."""
    language = choose_language(language)
    warnings = []
    ad_level = threshold("autonomic_dysreflexia_min_level")
    upright = sorted({e.slug for e in exercises if "autonomic_dysreflexia" in e.safety})
    if upright and level_at_or_above(patient.neurological_level, ad_level):
        warnings.append({
            "code": "autonomic_dysreflexia", "requires": "acknowledge", "exercises": upright,
            "message": _message("autonomic_dysreflexia", language, level=patient.neurological_level,
                                min_level=ad_level, exercises=", ".join(upright)),
        })
    for code, records in (("recent_fracture", patient.known_fractures),
                          ("recent_clot", patient.known_clots)):
        months = threshold(f"{code}_months")
        since = months_before(today, months)
        recent = [f for f in (records or []) if date.fromisoformat(f["date"]) >= since]
        loading = sorted({e.slug for e in exercises if code in e.safety})
        if loading and recent:
            # A profile change once stored records without a site: named by their date alone.
            sites = ", ".join(f"{f['site']} ({f['date']})" if f.get("site") else f["date"] for f in recent)
            warnings.append({
                "code": code, "requires": "override", "exercises": loading,
                "message": _message(code, language, months=months, sites=sites, exercises=", ".join(loading)),
            })
    return warnings


def check_safety(actor, patient, items: list[PlanItem], data: dict, today: date,
                 language: str | None = None) -> list[str]:
    """The codes acknowledged; 409 listing the warnings when one is not acknowledged (or overridden)."""
    warnings = safety_warnings(patient, [i.exercise for i in items], today, language)
    acknowledged = set(data.get("acknowledge_warnings", []))
    missing = [w for w in warnings if w["code"] not in acknowledged
               or (w["requires"] == "override" and not data.get("override_reason"))]
    if missing:
        raise ApiError(409, "This plan needs safety warnings acknowledged (and contraindications "
                            "overridden with override_reason) before it is saved.",
                       title="Safety warnings", type_slug="plan-safety-warnings", warnings=warnings)
    codes = [w["code"] for w in warnings]
    if "autonomic_dysreflexia" in codes:
        note = warning_texts()["safety_module_note"][choose_language(None, patient.language)]
        education.ensure_recommended(patient.id, SAFETY_MODULE, actor.id, note)
    for code in ("recent_fracture", "recent_clot"):
        if code in codes:
            # The reason is a clinical note: it stays with the plan version, where the care team
            # reads it; the trail (which an admin reads) names the override only.
            audit.record("override", actor, patient_id=patient.id, detail=code)
    return codes
